"""Bench-only Django settings: the dev settings plus a URLconf with a trivial baseline view.

Used by the benchmarks in this folder (DJANGO_SETTINGS_MODULE=bench.settings); never by the app.
DEBUG is off because the baseline must be measured as production runs Django (no per-query
log, no debug pages), and the channel layer gets a prefix of its own so a benchmark on the
machine's shared Redis never meets another run's groups."""

if __name__ == "__main__":  # `make bench` runs every bench/*.py; this one is not a benchmark
    raise SystemExit(0)


import os

from config.queues import kombu_queues
from config.settings.dev import *  # noqa: F403
from config.settings.dev import CHANNEL_LAYERS, LOGGING, REDIS_URL

DEBUG = False
ROOT_URLCONF = "bench.urls"
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = "doorstep-bench:"
CACHES = {
    "default": {
        "BACKEND": "config.cache.SharedPoolRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "doorstep-bench",
    }
}
LOGGING["root"]["level"] = "WARNING"

# A benchmark's own Celery worker consumes a private queue: the tasks its Daphne sends (the
# outbox relay nudged after each ingest flush) must go there, not to a shared "celery" queue.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("DOORSTEP_BENCH_CELERY_QUEUE", "celery")
CELERY_TASK_QUEUES = kombu_queues(CELERY_TASK_DEFAULT_QUEUE)
