"""Fail when pip-tools cannot lock what pyproject.toml and requirements/dev.in declare.

Usage: python -I tools/lock_scope.py     (`make lock` and `make lock-check` run it first)

pip-tools resolves for ONE environment: the platform and Python that run `make lock`.
A requirement whose environment marker is false there (`; sys_platform == "win32"`,
`; platform_machine == "arm64"`) is silently left out of requirements/*.txt, so it is never
installed, audited or licence-checked. This check refuses such declared requirements
with a message naming each one; the fix is to drop the marker, or to move the project to
a lock tool that locks every platform ("Changing an answer" in DEVELOPMENT.md).
Dependencies of dependencies that only other platforms need (pytest's colorama on
Windows) are beyond its reach: pip-tools never sees them.

Needs `packaging` (in the toolchain). Runs no project code.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet


def declared(pyproject: Path, dev_in: Path) -> list[tuple[str, str, str]]:
    """(where, requirement, extra) for every declared requirement."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    found = [
        (f"{pyproject} [project] dependencies", r, "") for r in project.get("dependencies", [])
    ]
    for extra, requirements in project.get("optional-dependencies", {}).items():
        found += [(f"{pyproject} optional-dependencies.{extra}", r, extra) for r in requirements]
    if dev_in.exists():
        for line in dev_in.read_text(encoding="utf-8").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith(("#", "-")):
                found.append((str(dev_in), line, ""))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description="Check what pip-tools can lock here.")
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    parser.add_argument("--dev-in", type=Path, default=Path("requirements/dev.in"))
    args = parser.parse_args()

    environment = default_environment()
    here = f"{environment['sys_platform']}, Python {environment['python_version']}"
    problems = []
    for where, text, extra in declared(args.pyproject, args.dev_in):
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            problems.append(f"{where}: {text!r} is not a valid requirement ({error})")
            continue
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            problems.append(
                f"{where}: {requirement.name} applies only where `{requirement.marker}`, not here "
                f"({here}), so pip-tools cannot lock, install or audit it"
            )
    requires_python = (
        tomllib.loads(args.pyproject.read_text(encoding="utf-8"))
        .get("project", {})
        .get("requires-python", "")
    )
    if requires_python and environment["python_version"] not in SpecifierSet(requires_python):
        problems.append(
            f"Python {environment['python_version']} is outside requires-python {requires_python}"
        )

    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        print(
            "error: pip-tools locks for one platform and Python only. Remove the marker, or "
            "move the project to a lock tool that locks every platform (see 'Changing an "
            "answer' in DEVELOPMENT.md).",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
