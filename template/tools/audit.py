"""Audit every locked dependency with pip-audit, honouring reviewed, expiring exceptions.

Usage: python -I tools/audit.py REQUIREMENTS [--exceptions audit-exceptions.toml]
                                   [--findings FINDINGS.json]

REQUIREMENTS is the lock file exported as hash-pinned requirements (`make audit` writes
it). Every package in it is audited, whatever platform or Python its environment marker
selects: markers are dropped, and a package locked at several versions (one per Python,
say) is audited at each of them, in rounds.

Exceptions live in audit-exceptions.toml, one table per vulnerability:

    [[exception]]
    id = "PYSEC-2019-217"   # the advisory ID pip-audit reports, or an alias (CVE-, GHSA-)
    reason = "Why it does not affect us, and what we wait for"
    expires = 2027-01-31    # from this day on the audit fails again

Each needs all three keys, and nothing else: a real reason (a few words), and an expiry
no more than a year away (a top-level `max-days = N` makes it fewer). An expired or
malformed exception fails the audit, so every accepted risk is reviewed again; tools/
expiring.py reads the file. pip-audit picks the vulnerability service: set
PIP_AUDIT_VULNERABILITY_SERVICE and PIP_AUDIT_OSV_URL to use a mirror.

With --findings, nothing is judged: the audit runs without the exceptions and writes, for
each exception in force, its ID, reason and expiry and the locked packages it covers (with
every ID of each finding), as JSON for tools/vex.py (`make vex`). It still fails on a
malformed or expired exception.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>[^\s;\\]+)"
)
HASH = re.compile(r"--hash=(\S+)")


def sibling(name: str) -> ModuleType:
    """Import tools/NAME.py: `python -I` does not put the script's folder on sys.path."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    if spec is None or spec.loader is None:
        raise SystemExit(f"error: cannot load {name}.py next to {__file__}")
    module = importlib.util.module_from_spec(spec)
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no tools/__pycache__
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes
    return module


expiring = sibling("expiring")


def exceptions_in_force(path: Path, today: datetime.date) -> tuple[list[dict], list[str]]:
    """Return (the exceptions in force, problems)."""
    return expiring.load(
        path,
        table="exception",
        keys={"id": expiring.advisory_id},
        today=today,
        renew="fix the vulnerability, or review the exception and give it a new expiry date",
    )


def load_exceptions(path: Path, today: datetime.date) -> tuple[list[str], list[str]]:
    """Return (IDs to ignore, problems). A problem fails the audit."""
    entries, problems = exceptions_in_force(path, today)
    for entry in entries:
        reason = " ".join(str(entry["reason"]).split())
        print(f"Accepted until {entry['expires']}: {entry['id']} ({reason})")
    return [str(entry["id"]) for entry in entries], problems


def locked_packages(path: Path) -> list[tuple[str, str, list[str]]]:
    """Each locked (name, version, hashes), markers dropped, in file order."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    packages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue
        match = REQUIREMENT.match(line)
        if not match:
            raise SystemExit(f"error: cannot audit {path}: not a pinned requirement: {line}")
        hashes = HASH.findall(line)
        if not hashes:
            raise SystemExit(f"error: cannot audit {path}: {match['name']} has no hash")
        packages.append((match["name"], match["version"], hashes))
    return packages


def rounds(packages: list[tuple[str, str, list[str]]]) -> list[list[str]]:
    """Split into requirement lists in which every package appears once."""
    result: list[list[str]] = []
    seen: dict[tuple[str, str], bool] = {}
    count: dict[str, int] = {}
    for name, version, hashes in packages:
        key = re.sub(r"[-_.]+", "-", name).lower()
        if (key, version) in seen:
            continue
        seen[key, version] = True
        index = count.get(key, 0)
        count[key] = index + 1
        if index == len(result):
            result.append([])
        result[index].append(f"{name}=={version} " + " ".join(f"--hash={h}" for h in hashes))
    return result


def pip_audit(requirements: Path, ignore: list[str], output: Path | None = None) -> int:
    """Run pip-audit on one round's requirements; JSON into `output` if given."""
    command = [
        sys.executable,
        "-I",
        "-m",
        "pip_audit",
        "--requirement",
        str(requirements),
        "--require-hashes",
        "--disable-pip",
        "--strict",
        "--progress-spinner",
        "off",
    ]
    for vulnerability in ignore:
        command += ["--ignore-vuln", vulnerability]
    if output is not None:
        command += ["--format", "json", "--output", str(output)]
    # A fixed argv: this interpreter running pip-audit on a file written by this script.
    return subprocess.run(command, check=False).returncode  # noqa: S603


def export_findings(packages: list[tuple[str, str, list[str]]], args: argparse.Namespace) -> int:
    """Write what each exception in force covers (--findings); see the module's docstring."""
    entries, problems = exceptions_in_force(args.exceptions, datetime.date.today())
    found: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for number, requirements in enumerate(rounds(packages), start=1):
            round_file = Path(tmp) / f"round-{number}.txt"
            round_file.write_text("\n".join(requirements) + "\n", encoding="utf-8")
            output = Path(tmp) / f"round-{number}.json"
            code = pip_audit(round_file, [], output)
            if not output.exists():  # pip-audit stopped before reporting (exit 1 = findings)
                problems.append(f"pip-audit could not audit round {number} (exit {code})")
                continue
            for dependency in json.loads(output.read_text(encoding="utf-8"))["dependencies"]:
                for vuln in dependency.get("vulns", []):
                    found.append(
                        {
                            "name": dependency["name"],
                            "version": dependency["version"],
                            "ids": [vuln["id"], *vuln.get("aliases", [])],
                        }
                    )
    exceptions = []
    for entry in entries:
        covers = [finding for finding in found if entry["id"] in finding["ids"]]
        if not covers:
            print(f"warning: no locked package has {entry['id']} any more: remove its exception")
        exceptions.append(
            {
                "id": entry["id"],
                "reason": " ".join(str(entry["reason"]).split()),
                "expires": str(entry["expires"]),
                "findings": covers,
            }
        )
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    partial = args.findings.with_name(args.findings.name + ".partial")
    partial.write_text(json.dumps({"exceptions": exceptions}, indent=2) + "\n", encoding="utf-8")
    partial.replace(args.findings)
    print(f"Wrote {args.findings}: {len(exceptions)} exceptions in force")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="Audit locked dependencies with pip-audit.")
    parser.add_argument("requirements", type=Path)
    parser.add_argument("--exceptions", type=Path, default=Path("audit-exceptions.toml"))
    parser.add_argument("--findings", type=Path, help="write what the exceptions cover; no audit")
    args = parser.parse_args()
    if args.findings:
        return export_findings(locked_packages(args.requirements), args)

    ignore, problems = load_exceptions(args.exceptions, datetime.date.today())
    packages = locked_packages(args.requirements)
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for number, requirements in enumerate(rounds(packages), start=1):
            round_file = Path(tmp) / f"round-{number}.txt"
            round_file.write_text("\n".join(requirements) + "\n", encoding="utf-8")
            print(f"pip-audit: {len(requirements)} locked packages", flush=True)
            failed |= pip_audit(round_file, ignore) != 0
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if failed or problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
