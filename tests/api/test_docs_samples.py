"""The quickstart's samples in docs/api.md run as written against a live server: every
```python and ```bash block, in order, with DOORSTEP_URL, DOORSTEP_TOKEN and DOORSTEP_HUB set."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.conftest import daphne_running
from tests.conftest import Tenant
from tests.deliveries.builders import api_token_of
from tests.support.stack import REPO

pytestmark = pytest.mark.django_db(transaction=True)

BLOCK = re.compile(r"^```(python|bash)\n(.*?)^```", re.S | re.M)


def samples() -> list[tuple[str, str]]:
    text = (REPO / "docs" / "api.md").read_text()
    return [(match.group(1), match.group(2)) for match in BLOCK.finditer(text)]


def test_the_quickstart_has_python_and_curl_samples() -> None:
    languages = [language for language, _ in samples()]
    assert languages.count("python") >= 2 and languages.count("bash") >= 2


def test_the_quickstart_samples_run_against_a_live_server(tenant_a: Tenant, tmp_path: Path) -> None:
    with daphne_running(tmp_path / "daphne.log") as url:
        env = {
            **os.environ,
            "DOORSTEP_URL": url,
            "DOORSTEP_TOKEN": api_token_of("Alpha"),
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
            if language == "bash" and "Idempotency-Key" in code:
                assert result.stdout.split() == ["201", "201"], result.stdout
