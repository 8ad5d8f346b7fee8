"""The default project (uv, GitHub): exactly these files, and the same answers always give
the same bytes."""

from __future__ import annotations

import datetime
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


def test_the_licence_names_this_year_unless_told_otherwise(render) -> None:
    # The golden copies pin the year (tests/rendering.py GOLDEN_YEAR); this is the default.
    before = datetime.date.today().year
    license_text = (render() / "LICENSE").read_text()
    years = {before, datetime.date.today().year}  # the render may cross midnight
    assert any(f"Copyright (c) {year} " in license_text for year in years), license_text[:200]


def test_the_same_answers_render_byte_identical_trees(copie_session, template_dir) -> None:
    first, second = (
        copie_session.copy(extra_answers=SAMPLE_ANSWERS, template_dir=template_dir).project_dir
        for _ in range(2)
    )
    assert tree(first) == tree(second)
    _, mismatch, errors = filecmp.cmpfiles(first, second, sorted(tree(first)), shallow=False)
    assert mismatch == [] and errors == []


def test_both_ownership_tables_name_the_files_an_update_recreates_only_if_missing(
    render,
) -> None:
    import re

    import yaml

    from tests.rendering import ROOT

    recreated = set(yaml.safe_load((ROOT / "copier.yml").read_text())["_skip_if_exists"])
    readme = (ROOT / "README.md").read_text()
    (row,) = [line for line in readme.splitlines() if line.startswith("| The project, from")]
    assert set(re.findall(r"`([^`]+)`", row.split("|")[2])) == recreated
    development = (render() / "DEVELOPMENT.md").read_text()
    (row,) = [line for line in development.splitlines() if "re-created only if missing" in line]
    assert set(re.findall(r"`([^`]+)`", row.split("|")[2])) == recreated
