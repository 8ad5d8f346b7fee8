"""Type errors and leaked credentials stop a generated project, with every lock tool, for
real: the clean project passes `make check`; a type error planted in src/ fails `make lint`
(mypy, strict, from the locked environment); a fake AWS key and a private key block planted
in src/ fail `make check` (detect-secrets from the hash-locked toolchain), and pass once
.secrets.baseline records them as reviewed false positives, not before.

One project per lock tool, locked and installed once, is shared by the tests in order; each
test leaves it as it found it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import run
from tests.projects import LOCK_TOOLS, clone

pytestmark = pytest.mark.slow

# A fake credential, assembled here so that this repository holds no key-shaped string.
AWS_KEY_ID = "AKIA" + "Z3MSJV4WJ6K2LQ7P"
AWS_KEY_BODY = "q8Vn2Lr+fK7wXbT0" + "pZ9sHc4YdJm1uE6aGi3oRkNy"
PRIVATE_KEY = "\n".join(
    [
        "-----BEGIN " + "RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
        "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK",
        "-----END " + "RSA PRIVATE KEY-----",
    ]
)
# Names that Ruff's and Bandit's hard-coded-password rules do not read as passwords, so
# that the secret scan is what stops it.
LEAK = f'''"""Credentials that must never be committed."""

AWS_KEYS = ("{AWS_KEY_ID}", "{AWS_KEY_BODY}")
DEPLOY_KEY = """{PRIVATE_KEY}
"""
'''
TYPE_ERROR = """

def answer() -> int:
    return "forty-two"
"""


def make(project: Path, env: dict[str, str], *targets: str, check: bool = True):
    return run(["make", "--no-print-directory", *targets], project, env, check=check)


def answer(project: Path, env: dict[str, str], target: str, answers: str) -> None:
    """Run an interactive target, typing `answers`."""
    subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=project,
        env=env,
        input=answers,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


def git(project: Path, env: dict[str, str], *args: str):
    return run(["git", *args], project, env)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(tool, id=tool, marks=pytest.mark.xdist_group(f"lock-{tool}"))
        for tool in LOCK_TOOLS
    ],
)
def project(request, lock_project, tmp_path_factory, project_env) -> Path:
    """The generated project, committed with its lock file and installed: what a maintainer
    has after the steps copier prints (a copy of the one each lock tool's tests share)."""
    tool: str = request.param
    started = time.monotonic()
    project = clone(lock_project(tool), tmp_path_factory.mktemp(tool) / "project")
    make(project, project_env, "install")
    print(f"\n{tool}: locked, admitted and installed in {time.monotonic() - started:.0f} s")
    return project


def package(project: Path) -> Path:
    (init,) = project.glob("src/*/__init__.py")
    return init.parent


def test_the_clean_project_passes_make_check(project, project_env) -> None:
    checked = make(project, project_env, "check")
    assert "Success: no issues found" in checked.stdout  # mypy ran, strict, over src and tests
    assert "detect_secrets.pre_commit_hook" in checked.stdout


def test_a_type_error_in_src_fails_make_lint(project, project_env) -> None:
    init = package(project) / "__init__.py"
    clean = init.read_text()
    init.write_text(clean + TYPE_ERROR)
    try:
        linted = make(project, project_env, "lint", check=False)
    finally:
        init.write_text(clean)
    assert linted.returncode != 0
    assert 'Incompatible return value type (got "str", expected "int")' in linted.stdout
    assert f"src/{package(project).name}/__init__.py" in linted.stdout


def test_a_leaked_credential_fails_make_check_until_reviewed_in_the_baseline(
    project, project_env
) -> None:
    leak = package(project) / "credentials.py"
    baseline = project / ".secrets.baseline"
    seeded = baseline.read_text()
    leak.write_text(LEAK)
    try:
        # Caught before it is even staged (a new file git would commit), and once staged.
        for stage in (False, True):
            if stage:
                git(project, project_env, "add", str(leak))
            refused = make(project, project_env, "check", check=False)
            assert refused.returncode != 0
            for kind in ("AWS Access Key", "Private Key"):
                assert kind in refused.stdout + refused.stderr, kind
            location = f"src/{package(project).name}/credentials.py:3"
            assert location in refused.stdout + refused.stderr

        # Recorded in the baseline but not yet reviewed: still refused, naming each finding.
        make(project, project_env, "secrets-baseline")
        assert "credentials.py" in baseline.read_text()
        git(project, project_env, "add", ".secrets.baseline")
        unreviewed = make(project, project_env, "secrets", check=False)
        assert unreviewed.returncode != 0
        assert "credentials.py:3 (AWS Access Key): not reviewed" in unreviewed.stderr

        # Reviewed, each judged not a secret (this is test data): accepted.
        answer(project, project_env, "secrets-audit", "y\n" * 20)
        assert '"generated_at"' not in baseline.read_text()
        git(project, project_env, "add", ".secrets.baseline")
        make(project, project_env, "check")
    finally:
        git(project, project_env, "rm", "-q", "--cached", "--ignore-unmatch", str(leak))
        leak.unlink(missing_ok=True)
        baseline.write_text(seeded)
        git(project, project_env, "add", ".secrets.baseline")
    assert git(project, project_env, "status", "--porcelain").stdout == ""
