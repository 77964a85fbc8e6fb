"""Dependency audit for `make check`: pip-audit over the locked requirements (uv.lock).

It says plainly what it could and could not check. pip-audit on its own prints "No known
vulnerabilities found" even when its database answered nothing (every package "not found",
as through a registry mirror without the vulnerability API): here that is a SKIPPED, never a
pass. Exit 1 on real findings or on an audit that broke for another reason; exit 0 when it
audited and found nothing, or when no vulnerability database could be reached (SKIPPED).

    python scripts/audit_deps.py            # services tried in order: pypi, then osv
    DOORSTEP_AUDIT_SERVICES=osv python scripts/audit_deps.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NETWORK_SIGNS = (
    "ConnectionError",
    "NameResolutionError",
    "Max retries exceeded",
    "Connection refused",
    "timed out",
    "ProxyError",
    "SSLError",
    "Temporary failure in name resolution",
    "Network is unreachable",
)


@dataclass(frozen=True)
class Verdict:
    exit_code: int
    message: str
    reached: bool  # a vulnerability database answered for at least one package


def verdict(service: str, returncode: int, report: str, stderr: str) -> Verdict:
    """What one pip-audit run means. Pure: tested without a network."""
    try:
        dependencies = json.loads(report).get("dependencies", []) if report.strip() else None
    except ValueError:
        dependencies = None
    if dependencies is None:
        reason = last_line(stderr) or f"pip-audit exited {returncode} without a report"
        if any(sign in stderr for sign in NETWORK_SIGNS):
            return Verdict(0, f"{service}: {reason}", reached=False)
        return Verdict(1, f"dependency audit: FAILED — pip-audit ({service}): {reason}", True)
    audited = [d for d in dependencies if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    if vulnerable:
        lines = [
            f"  {d['name']} {d.get('version', '')}: "
            + ", ".join(v.get("id", "?") for v in d["vulns"])
            for d in vulnerable
        ]
        return Verdict(
            1,
            f"dependency audit: FAILED — {len(vulnerable)} vulnerable package(s) ({service}):\n"
            + "\n".join(lines),
            True,
        )
    if not audited:
        return Verdict(
            0,
            f"{service}: none of {len(dependencies)} packages could be audited "
            f"({first_skip(dependencies)})",
            reached=False,
        )
    skipped = len(dependencies) - len(audited)
    note = f"; {skipped} could not be audited ({first_skip(dependencies)})" if skipped else ""
    return Verdict(
        0,
        f"dependency audit: {len(audited)} packages checked against {service}, "
        f"no known vulnerabilities{note}",
        True,
    )


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def first_skip(dependencies: list[dict[str, object]]) -> str:
    for dependency in dependencies:
        if "skip_reason" in dependency:
            return f"e.g. {dependency['skip_reason']}"
    return ""


def locked_requirements(directory: Path) -> Path:
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    target = directory / "requirements.txt"
    subprocess.run(
        [uv, "export", "--frozen", "--format", "requirements-txt", "--no-emit-project"],
        cwd=ROOT,
        check=True,
        stdout=target.open("w"),
    )
    return target


def audit(service: str, requirements: Path, directory: Path) -> Verdict:
    report = directory / f"{service}.json"
    pip_audit = Path(sys.executable).parent / "pip-audit"
    result = subprocess.run(
        [
            str(pip_audit),
            "--requirement",
            str(requirements),
            "--no-deps",  # the lock pins every package already; nothing is installed
            "--disable-pip",
            "--vulnerability-service",
            service,
            "--format",
            "json",
            "--output",
            str(report),
            "--progress-spinner",
            "off",
            "--timeout",
            "10",
            # A fresh cache each run: an old cached answer is no audit of today.
            "--cache-dir",
            str(directory / "cache"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    text = report.read_text() if report.exists() else ""
    return verdict(service, result.returncode, text, result.stderr)


def main() -> int:
    services = os.environ.get("DOORSTEP_AUDIT_SERVICES", "pypi,osv").split(",")
    reasons = []
    with tempfile.TemporaryDirectory(prefix="audit-deps-") as temp:
        directory = Path(temp)
        requirements = locked_requirements(directory)
        for service in (s.strip() for s in services if s.strip()):
            result = audit(service, requirements, directory)
            if result.reached or result.exit_code:
                print(result.message)
                return result.exit_code
            reasons.append(result.message)
    print(
        "dependency audit: SKIPPED — could not reach a vulnerability database ("
        + "; ".join(reasons)
        + ")"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
