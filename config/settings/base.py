"""Settings shared by every environment. Everything that differs per deployment comes from env vars."""

import os
import sys
from pathlib import Path
from typing import Any

from csp.constants import NONE, SELF

from config.csp import tile_source
from config.database import database_settings, serves_asgi
from config.queues import kombu_queues

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    return env(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


SECRET_KEY = env("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "config.admin.DoorstepAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "channels",
    "axes",
    "tenancy",
    "fleet",
    "deliveries",
    "alerts",
    "reporting",
    "console",
    "demo",
]

MIDDLEWARE = [
    # Outermost: every answer under /api/ (even Django's 404 and 500 pages) is JSON, errors
    # are problem details, reads carry an ETag; per-address rate limit (tenancy/api/).
    "tenancy.api.middleware.ApiMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "tenancy.middleware.OrganizationScopeMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenancy.context_processors.organization",
                "alerts.context_processors.open_alerts",
            ],
        },
    },
]

# --- Services -------------------------------------------------------------------------------
# Three database roles (docs/tenancy.md). DATABASE_URL names the database and its OWNER, who
# runs migrations and sets up row-level security. The application connects to the same database
# as DOORSTEP_DB_APP_USER (owns nothing, not a superuser; DATABASE_APP_URL overrides the whole
# connection), the ingest writer as DOORSTEP_DB_INGEST_USER. Commands that change the schema
# connect as the owner (OWNER_COMMANDS, or DOORSTEP_DB_AS_OWNER=1).
DATABASE_URL = env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/doorstep")
DB_APP_USER = env("DOORSTEP_DB_APP_USER", "doorstep_app")
DB_INGEST_USER = env("DOORSTEP_DB_INGEST_USER", "doorstep_ingest")
DB_OPERATOR_ROLE = "doorstep_operator"
OWNER_COMMANDS = {"migrate", "db_roles", "flush", "sqlflush", "createcachetable", "dbshell"}
DB_AS_OWNER = env_bool("DOORSTEP_DB_AS_OWNER", len(sys.argv) > 1 and sys.argv[1] in OWNER_COMMANDS)
# Web processes share a bounded pool of DOORSTEP_DB_POOL_SIZE connections each (0: no pool, the
# old per-thread persistent connections); a request that waits DOORSTEP_DB_POOL_TIMEOUT seconds
# for one is answered 503. Other processes keep one persistent connection. See
# config/database.py for why, docs/scaling.md for the budget.
DB_POOL_SIZE = int(env("DOORSTEP_DB_POOL_SIZE", "10"))
DB_POOL_TIMEOUT = float(env("DOORSTEP_DB_POOL_TIMEOUT", "10"))
# Requests a web process runs at once (config/asgi_handler.py, Admission; 0: no limit), and
# after how many seconds a running request stops counting (a slow one does not hold up the
# quick ones longer than that).
WEB_REQUESTS_AT_ONCE = int(env("DOORSTEP_WEB_REQUESTS_AT_ONCE", "4"))
WEB_SLOW_REQUEST_SECONDS = float(env("DOORSTEP_WEB_SLOW_REQUEST_SECONDS", "0.1"))


def database_for(*, as_owner: bool) -> dict[str, Any]:
    """DATABASES["default"]: the owner's connection for schema commands, else the app role's."""
    app_url = env("DATABASE_APP_URL")
    config: dict[str, Any] = database_settings(
        app_url if app_url and not as_owner else DATABASE_URL,
        pool_size=DB_POOL_SIZE,
        pool_timeout=DB_POOL_TIMEOUT,
        web=serves_asgi(sys.argv) and not as_owner,
        application_name=env("DOORSTEP_DB_APPLICATION_NAME"),
    )
    if not as_owner and not app_url:
        config["USER"] = DB_APP_USER
        config["PASSWORD"] = env("DOORSTEP_DB_APP_PASSWORD")
    # tenancy.db keeps each connection's tenant settings in step with the tenant context.
    config["ENGINE"] = "tenancy.db"
    config["DOORSTEP_AS_OWNER"] = as_owner
    return config


DATABASES = {"default": database_for(as_owner=DB_AS_OWNER)}
# The ingest writer's own login (BYPASSRLS, grants on the tables it writes; docs/tenancy.md).
DB_INGEST = {"USER": DB_INGEST_USER, "PASSWORD": env("DOORSTEP_DB_INGEST_PASSWORD")}
# First in line after static files: the request takes its pooled connection before any other
# middleware needs one, so a full pool is a clean 503 (config/middleware.py).
MIDDLEWARE.insert(
    MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware") + 1,
    "config.middleware.DatabaseBusyMiddleware",
)

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 reads with a 5 s socket timeout by default, the same 5 s that
            # channels_redis blocks on BZPOPMIN: an idle screen's consumer would die of it.
            # A short connect timeout keeps a Redis outage from stalling the live push.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 2}],
            "capacity": 2000,
            "expiry": 30,
        },
    }
}

