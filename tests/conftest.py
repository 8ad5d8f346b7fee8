"""Fixtures: the template rendered in this process (pytest-copie), the template as a git
repository for the real copier CLI and for updates, and a clean environment.

Most tests render in-process through pytest-copie (tests/rendering.py). The real CLI, run
without --trust from a git checkout of the template as users and hosted Renovate run it,
is used where the CLI itself is the subject (tests/test_cli.py) and for updates.
In-process renders reuse compiled Jinja code and parsed YAML (tests/render_memo.py).
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests import render_memo
from tests.index_server import IndexServer
from tests.osv_server import OsvServer
from tests.rendering import ROOT, TEMPLATE_PARTS, plain_snapshot, working_tree_files

# The rendered golden projects are data, not tests of this suite.
collect_ignore = ["golden"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full-matrix",
        action="store_true",
        help="tests/test_static_bar.py over every valid combination of answers, not the pairwise set",
    )
    parser.addoption(
        "--structural-matrix",
        action="store_true",
        help="tests/test_static_bar.py over every valid combination of the questions that decide "
        "which files exist (all but the licence and the Python floor, which rotate)",
    )
    parser.addoption(
        "--matrix-shard",
        default="1/1",
        help="K/N: tests/test_static_bar.py renders every N-th combination, from the K-th (run "
        "the N shards side by side to use every core on --full-matrix)",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep `--dist loadgroup` working: pytest-xdist 3.8 groups tests by appending
    `@<xdist_group>` to each node ID through `item._nodeid`, which pytest 9 no longer reads,
    so the tests of one group (the rendered pairwise matrix) were spread over workers and
    each worker rendered the matrix again. Does the same through the attribute pytest 9
    reads; does nothing once the suffix is there."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        groups = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        if groups and "@" not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(sorted(groups))}")


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
        and key not in {"PYTHONWARNINGS", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}
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


def snapshot_template(
    dst: Path, env: dict[str, str], tag: str | None = None, *, whole: bool = False
) -> Path:
    """Copy the template's working tree (committed or not, minus ignored files) into a
    fresh git repository at `dst`, commit it, tag it when asked, and pack it. Only what
    copier reads (copier.yml, template/, includes/), so every clone copier makes is small;
    `whole` copies the repository's every file (tests, data, goldens) too."""
    for name in working_tree_files():
        if not whole and name.split("/", 1)[0] not in TEMPLATE_PARTS:
            continue
        target = dst / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    run(["git", "init", "-q"], dst, env)
    run(["git", "add", "-A"], dst, env)
    run(["git", "commit", "-q", "-m", "template snapshot"], dst, env)
    if tag:
        run(["git", "tag", tag], dst, env)
    pack(dst, env)
    return dst


def pack(repository: Path, env: dict[str, str]) -> None:
    """Pack the repository's objects, as a git host serves them: copier clones a local
    template with hard links, and every loose object costs a file and a folder."""
    run(["git", "gc", "-q"], repository, env)


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


@pytest.fixture(scope="session", autouse=True)
def _in_process_environment(env: dict[str, str]) -> Iterator[None]:
    """Copier in this process reads the same clean settings (no user defaults) and git
    identity as the subprocesses."""
    with pytest.MonkeyPatch.context() as patch:
        for key in ("COPIER_SETTINGS_PATH", "GIT_CONFIG_COUNT"):
            patch.setenv(key, env[key])
        for key, value in env.items():
            if key.startswith("GIT_"):
                patch.setenv(key, value)
        yield


# Rendering in this process: compiled code shared by every render -----------------------
@pytest.fixture(scope="session", autouse=True)
def _shared_compiled_code() -> Iterator[None]:
    """Speed only (tests/render_memo.py): without it, the tests are the same."""
    with render_memo.installed():
        yield


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template's working tree as a plain folder: what pytest-copie renders from."""
    return plain_snapshot(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    """The template under test, as a git repository (HEAD = the working tree)."""
    return snapshot_template(tmp_path_factory.mktemp("template"), env)


@pytest.fixture(scope="session")
def render(copie_session, template_dir: Path) -> Callable[..., Path]:
    """Render a project with the given answers, in-process (cached per answers: do not
    modify it; take a `fresh_copy`). A failed render raises copier's own exception."""
    cache: dict[tuple[tuple[str, str], ...], Path] = {}

    def _render(**answers: str) -> Path:
        key = tuple(sorted(answers.items()))
        if key not in cache:
            result = copie_session.copy(extra_answers=answers, template_dir=template_dir)
            if result.exception is not None:
                raise result.exception
            cache[key] = result.project_dir
        return cache[key]

    return _render


@pytest.fixture(scope="session")
def refuse(copie_session, template_dir: Path) -> Callable[..., BaseException]:
    """Render with answers that must be refused: returns copier's exception, after checking
    that nothing was written."""

    def _refuse(**answers: str) -> BaseException:
        destination = copie_session.test_dir / f"copie{copie_session.counter:03d}"
        result = copie_session.copy(extra_answers=answers, template_dir=template_dir)
        assert result.exception is not None, f"{answers} was accepted"
        assert not any(destination.rglob("*")), "a refused answer must write nothing"
        return result.exception

    return _refuse


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
def package_index() -> Iterator[IndexServer]:
    """The local package index that `make admit` reads (tests/index_server.py)."""
    with IndexServer(now=datetime.datetime.now(datetime.UTC)) as server:
        yield server


@pytest.fixture(scope="session")
def project_env(env: dict[str, str], osv: OsvServer, package_index: IndexServer) -> dict[str, str]:
    """Environment for running a generated project's make targets: pip-audit talks to the
    local OSV server through its own variables, and `make admit` to the local package index
    through ADMIT_FLAGS, as behind an organisation's mirror."""
    return {
        **env,
        "PIP_AUDIT_VULNERABILITY_SERVICE": "osv",
        "PIP_AUDIT_OSV_URL": osv.query_url,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "ADMIT_FLAGS": f"--index-url={package_index.simple_url}",
    }


@pytest.fixture(scope="session")
def lock_project(
    render,
    project_env: dict[str, str],
    package_index: IndexServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], Path]:
    """The default project generated with a lock tool, after the first-commit steps
    (`git init`, `make lock`, `make admit`, commit), once per session: do not modify it, take a
    `project_copy`."""
    from tests.projects import commit, lock_and_admit
    from tests.variants import Variant, adapt_for_this_machine

    cache: dict[str, Path] = {}

    def _project(tool: str) -> Path:
        if tool not in cache:
            variant = Variant(tool, {"lock_tool": tool})
            project = tmp_path_factory.mktemp(f"{tool}-base") / "my-project"
            shutil.copytree(render(**variant.answers), project, symlinks=True)
            adapt_for_this_machine(project, variant)
            run(["git", "init", "-q"], project, project_env)
            lock_and_admit(project, project_env, package_index)
            commit(project, project_env, "First commit")
            cache[tool] = project
        return cache[tool]

    return _project


@pytest.fixture
def project_copy(tmp_path: Path) -> Callable[[Path], Path]:
    """A private, modifiable copy of a shared project, its toolchain included."""
    from tests.projects import clone

    return lambda project: clone(project, tmp_path / project.name)
