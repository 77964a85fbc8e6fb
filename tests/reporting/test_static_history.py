"""Production static files: the history page's ES modules import each other by hashed name."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings


def test_collectstatic_hashes_the_history_module_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 64)
    production = importlib.import_module("config.settings.production")
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=production.STORAGES):
        call_command("collectstatic", interactive=False, verbosity=0)
    paths = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    main = (tmp_path / paths["js/history/main.js"]).read_text()
    imports = re.findall(r'from "\./([^"]+)"', main)
    assert imports and all(re.fullmatch(r"[a-z_]+\.[0-9a-f]{12}\.js", name) for name in imports)
