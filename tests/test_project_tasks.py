"""The generated project is green on its first commit: after the steps copier prints, every
make target CI runs passes, with the real lock tool, pip-audit, Bandit and build backend.

pip-audit talks to a local OSV server (tests/osv_server.py) that serves real advisories,
through pip-audit's own PIP_AUDIT_* variables, as it would talk to an organisation's mirror.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from pathlib import Path

import pytest

from tests.conftest import run
from tests.projects import LOCK_TOOLS, admit

pytestmark = pytest.mark.slow


def make(project: Path, env: dict[str, str], *targets: str, check: bool = True):
    return run(["make", "--no-print-directory", *targets], project, env, check=check)


def git(project: Path, env: dict[str, str], *args: str):
    return run(["git", *args], project, env)


@pytest.fixture
def locked(request, lock_project, project_copy) -> Path:
    """The generated project after the steps copier prints (`git init`, `make lock`,
    `make admit`, the first commit): a private copy of the one each lock tool's tests share
    (tests/projects.py)."""
    return project_copy(lock_project(request.param))


def lock_variants():
    """Each lock tool, all of one tool's tests on one xdist worker (one lock per run)."""
    params = [
        pytest.param(tool, id=tool, marks=pytest.mark.xdist_group(f"lock-{tool}"))
        for tool in LOCK_TOOLS
    ]
    return pytest.mark.parametrize("locked", params, indirect=True)


def add_dependency(project: Path, requirement: str) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    text = re.sub(r"^dependencies = \[\]$", f'dependencies = ["{requirement}"]', text, flags=re.M)
    assert requirement in text
    pyproject.write_text(text)


@lock_variants()
def test_every_ci_target_passes_on_the_first_commit(locked, project_env) -> None:
    project = locked
    make(project, project_env, "install")
    checked = make(project, project_env, "check")
    assert "passed" in checked.stdout
    assert "No known vulnerabilities found" in checked.stdout + checked.stderr
    # The pre-commit hooks are the same targets, run by the real pre-commit.
    run([".tools/bin/pre-commit", "run", "--all-files"], project, project_env)
    # CI's release job: the tag must exist and match the version, and the build must work.
    git(project, project_env, "tag", "v0.1.0")
    make(project, {**project_env, "TAG": "v0.1.0"}, "release-check")
    assert make(project, {**project_env, "TAG": "v9.9.9"}, "release-check", check=False).returncode
    make(project, project_env, "build")
    dist = sorted(p.name for p in (project / "dist").iterdir())
    assert len(dist) == 2 and dist[0].endswith(".whl") and dist[1].endswith(".tar.gz")
    # Nothing the checks did left the tree dirty (no stray files to commit).
    status = git(project, project_env, "status", "--porcelain").stdout
    assert status == "", status


@lock_variants()
def test_the_lock_pins_every_dependency_with_hashes(locked, project_env) -> None:
    # The lock tool's own export of its lock: every locked package, exact, with hashes.
    make(locked, project_env, "audit")
    export = (locked / ".audit" / "requirements.txt").read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", export.replace("\\\n", " "))
    pinned = [block for block in blocks if re.match(r"[A-Za-z0-9._-]+==", block)]
    assert {"pytest", "ruff"} <= {re.match(r"[A-Za-z0-9._-]+", b)[0].lower() for b in pinned}
    for block in pinned:
        assert "--hash=sha256:" in block, block


@lock_variants()
def test_builds_are_reproducible(locked, project_env) -> None:
    def digests() -> dict[str, str]:
        make(locked, project_env, "build")
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (locked / "dist").iterdir()
        }

    assert digests() == digests()


@lock_variants()
def test_a_stale_lock_fails_with_the_command_to_run(locked, project_env) -> None:
    add_dependency(locked, "six>=1.16")
    result = make(locked, project_env, "lock-check", check=False)
    assert result.returncode != 0
    assert "Run 'make lock'" in result.stderr


@lock_variants()
def test_a_known_vulnerability_fails_security(locked, project_env) -> None:
    add_dependency(locked, "jinja2==2.10")
    make(locked, project_env, "lock")
    result = make(locked, project_env, "security", check=False)
    assert result.returncode != 0
    assert "PYSEC-2019-217" in result.stdout


