"""Production: everything from the environment, secure by default, no debug pages."""

from .base import *  # noqa: F403
from .base import STORAGES as BASE_STORAGES
from .base import env, env_bool

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
if not SECRET_KEY or SECRET_KEY.startswith("dev-only"):
    raise RuntimeError("DJANGO_SECRET_KEY must be set to a long random value in production")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(env("DJANGO_SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    "default": BASE_STORAGES["default"],  # local disk or S3 (DOORSTEP_STORAGE), see base.py
    # WhiteNoise's hashed, compressed files; the live map's ES module imports are hashed too.
    "staticfiles": {"BACKEND": "config.static_storage.StaticFilesStorage"},
}
