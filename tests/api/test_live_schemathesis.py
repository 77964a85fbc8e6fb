"""The contract test an integrator would run: schemathesis with every check (examples, coverage,
fuzzing, stateful phases; status codes, content types, response schemas and headers, 5xx)
against a real Daphne server, with concurrent workers, on the API's served schema. It fails on
any server error or any answer the schema does not describe. One check is left out (see the
command): schemathesis' "schema-valid request rejected", whose rule a business API cannot meet."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.browser.conftest import daphne_running
from tests.conftest import Tenant
from tests.support.api_clients import scoped_token
from tests.support.stack import REPO, VENV_BIN

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = os.environ.get("DOORSTEP_SCHEMATHESIS_EXAMPLES", "10")


# The run's own budget (the subprocess' timeout below), not the suite's 300 s per test.
@pytest.mark.timeout(960)
def test_the_live_api_keeps_its_contract_under_concurrency(
    tenant_a: Tenant, tmp_path: Path
) -> None:
    # An admin token opens every operation (devices, tokens, webhooks included), so the run
    # reaches each handler instead of its 403. It cannot revoke itself (a 409), so the run
    # never locks itself out.
    _, admin_token = scoped_token(tenant_a.organization, ["admin"])
    with daphne_running(tmp_path / "daphne.log") as url:
        result = subprocess.run(
            [
                str(VENV_BIN / "schemathesis"), "run", f"{url}/api/schema/?format=json",
                "--url", url,
                "--checks", "all",
                # Refusals of schema-valid input stay legitimate where the rule is about data,
                # not shape: a hub id that does not exist, a key already used with another
                # body (schemathesis reuses its example key), latitude without longitude.
                "--exclude-checks", "positive_data_acceptance",
                "--phases", "examples,coverage,fuzzing,stateful",
                "--workers", "2",
                "--max-examples", MAX_EXAMPLES,
                "--generation-deterministic",
                "--request-timeout", "20",
                "--suppress-health-check", "all",
                "-H", f"Authorization: Token {admin_token}",
                "--report", "junit", "--report-dir", str(tmp_path),
            ],
            cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
    output = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, output
    assert "passed" in output.lower()
    # Every operation of the served schema ran (no path left out).
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    assert selected is not None and selected[1] == selected[2], output
