"""What `copier update` leaves when it cannot merge (inline conflict markers, `.rej` files)
fails `make conflicts`, which `make lint` runs: so `make check` and CI refuse it, in any
tracked file, Markdown included. The target needs only git, not the toolchain."""

from __future__ import annotations

import pytest

from tests.conftest import run

CONFLICT = "<<<<<<< before updating\nours\n=======\ntheirs\n>>>>>>> after updating\n"


@pytest.fixture
def project(render, fresh_copy, env):
    project = fresh_copy(render())
    run(["git", "init", "-q"], project, env)
    run(["git", "add", "-A"], project, env)
    return project


def conflicts(project, env):
    return run(["make", "--no-print-directory", "conflicts"], project, env, check=False)


def test_a_clean_project_passes(project, env) -> None:
    assert conflicts(project, env).returncode == 0


@pytest.mark.parametrize("name", ["README.md", "RELEASING.md", ".github/workflows/ci.yml"])
def test_conflict_markers_in_any_tracked_file_fail(project, env, name) -> None:
    path = project / name
    path.write_text(path.read_text() + CONFLICT)
    result = conflicts(project, env)
    assert result.returncode != 0
    assert name in result.stdout and "merge-conflict markers" in result.stderr


def test_a_rejected_hunk_fails_even_before_it_is_added(project, env) -> None:
    (project / "Makefile.rej").write_text("@@ -1 +1 @@\n-old\n+new\n")
    result = conflicts(project, env)
    assert result.returncode != 0 and "Makefile.rej" in result.stderr


def test_make_lint_runs_the_guard(project, env) -> None:
    dry_run = run(["make", "-n", "lint"], project, env).stdout
    assert "git grep" in dry_run and "*.rej" in dry_run