CACHES = {
    "default": {
        "BACKEND": "config.cache.SharedPoolRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "doorstep",
    }
}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task acknowledged late whose worker died is handed out again after this many seconds
# (Redis has no consumer liveness of its own). Keep it above the longest task.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": float(env("DOORSTEP_CELERY_VISIBILITY_TIMEOUT", "3600"))
}
# Queues per concern (config/queues.py): the outbox relay and the streaming evaluation apart
# from the rest; a worker started without -Q consumes all of them.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = ("config.queues.route_task",)
CELERY_TASK_QUEUES = kombu_queues(CELERY_TASK_DEFAULT_QUEUE)
# One message reserved per pool process: with late acknowledgement a process takes its next
# task when it finished one, so a relay waits for at most one evaluation, not a prefetched
# batch of them (and a killed process holds back one message, not four).
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "vehicles-offline": {"task": "fleet.mark_offline", "schedule": 30.0},
    "position-partitions": {"task": "fleet.maintain_position_partitions", "schedule": 3600.0},
    "route-etas": {"task": "deliveries.route_etas_refresh_moved", "schedule": 20.0},
    "demo-progress": {"task": "deliveries.demo_progress", "schedule": 15.0},  # demo/tasks.py
    "webhooks-resend-due": {"task": "deliveries.webhook_resend_due", "schedule": 60.0},
    # Relays events whose on-commit message was lost (broker down, worker killed).
    "outbox-relay-sweep": {"task": "outbox.relay_sweep", "schedule": 10.0},
    # Time-based alert kinds, auto-resolution and escalation, one task per organization.
    "alerts-sweep": {"task": "alerts.sweep", "schedule": 15.0},
    "rollups-yesterday": {"task": "reporting.rollups_compute_yesterday", "schedule": 3600.0},
    # Scheduled reports: each organization's closed periods are built and emailed within a
    # minute or two of closing (reporting/reports/services.py).
    "report-schedules": {"task": "reporting.report_schedules_tick", "schedule": 60.0},
    # Days marked dirty by late fixes or corrected orders (reporting/dirty.py).
    "rollups-dirty": {"task": "reporting.rollups_dirty_sweep", "schedule": 300.0},
    # Idempotency receipts past their retention (API 24 h, driver actions 7 days).
    "receipts-prune": {"task": "tenancy.receipts_prune", "schedule": 3600.0},
}
# The report archive (export and scheduled runs, with their files) keeps this many days.
REPORTS_RETENTION_DAYS = int(env("DOORSTEP_REPORTS_RETENTION_DAYS", "90"))
# A new organization gets alerts' default rule set (alerts/defaults.py); tests turn it off
# and build the rules they need.
ALERTS_DEFAULT_RULES_ON_CREATE = env_bool("DOORSTEP_ALERTS_DEFAULT_RULES", True)
# Domain events (tenancy/outbox, docs/outbox.md): a failing subscriber is retried after
# base x 1, 2, 4, ... seconds (at most an hour) until OUTBOX_MAX_ATTEMPTS attempts failed.
OUTBOX_RETRY_BASE_SECONDS = float(env("DOORSTEP_OUTBOX_RETRY_BASE_SECONDS", "5"))
OUTBOX_MAX_ATTEMPTS = int(env("DOORSTEP_OUTBOX_MAX_ATTEMPTS", "12"))
# Outgoing webhooks (deliveries/services/webhooks.py): retries wait base x 1, 3, 12, 60, 360, 720, 1440
# (10 s … 4 h with the default), until WEBHOOK_MAX_ATTEMPTS attempts have failed.
WEBHOOK_RETRY_BASE_SECONDS = float(env("DOORSTEP_WEBHOOK_RETRY_BASE_SECONDS", "10"))
WEBHOOK_MAX_ATTEMPTS = int(env("DOORSTEP_WEBHOOK_MAX_ATTEMPTS", "8"))
WEBHOOK_TIMEOUT_SECONDS = float(env("DOORSTEP_WEBHOOK_TIMEOUT_SECONDS", "10"))
# Off: endpoints resolving to loopback/private/link-local addresses are refused (tenant admins
# choose the URLs). Turn on for a receiver on your own machine or network.
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("DOORSTEP_WEBHOOK_ALLOW_PRIVATE_URLS", DEBUG)

