"""Helpers for tests that run the real servers (embedded PostgreSQL, Redis, Daphne)."""
