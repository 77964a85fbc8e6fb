"""Production static files: the live map's ES modules import each other by hashed name."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings


def test_collectstatic_hashes_the_live_map_module_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 64)  # production refuses to load without one
    production = importlib.import_module("config.settings.production")
    storages = production.STORAGES
    assert storages["staticfiles"]["BACKEND"] == "config.static_storage.StaticFilesStorage"
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)
    paths = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    modules = {name: hashed for name, hashed in paths.items() if name.startswith("js/live_map/")}
    assert "js/live_map/main.js" in modules
    hashed_names = {Path(hashed).name for hashed in modules.values()}
    for hashed in modules.values():
        imports = re.findall(r'from "\./([^"]+)"', (tmp_path / hashed).read_text())
        # Every import names a hashed file of this very collection (never a bare "./dom.js").
        assert set(imports) <= hashed_names, (hashed, imports)
    main = (tmp_path / modules["js/live_map/main.js"]).read_text()
    assert re.search(r'from "\./dom\.[0-9a-f]{12}\.js"', main)