# Alert notifications (alerts/notifications/): more than ALERTS_STORM_THRESHOLD alerts of one
# rule opening within ALERTS_STORM_WINDOW_SECONDS become one grouped message per person.
ALERTS_STORM_THRESHOLD = int(env("DOORSTEP_ALERTS_STORM_THRESHOLD", "5"))
ALERTS_STORM_WINDOW_SECONDS = int(env("DOORSTEP_ALERTS_STORM_WINDOW_SECONDS", "60"))
ALERTS_EMAIL_MAX_ATTEMPTS = int(env("DOORSTEP_ALERTS_EMAIL_MAX_ATTEMPTS", "6"))
CELERY_BEAT_SCHEDULE["alerts-notifications-tick"] = {
    "task": "alerts.notifications_tick",
    "schedule": 60.0,
}

# --- Email ----------------------------------------------------------------------------------
# SMTP from the environment. With DEBUG (make run) the default is the local sink that
# scripts/devstack.py starts on 127.0.0.1:1025 (scripts/mail_sink.py), so every message the
# demo sends can be read; admins also see each alert email on /alerts/emails/.
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("DJANGO_EMAIL_HOST", "127.0.0.1" if DEBUG else "localhost")
EMAIL_PORT = int(env("DJANGO_EMAIL_PORT", "1025" if DEBUG else "25"))
EMAIL_HOST_USER = env("DJANGO_EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("DJANGO_EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("DJANGO_EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = float(env("DJANGO_EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", "Doorstep <alerts@doorstep.localhost>")
DOORSTEP_EMAIL_MESSAGE_ID_DOMAIN = env("DOORSTEP_EMAIL_MESSAGE_ID_DOMAIN", "doorstep.localhost")
# Links in emails point here.
DOORSTEP_PUBLIC_URL = env("DOORSTEP_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Auth -----------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: lock a username+client-IP pair after 5 failures for 15 minutes.
AXES_FAILURE_LIMIT = int(env("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The client's address as our own proxies report it (DOORSTEP_TRUSTED_PROXIES), the same one
# the tracking page's rate limit uses: behind a proxy REMOTE_ADDR is the proxy for everyone.
AXES_CLIENT_IP_CALLABLE = "tenancy.api.ratelimit.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLE_ADMIN = False  # lockouts are cleared with `manage.py axes_reset`, not in tenant admin
AXES_VERBOSE = False

# Open websockets (the live map) re-check their session this often, for changes no event
# announces, e.g. a session deleted in the database; logout, password changes, deactivation
# and membership changes close them at once (tenancy/sessions.py).
LIVE_SESSION_RECHECK_SECONDS = float(env("DOORSTEP_LIVE_SESSION_RECHECK_SECONDS", "30"))

# --- i18n / time ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static / media -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("DOORSTEP_MEDIA_ROOT", str(BASE_DIR / ".data" / "media")))
STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Proof-of-delivery files: local disk by default; DOORSTEP_STORAGE=s3 puts them in an
# S3-compatible bucket (needs boto3, see docs/driver-app.md). Either way they are served only
# through the access-checked views of deliveries/views/pod.py, never from MEDIA_URL.
if env("DOORSTEP_STORAGE", "local") == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env("AWS_S3_REGION_NAME") or None,
            "access_key": env("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env("AWS_SECRET_ACCESS_KEY") or None,
            "location": env("AWS_LOCATION", ""),
            "default_acl": "private",
            "file_overwrite": False,
        },
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Integrations: `Authorization: Token <token>` (tried first, so no CSRF for them).
        "tenancy.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["tenancy.api.filters.StrictFilterBackend"],
    # JSON only: an error is never an HTML page (problem+json is accepted as well).
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "tenancy.api.renderers.ProblemJSONRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "tenancy.api.schema.ApiAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "tenancy.api.pagination.KeysetPagination",
    "PAGE_SIZE": 100,
    # Domain errors (tenancy/errors.py) answer with their status: tenancy/api/errors.py.
    "EXCEPTION_HANDLER": "tenancy.api.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Doorstep API",
    "DESCRIPTION": "Last-mile delivery: fleet, tracking, deliveries.",
    "VERSION": "0.1.0",
    # Swagger UI from the installed package, never from a CDN: consoles run on closed networks.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name per choice set, wherever a serializer offers it; several resources have a
    # `status`: each enum keeps its own name.
    "ENUM_NAME_OVERRIDES": {
        "TokenScopeEnum": "tenancy.api.models.Scope.choices",
        "WebhookEventEnum": "deliveries.models.webhooks.WebhookEvent.choices",
        "RouteStatusEnum": "deliveries.models.routes.Route.Status",
        "VehicleTypeEnum": "fleet.models.vehicles.Vehicle.Type",
        "ZoneKindEnum": "fleet.models.hubs.Zone.Kind",
        # The zone writes' GeoJSON `type` members (each a one-value enum).
        "GeoJsonFeatureTypeEnum": [("Feature", "Feature")],
        "GeoJsonPolygonTypeEnum": [("Polygon", "Polygon")],
        "GeoJsonMultiPolygonTypeEnum": [("MultiPolygon", "MultiPolygon")],
    },
    # Every operation documents the plumbing's answers (problems, 429, ETag): tenancy/api/schema.py.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tenancy.api.schema.problem_responses",
    ],
}
# API rate limits (tenancy/api/; docs/api.md): requests per period per token, per client
# address, and wrong tokens per address before that address is slowed down with 429s.
API_RATE_LIMIT_PERIOD = int(env("DOORSTEP_API_RATE_LIMIT_PERIOD", "60"))
API_RATE_LIMIT_PER_TOKEN = int(env("DOORSTEP_API_RATE_LIMIT_PER_TOKEN", "1200"))
API_RATE_LIMIT_PER_IP = int(env("DOORSTEP_API_RATE_LIMIT_PER_IP", "3000"))
API_BAD_TOKENS_PER_IP = int(env("DOORSTEP_API_BAD_TOKENS_PER_IP", "20"))

# --- Doorstep -------------------------------------------------------------------------------
# Base map. Default: OpenStreetMap's standard tiles with attribution, as its usage policy asks.
# On closed networks point this at a self-hosted tile server (or leave empty: the map draws
# the vector base layer below, hubs and zones so it stays readable without tiles).
MAP_TILE_URL = env("DOORSTEP_MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
MAP_TILE_ATTRIBUTION = env(
    "DOORSTEP_MAP_TILE_ATTRIBUTION",
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
)
# A GeoJSON of roads the map draws under everything, for when tiles do not load. The demo app
# serves its simulated road network there; without the demo app there is none ("").
MAP_BASE_LAYER_URL = env(
    "DOORSTEP_MAP_BASE_LAYER_URL", "/map/roads.geojson" if "demo" in INSTALLED_APPS else ""
)
# Public tracking page (/track/<code>/ and its polling): requests per client IP per minute.
TRACKING_RATE_LIMIT_PER_MINUTE = int(env("DOORSTEP_TRACKING_RATE_LIMIT_PER_MINUTE", "60"))
# Reverse proxies of ours in front of Daphne that append to X-Forwarded-For; the rate limiter
# takes the client address from there (0: the peer address, no proxy is trusted).
RATE_LIMIT_TRUSTED_PROXIES = int(env("DOORSTEP_TRUSTED_PROXIES", "0"))
# Geocoder for orders without coordinates (e.g. a Nominatim search URL). Empty: none, so order
# creation and import require coordinates; when set, such orders are accepted and flagged.
GEOCODER_URL = env("DOORSTEP_GEOCODER_URL", "")
# Travel times for live ETAs (deliveries/services/eta.py): "great_circle" (default; each hub's speed and
# detour factor), "osrm" or "valhalla" with DOORSTEP_ROUTING_URL. A failing server falls back.
DOORSTEP_ROUTING_PROVIDER = env("DOORSTEP_ROUTING_PROVIDER", "great_circle")
DOORSTEP_ROUTING_URL = env("DOORSTEP_ROUTING_URL", "")
# The demo organizations' orders move along as the simulated fleet drives (demo/orders.py);
# always on with DEBUG (the run command), elsewhere only when asked.
DOORSTEP_DEMO_PROGRESS = env_bool("DOORSTEP_DEMO_PROGRESS", False)


# --- Content-Security-Policy ----------------------------------------------------------------
# One strict policy for every environment (dev, tests and production alike), so a page that
# needs more breaks in development first. No inline or eval'd script anywhere: page data goes
# in with json_script (not executed), behaviour in static files. Text from the database goes
# into the DOM as text; the policy is the second line of defence if some code forgets.
# Styles: 'self' only; Leaflet and our scripts set element styles through the CSSOM, which CSP
# does not restrict. No page needs a relaxed policy: Swagger UI runs as drf-spectacular's split
# view, without inline script or style (config/urls.py).
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "csp.middleware.CSPMiddleware",
)
INSTALLED_APPS.append("csp")  # its system checks flag settings of the pre-4.0 format
_TILE_SOURCE = [source] if (source := tile_source(MAP_TILE_URL)) else []
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        # data: for Leaflet's and the admin's inline SVG icons, blob: for the driver's photo preview.
        "img-src": [SELF, "data:", "blob:", *_TILE_SOURCE],
        # 'self' admits same-origin ws:/wss: (CSP Level 3; tests/browser check the live map).
        "connect-src": [SELF],
        "style-src": [SELF],
        "font-src": [SELF],
        "worker-src": [SELF],
        "manifest-src": [SELF],
    },
}


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}
