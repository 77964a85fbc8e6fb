"""Bench-only Django settings: the dev settings plus a URLconf with a trivial baseline view.

Used by the benchmarks in this folder (DJANGO_SETTINGS_MODULE=bench.settings); never by the app.
DEBUG is off because the baseline must be measured as production runs Django (no per-query
log, no debug pages), and the channel layer gets a prefix of its own so a benchmark on the
machine's shared Redis never meets another run's groups."""

if __name__ == "__main__":  # `make bench` runs every bench/*.py; this one is not a benchmark
    raise SystemExit(0)

import os

from config.settings.dev import *  # noqa: F403
from config.settings.dev import CHANNEL_LAYERS, LOGGING, REDIS_URL

DEBUG = False
ROOT_URLCONF = "bench.urls"
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = "doorstep-bench:"
if os.environ.get("DOORSTEP_BENCH_AS_DEPLOYED") != "1":
    # Work-around of a bug in config/settings/base.py (reported, not fixed here): redis-py 8
    # reads with a 5 s socket timeout by default, the very 5 s channels_redis blocks in
    # BZPOPMIN, so a websocket consumer that gets no message for 5 s dies with 1011.
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [{"address": REDIS_URL, "socket_timeout": 15}]
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "doorstep-bench",
    }
}
LOGGING["root"]["level"] = "WARNING"
