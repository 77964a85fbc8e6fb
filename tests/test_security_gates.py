"""The security gates of `make check`: the dependency audit never reports "no known
vulnerabilities" when it could not reach a vulnerability database, and fails on findings."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def load_audit_script() -> Any:
    # scripts/ is a folder of programs, not a package: load the file itself.
    spec = importlib.util.spec_from_file_location("audit_deps", ROOT / "scripts" / "audit_deps.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["audit_deps"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


verdict = load_audit_script().verdict


def test_unreachable_database_is_reported_as_skipped_not_clean() -> None:
    # A proxy on a closed port: no vulnerability database answers, whatever this machine's
    # network; the lock export needs no network.
    closed = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "HTTPS_PROXY": closed,
        "HTTP_PROXY": closed,
        "https_proxy": closed,
        "http_proxy": closed,
        "NO_PROXY": "",
        "no_proxy": "",
    }
    result = subprocess.run(
        [sys.executable, "scripts/audit_deps.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "dependency audit: SKIPPED — could not reach a vulnerability database (" in output
    assert "no known vulnerabilities" not in output.lower()


def report(*dependencies: Any) -> str:
    return json.dumps({"dependencies": list(dependencies), "fixes": []})


def test_every_package_not_found_is_no_audit() -> None:
    skipped = {"name": "django", "skip_reason": "Dependency not found on PyPI"}
    result = verdict("pypi", 0, report(skipped, {**skipped, "name": "celery"}), "")
    assert (result.exit_code, result.reached) == (0, False)


def test_findings_fail_and_a_clean_audit_passes() -> None:
    clean = {"name": "celery", "version": "5.5", "vulns": []}
    bad = {"name": "django", "version": "5.2.1", "vulns": [{"id": "PYSEC-2025-1"}]}
    failed = verdict("osv", 1, report(clean, bad), "")
    assert failed.exit_code == 1 and "django 5.2.1: PYSEC-2025-1" in failed.message
    passed = verdict("osv", 0, report(clean), "")
    assert passed.exit_code == 0 and "1 packages checked against osv" in passed.message


def test_network_error_is_no_audit_and_other_errors_fail() -> None:
    offline = verdict("osv", 1, "", "requests.exceptions.ConnectionError: Max retries exceeded")
    assert (offline.exit_code, offline.reached) == (0, False)
    broken = verdict("osv", 2, "", "error: unrecognized arguments")
    assert broken.exit_code == 1 and "FAILED" in broken.message