def write_exceptions(project: Path, expires: datetime.date) -> None:
    entries = "".join(
        f'[[exception]]\nid = "{vuln}"\nreason = "Test: templates are trusted"\nexpires = {expires}\n\n'
        for vuln in ("PYSEC-2019-217", "PYSEC-2021-66")  # jinja2 2.10 has both
    )
    (project / "audit-exceptions.toml").write_text(entries)


@lock_variants()
def test_a_reviewed_exception_passes_until_it_expires(locked, project_env) -> None:
    add_dependency(locked, "jinja2==2.10")
    make(locked, project_env, "lock")
    today = datetime.date.today()

    write_exceptions(locked, today + datetime.timedelta(days=30))
    accepted = make(locked, project_env, "audit")
    assert "Accepted until" in accepted.stdout

    write_exceptions(locked, today)
    expired = make(locked, project_env, "audit", check=False)
    assert expired.returncode != 0
    assert "PYSEC-2019-217" in expired.stderr and "expired" in expired.stderr


@lock_variants()
def test_an_exception_without_a_reason_is_refused(locked, project_env) -> None:
    (locked / "audit-exceptions.toml").write_text(
        '[[exception]]\nid = "PYSEC-2019-217"\nexpires = 2099-01-01\n'
    )
    result = make(locked, project_env, "audit", check=False)
    assert result.returncode != 0
    assert "lacks reason" in result.stderr


@lock_variants()
def test_make_test_from_scratch_survives_strict_warnings(locked, project_env) -> None:
    # A CI that sets PYTHONWARNINGS for the whole job, before anything is installed: the
    # toolchain and the lock tool run isolated (python -I), only the tests see the setting.
    for leftover in (".tools", ".venv"):
        run(["rm", "-rf", leftover], locked, project_env)
    strict = {
        **project_env,
        "PYTHONWARNINGS": "error::DeprecationWarning,error::PendingDeprecationWarning",
    }
    make(locked, strict, "test")


@lock_variants()
def test_a_deprecation_warning_fails_the_tests(locked, project_env) -> None:
    (locked / "tests" / "test_deprecated.py").write_text(
        "import warnings\n\n\n"
        "def test_uses_a_deprecated_api() -> None:\n"
        "    warnings.warn('old API', DeprecationWarning, stacklevel=1)\n"
    )
    result = make(locked, project_env, "test", check=False)
    assert result.returncode != 0
    assert "DeprecationWarning: old API" in result.stdout


@lock_variants()
def test_nothing_unadmitted_is_installed(locked, project_env, package_index):
    add_dependency(locked, "unidecode>=1.3")  # GPL-2.0-or-later: not for runtime
    make(locked, project_env, "lock")
    site = locked / ".venv" / "lib"

    for target in ("install", "lock-check"):  # a maintainer; CI's lock job
        refused = make(locked, project_env, target, check=False)
        assert refused.returncode != 0, target
        assert "unidecode" in refused.stderr.lower() and "not admitted" in refused.stderr
        assert "run `make admit`" in refused.stderr
        assert not list(site.glob("python*/site-packages/unidecode")), target

    refused = admit(locked, project_env, package_index, check=False)
    assert refused.returncode != 0
    assert "refused: unidecode" in refused.stderr.lower() and ": license: " in refused.stderr
    assert make(locked, project_env, "install", check=False).returncode != 0

    with (locked / "dependency-policy.toml").open("a") as policy:
        policy.write(
            '\n[[exception]]\npackage = "unidecode"\nrule = "license"\n'
            'reason = "Test: accepted"\napprover = "Tests <tests@example.org>"\n'
            f"expires = {datetime.date.today() + datetime.timedelta(days=30)}\n"
        )
    admitted = make(locked, project_env, "admit")
    assert "1 admitted" in admitted.stdout
    record = (locked / "dependency-admissions.toml").read_text()
    assert 'name = "unidecode"' in record.lower() or 'name = "Unidecode"' in record
    make(locked, project_env, "lock-check", "install")
    assert list(site.glob("python*/site-packages/unidecode"))
