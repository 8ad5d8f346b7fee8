"""The default project (uv, GitHub): exactly these files, and the same answers always give
the same bytes."""

from __future__ import annotations

import filecmp
from pathlib import Path

from tests.conftest import SAMPLE_ANSWERS

DEFAULT_FILES = {
    ".copier-answers.yml",
    ".github/dependabot.yml",
    ".github/workflows/ci.yml",
    ".github/workflows/codeql.yml",
    ".github/workflows/dependency-review.yml",
    ".github/workflows/release.yml",
    ".github/workflows/scorecard.yml",
    ".github/workflows/template-update.yml",
    ".gitignore",
    ".pre-commit-config.yaml",
    ".secrets.baseline",
    "CHANGELOG.md",
    "DEVELOPMENT.md",
    "LICENSE",
    "Makefile",
    "README.md",
    "RELEASING.md",
    "SECURITY.md",
    "audit-exceptions.toml",
    "cooldown-exemptions.toml",
    "dependency-policy.toml",
    "docs/dependency-policy.md",
    "project.mk",
    "pyproject.toml",
    "src/my_project/__init__.py",
    "src/my_project/py.typed",
    "tests/test_my_project.py",
    "tools/admit.py",
    "tools/audit.py",
    "tools/build.py",
    "tools/cooldown.py",
    "tools/expiring.py",
    "tools/rebuild_check.py",
    "tools/release_check.py",
    "tools/secrets_baseline.py",
    "tools/toolchain.txt",
    "tools/verify_published.py",
    "tools/vex.py",
}


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_the_default_project_has_exactly_these_files(render) -> None:
    assert tree(render()) == DEFAULT_FILES


def test_the_same_answers_render_byte_identical_trees(copie_session, template_dir) -> None:
    first, second = (
        copie_session.copy(extra_answers=SAMPLE_ANSWERS, template_dir=template_dir).project_dir
        for _ in range(2)
    )
    assert tree(first) == tree(second)
    _, mismatch, errors = filecmp.cmpfiles(first, second, sorted(tree(first)), shallow=False)
    assert mismatch == [] and errors == []
