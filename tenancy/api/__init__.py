"""Plumbing every app's HTTP API shares: domain errors to HTTP answers (errors.py), rate limits
(ratelimit.py), idempotency receipts (idempotency.py)."""
