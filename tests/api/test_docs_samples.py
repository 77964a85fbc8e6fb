"""The quickstart's samples in docs/api.md run as written against a live server: every
```python and ```bash block, in order, with DOORSTEP_URL, DOORSTEP_TOKEN and DOORSTEP_HUB set."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from reporting.trips import Fix
from tenancy.api.tokens import api_token_create
from tenancy.context import tenant_context
from tests.browser.conftest import daphne_running
from tests.conftest import Tenant
from tests.deliveries.builders import api_token_of
from tests.reporting.positions import positions_insert
from tests.support.stack import REPO

pytestmark = pytest.mark.django_db(transaction=True)

BLOCK = re.compile(r"^```(python|bash)\n(.*?)^```", re.S | re.M)


def samples() -> list[tuple[str, str]]:
    text = (REPO / "docs" / "api.md").read_text()
    return [(match.group(1), match.group(2)) for match in BLOCK.finditer(text)]


def test_the_quickstart_has_python_and_curl_samples() -> None:
    languages = [language for language, _ in samples()]
    assert languages.count("python") >= 2 and languages.count("bash") >= 2


def track_build(tenant: Tenant) -> None:
    """A few fixes of the tenant's vehicle in the last hour, for the track sample to read."""
    start = timezone.now() - dt.timedelta(minutes=30)
    fixes = [
        Fix(
            timestamp=(start + dt.timedelta(seconds=10 * n)).timestamp(),
            latitude=tenant.hub.latitude + n * 0.0001,
            longitude=tenant.hub.longitude,
            speed_kmh=30.0,
            ignition=True,
        )
        for n in range(3)
    ]
    with scopes_disabled():
        positions_insert(tenant.device, fixes)


def admin_token_build(tenant: Tenant) -> str:
    with tenant_context(tenant.organization):
        _, plain = api_token_create(
            organization_id=tenant.organization.pk, name="docs admin", scopes=["admin"]
        )
    return plain


def test_the_quickstart_samples_run_against_a_live_server(tenant_a: Tenant, tmp_path: Path) -> None:
    track_build(tenant_a)
    admin_token = admin_token_build(tenant_a)
    with daphne_running(tmp_path / "daphne.log") as url:
        env = {
            **os.environ,
            "DOORSTEP_URL": url,
            "DOORSTEP_TOKEN": api_token_of("Alpha"),
            "DOORSTEP_ADMIN_TOKEN": admin_token,
            "DOORSTEP_HUB": str(tenant_a.hub.pk),
        }
        for index, (language, code) in enumerate(samples()):
            command = (
                [sys.executable, "-c", code]
                if language == "python"
                else ["bash", "-euo", "pipefail", "-c", code]
            )
            result = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=60, check=False
            )
            assert result.returncode == 0, (index, language, result.stdout, result.stderr[-3000:])
            if language == "bash" and "/api/v1/orders/" in code:
                assert result.stdout.split() == ["201", "201"], result.stdout
            if language == "bash" and "webhooks/endpoints/" in code:
                assert result.stdout.split() == ["201"], result.stdout
            if language == "bash" and "positions/" in code:
                assert result.stdout.split() == ["3", "fixes"], result.stdout
