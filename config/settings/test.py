import os
from urllib.parse import urlsplit, urlunsplit

from config.queues import kombu_queues

from .base import *  # noqa: F403
from .base import CACHES, CHANNEL_LAYERS, DATABASES, REDIS_URL, database_for, env, env_bool

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# pytest-django creates and migrates the test database as the owner; tests/conftest.py then
# switches the connection to the application role. Servers and workers that tests start run
# as the application role from the start (DOORSTEP_DB_AS_OWNER=0 in their environment).
DATABASES["default"] = database_for(as_owner=env_bool("DOORSTEP_DB_AS_OWNER", True))
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["TEST"] = {"NAME": env("DOORSTEP_TEST_DB", "test_doorstep")}
CELERY_TASK_ALWAYS_EAGER = False
# A server a test starts (Daphne) sends its tasks (the outbox relay nudge) to the private queue
# of the test's own Celery worker (tests/support/celery.py), not to the shared default one.
CELERY_TASK_DEFAULT_QUEUE = env("DOORSTEP_TEST_CELERY_QUEUE", "celery")
CELERY_TASK_QUEUES = kombu_queues(CELERY_TASK_DEFAULT_QUEUE)
# Tests build the alert rules they need (tests/alerts/test_defaults.py installs the set).
ALERTS_DEFAULT_RULES_ON_CREATE = env_bool("DOORSTEP_ALERTS_DEFAULT_RULES", False)
AXES_FAILURE_LIMIT = 5
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests run the real server (Daphne) with DEBUG off; serve static files straight from the apps.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Under pytest-xdist each worker gets a Redis database of its own for the cache: tests that
# clear the cache (FLUSHDB) must not empty the other worker's (e.g. a stored import preview).
# Servers a test starts inherit PYTEST_XDIST_WORKER, so they share their worker's cache.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist_worker.startswith("gw") and _xdist_worker[2:].isdigit():
    _redis = urlsplit(REDIS_URL)
    _base_db = int(_redis.path.strip("/") or 0)
    _cache_db = (_base_db + 1 + int(_xdist_worker[2:])) % 16
    CACHES["default"]["LOCATION"] = urlunsplit(_redis._replace(path=f"/{_cache_db}"))
    # Both workers' test databases number their organizations from 1, so the same group name
    # ("org-1-...") would carry one worker's frames to the other worker's sockets: each worker
    # (and the servers it starts) gets a channel-layer prefix of its own.
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"asgi-{_xdist_worker}"  # type: ignore[index]

# The API's rate limits would trip over a whole suite sending from 127.0.0.1; the tests of the
# limits (tests/tenancy/test_api_contract.py) set small limits of their own.
API_RATE_LIMIT_PER_TOKEN = int(env("DOORSTEP_API_RATE_LIMIT_PER_TOKEN", "1000000"))
API_RATE_LIMIT_PER_IP = int(env("DOORSTEP_API_RATE_LIMIT_PER_IP", "1000000"))
API_BAD_TOKENS_PER_IP = int(env("DOORSTEP_API_BAD_TOKENS_PER_IP", "1000000"))
