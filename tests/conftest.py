"""Fixtures: the template as a git repository, the real copier CLI, and a clean environment.

Every render goes through `python -m copier copy` in a subprocess, without --trust, from a
git checkout of the template: the way users and hosted Renovate run it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.osv_server import OsvServer

ROOT = Path(__file__).resolve().parents[1]

# Answers that differ from the defaults in every field a user types, so tests can tell
# an answer from a default.
SAMPLE_ANSWERS = {
    "project_name": "Acme Widgets",
    "author_name": "Acme Security Team",
    "author_email": "security@acme.example",
    "repository_owner": "acme",
    "copyright_year": "2026",
}


def clean_env(home: Path) -> dict[str, str]:
    """The environment a fresh machine would give: no pip/uv/copier settings of ours."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "UV_", "COPIER_", "PDM_", "POETRY_", "VIRTUAL_ENV"))
        and key not in {"PYTHONWARNINGS", "PYTHONPATH"}
    }
    settings = home / "copier-settings.yml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text("{}\n")  # copier 9.19 rejects an empty file
    env.update(
        {
            # The machine-wide pip configuration (constraints, local indexes) is not a
            # user's; generated projects must work with plain PyPI.
            "PIP_CONFIG_FILE": os.devnull,
            "COPIER_SETTINGS_PATH": str(settings),
            "GIT_AUTHOR_NAME": "Template Tests",
            "GIT_AUTHOR_EMAIL": "tests@example.org",
            "GIT_COMMITTER_NAME": "Template Tests",
            "GIT_COMMITTER_EMAIL": "tests@example.org",
            "GIT_CONFIG_COUNT": "2",
            "GIT_CONFIG_KEY_0": "init.defaultBranch",
            "GIT_CONFIG_VALUE_0": "main",
            "GIT_CONFIG_KEY_1": "advice.detachedHead",
            "GIT_CONFIG_VALUE_1": "false",
        }
    )
    return env


def run(
    command: list[str], cwd: Path, env: dict[str, str], *, check: bool = True, timeout: int = 900
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} exited {result.returncode} in {cwd}\n"
            f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
        )
    return result


def snapshot_template(dst: Path, env: dict[str, str], tag: str | None = None) -> Path:
    """Copy the template's working tree (committed or not, minus ignored files) into a
    fresh git repository at `dst`, commit it, and tag it when asked."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = dst / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    run(["git", "init", "-q"], dst, env)
    run(["git", "add", "-A"], dst, env)
    run(["git", "commit", "-q", "-m", "template snapshot"], dst, env)
    if tag:
        run(["git", "tag", tag], dst, env)
    return dst


def copier_copy(
    template: Path,
    dst: Path,
    answers: dict[str, str],
    env: dict[str, str],
    *,
    vcs_ref: str | None = "HEAD",
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """`copier copy --defaults` through the real CLI, answers passed as a data file."""
    data_file = dst.parent / f"{dst.name}.answers.yml"
    data_file.parent.mkdir(parents=True, exist_ok=True)
    data_file.write_text(yaml.safe_dump(answers, allow_unicode=True), encoding="utf-8")
    command = [sys.executable, "-m", "copier", "copy", "--defaults", "--quiet"]
    if vcs_ref:
        command += ["--vcs-ref", vcs_ref]
    command += ["--data-file", str(data_file), str(template), str(dst)]
    return run(command, dst.parent, env, check=check)


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return clean_env(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    """The template under test, as a git repository (HEAD = the working tree)."""
    return snapshot_template(tmp_path_factory.mktemp("template"), env)


@pytest.fixture(scope="session")
def render(
    tmp_path_factory: pytest.TempPathFactory, template: Path, env: dict[str, str]
) -> Callable[..., Path]:
    """Render a project with the given answers (cached per answers: do not modify it)."""
    cache: dict[tuple[tuple[str, str], ...], Path] = {}

    def _render(**answers: str) -> Path:
        key = tuple(sorted(answers.items()))
        if key not in cache:
            dst = tmp_path_factory.mktemp("render") / "project"
            copier_copy(template, dst, answers, env)
            cache[key] = dst
        return cache[key]

    return _render


@pytest.fixture
def fresh_copy(tmp_path: Path) -> Callable[[Path], Path]:
    """A private, modifiable copy of a rendered project."""

    def _copy(project: Path) -> Path:
        dst = tmp_path / project.name
        shutil.copytree(project, dst, symlinks=True)
        return dst

    return _copy


@pytest.fixture(scope="session")
def osv() -> Iterator[OsvServer]:
    with OsvServer() as server:
        yield server


@pytest.fixture(scope="session")
def project_env(env: dict[str, str], osv: OsvServer) -> dict[str, str]:
    """Environment for running a generated project's make targets: pip-audit talks to the
    local OSV server through its own variables, as behind an organisation's mirror."""
    return {
        **env,
        "PIP_AUDIT_VULNERABILITY_SERVICE": "osv",
        "PIP_AUDIT_OSV_URL": osv.query_url,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
