"""Django's Redis cache with its connection pools and clients shared by the whole process.

Django keeps a cache object per async context, and an ASGI request is a context of its own:
each request built a new client with new connection pools, so every request that used the
cache (each API call counts its rate limits there) opened a new TCP connection to Redis and
closed it again, ~3 ms of CPU (docs/benchmarks.md, "API load"). redis-py's pools and clients
are thread-safe, so one per server and options serves every request of the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

# (servers, pool class, options) -> {server index: pool}, and pool -> its client.
_POOLS: dict[tuple[Any, ...], dict[int, Any]] = {}
_CLIENTS: dict[Any, Any] = {}
_LOCK = threading.Lock()


class SharedRedisCacheClient(RedisCacheClient):
    # Django's own attributes (not in its type stubs).
    _servers: list[str]
    _pool_class: Any
    _pool_options: dict[str, Any]
    _pools: dict[int, Any]
    _client: Any
    _get_connection_pool_index: Callable[[bool], int]

    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        shape = (tuple(servers), self._pool_class, repr(sorted(self._pool_options.items())))
        with _LOCK:
            self._pools = _POOLS.setdefault(shape, {})

    def _get_connection_pool(self, write: bool) -> Any:
        index = self._get_connection_pool_index(write)
        pool = self._pools.get(index)
        if pool is None:
            with _LOCK:
                pool = self._pools.get(index)
                if pool is None:
                    pool = self._pool_class.from_url(self._servers[index], **self._pool_options)
                    self._pools[index] = pool
        return pool

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = _CLIENTS.get(pool)
        if client is None:
            client = _CLIENTS.setdefault(pool, self._client(connection_pool=pool))
        return client


class SharedPoolRedisCache(RedisCache):
    """settings.CACHES backend: `config.cache.SharedPoolRedisCache`, options as Django's."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedRedisCacheClient
