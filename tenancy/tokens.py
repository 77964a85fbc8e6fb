"""How every bearer credential (API tokens, device tokens) is stored: one hash for all of them,
so the lookup on the request path and the write in the admin can never disagree."""

from __future__ import annotations

import hashlib


def token_hash(token: str) -> str:
    """The hex SHA-256 of the token, as the `token_hash` columns store it.

    Tokens are long random strings, so a fast unsalted hash is enough (no password stretching)
    and keeps the per-request check cheap. Changing the algorithm would orphan every stored hash.
    """
    return hashlib.sha256(token.encode()).hexdigest()
