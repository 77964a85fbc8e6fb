"""The Redis cache backend (config/cache.py): every cache object of the process, whatever its
context, talks to Redis through one connection pool and one client."""

from __future__ import annotations

import contextvars
from typing import Any

from django.core.cache import cache, caches

from config.cache import SharedPoolRedisCache


def in_a_fresh_context() -> Any:
    # A context of its own, as each ASGI request has: Django builds the cache object anew.
    return contextvars.Context().run(lambda: caches["default"])


def test_requests_share_the_pool_and_the_client() -> None:
    first, second = in_a_fresh_context(), in_a_fresh_context()
    assert isinstance(first, SharedPoolRedisCache)
    assert first is not second
    assert first._cache.get_client(write=True) is second._cache.get_client(write=True)
    pool = first._cache.get_client(write=True).connection_pool
    assert pool is second._cache._get_connection_pool(True)


def test_the_cache_still_reads_and_writes() -> None:
    cache.set("cache-pools-test", {"n": 1}, 30)
    assert in_a_fresh_context().get("cache-pools-test") == {"n": 1}
    assert cache.add("cache-pools-counter", 0, 30)
    assert in_a_fresh_context().incr("cache-pools-counter") == 1
    cache.delete_many(["cache-pools-test", "cache-pools-counter"])
