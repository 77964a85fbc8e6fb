"""Static files in production: hashed and compressed (WhiteNoise), with the live map's ES module
imports rewritten to hashed names, so one deploy's static/js/live_map/main.js never imports
another deploy's modules from a browser cache (unhashed names are cached too)."""

from __future__ import annotations

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
    # Django's import/export patterns, on our own modules only: vendored files (django-htmx's
    # extensions) import names that are no files, and collectstatic would fail on them.
    _js_module_import_aggregation_patterns = (
        "js/*.js",  # fnmatch: every module under static/js/ (live map, history), not vendor/
        ManifestStaticFilesStorage._js_module_import_aggregation_patterns[1],  # type: ignore[attr-defined]  # not in django-stubs
    )
