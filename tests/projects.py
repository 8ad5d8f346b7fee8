"""Generated projects for the slow suite, shared: one per lock tool, locked once per test
session (and worker), then copied for every test that changes it.

Tests take them through the `lock_project` fixture (tests/conftest.py) and mark themselves
with `per_lock_tool`, which also keeps every test of one lock tool on one xdist worker, so
each tool's project is locked once per run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.conftest import run
from tests.variants import LOCK_VARIANTS

LOCK_TOOLS = [variant.answers["lock_tool"] for variant in LOCK_VARIANTS]


def per_lock_tool(test):
    """Run the test once per lock tool, all of one tool's tests on one xdist worker."""
    params = [
        pytest.param(tool, marks=pytest.mark.xdist_group(f"lock-{tool}")) for tool in LOCK_TOOLS
    ]
    return pytest.mark.parametrize("tool", params)(test)


def make(project: Path, env: dict[str, str], *targets: str, check: bool = True):
    return run(["make", "--no-print-directory", *targets], project, env, check=check)


def git(project: Path, env: dict[str, str], *args: str):
    return run(["git", *args], project, env)


def commit(project: Path, env: dict[str, str], message: str) -> None:
    git(project, env, "add", "-A")
    git(project, env, "commit", "-q", "-m", message)


# What a checkout's tools write that names the checkout's own path: a virtual environment
# and PDM's choice of interpreter (an absolute path into it). A copy that kept them would
# install into the original's environment; the copy makes its own, as a new checkout does.
CHECKOUT_BOUND = (".tools", ".venv", ".pdm-python")


def clone(project: Path, destination: Path) -> Path:
    """A private copy of a project, its toolchain included (hard links: `.tools` is only
    ever replaced whole, never written in place, so the original stays as it was)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns(*CHECKOUT_BOUND)
    shutil.copytree(project, destination, symlinks=True, ignore=ignore)
    if (project / ".tools").exists():
        subprocess.run(
            ["cp", "-al", str(project / ".tools"), str(destination / ".tools")], check=True
        )
    return destination


def set_dependencies(
    project: Path, runtime: list[str], extras: dict[str, list[str]] | None = None
) -> None:
    """Replace [project] dependencies, and add [project.optional-dependencies]."""
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    listed = ", ".join(f'"{requirement}"' for requirement in runtime)
    text, count = re.subn(r"(?m)^dependencies = \[.*\]$", f"dependencies = [{listed}]", text)
    assert count == 1, "pyproject.toml has no one-line [project] dependencies"
    if extras:
        table = "".join(
            f"{name} = [{', '.join(repr(r).replace(chr(39), chr(34)) for r in reqs)}]\n"
            for name, reqs in extras.items()
        )
        text = text.replace(
            "\n[project.urls]\n", f"\n[project.optional-dependencies]\n{table}\n[project.urls]\n"
        )
    pyproject.write_text(text)
    tomllib.loads(text)  # still valid TOML


def locked_packages(project: Path) -> dict[str, set[str]]:
    """Every package the project's lock files hold, with the versions of each."""
    found: dict[str, set[str]] = {}
    for lock in ("uv.lock", "pdm.lock", "poetry.lock"):
        if (project / lock).exists():
            for package in tomllib.loads((project / lock).read_text()).get("package", []):
                name = re.sub(r"[-_.]+", "-", package["name"]).lower()
                found.setdefault(name, set()).add(str(package["version"]))
    for path in (project / "requirements").glob("*.txt"):
        for match in re.finditer(r"(?m)^([A-Za-z0-9._-]+)==(\S+)", path.read_text()):
            found.setdefault(re.sub(r"[-_.]+", "-", match[1]).lower(), set()).add(match[2])
    return found


def add_dependency(project: Path, requirement: str) -> None:
    set_dependencies(project, [requirement])


LOCKED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def admit(
    project: Path, env: dict[str, str], index, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`make admit` for real, against the local index (tests/index_server.py, which
    `project_env` names in ADMIT_FLAGS, as an organisation names its mirror). The slow
    tests lock whatever PyPI has today, so what the recorded data lacks is recorded from
    PyPI's latest-version JSON first, the way scripts/record_index_data.py records it.
    Every lock tool resolves with the cooldown the policy's `min-release-days` names, so
    the policy is the project's own, unchanged."""
    make(project, env, "admit-check", check=False)  # exports the lock into .audit/
    wanted = {}
    for export in ("requirements.txt", "runtime.txt"):
        text = (project / ".audit" / export).read_text()
        for name, version in LOCKED.findall(text):
            wanted[re.sub(r"[-_.]+", "-", name).lower()] = version
    index.record_from_pypi(wanted)
    return make(project, env, "admit", check=check)


def lock_and_admit(project: Path, env: dict[str, str], index) -> None:
    """The first-commit path's `make lock` and `make admit`."""
    make(project, env, "lock")
    admit(project, env, index)
