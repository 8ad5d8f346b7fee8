"""A user runs `copier copy` with no --trust: the default project (uv, GitHub) appears."""

from __future__ import annotations

import filecmp
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT, SAMPLE_ANSWERS, copier_copy, run

DEFAULT_FILES = {
    ".copier-answers.yml",
    ".github/dependabot.yml",
    ".github/workflows/ci.yml",
    ".github/workflows/release.yml",
    ".github/workflows/template-update.yml",
    ".gitignore",
    ".pre-commit-config.yaml",
    "CHANGELOG.md",
    "DEVELOPMENT.md",
    "LICENSE",
    "Makefile",
    "README.md",
    "RELEASING.md",
    "SECURITY.md",
    "audit-exceptions.toml",
    "license-policy.toml",
    "pyproject.toml",
    "src/my_project/__init__.py",
    "src/my_project/py.typed",
    "tests/test_my_project.py",
    "tools/audit.py",
    "tools/expiring.py",
    "tools/licenses.py",
    "tools/toolchain.txt",
}


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_the_template_uses_no_feature_that_needs_trust() -> None:
    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    assert not {"_tasks", "_jinja_extensions", "_migrations"} & set(config)


def test_the_real_cli_renders_the_default_project_without_trust(render) -> None:
    project = render()
    assert tree(project) == DEFAULT_FILES


def test_the_cli_needs_no_trust_and_prints_the_next_steps(template, env, tmp_path) -> None:
    # Interactive use, as in the README: no --quiet, no --trust, exit code 0.
    command = [sys.executable, "-m", "copier", "copy", "--defaults", "--vcs-ref", "HEAD"]
    result = run([*command, str(template), str(tmp_path / "p")], tmp_path, env)
    assert "unsafe" not in result.stderr.lower()
    for step in ("make lock", "make install", "make check", "RELEASING.md"):
        assert step in result.stderr


def test_the_answers_file_records_every_answer_for_updates(render) -> None:
    answers = yaml.safe_load((render(**SAMPLE_ANSWERS) / ".copier-answers.yml").read_text())
    assert answers["_commit"]
    assert answers["project_name"] == "Acme Widgets"
    assert answers["distribution_name"] == "acme-widgets"
    assert answers["package_name"] == "acme_widgets"
    assert answers["lock_tool"] == "uv"
    assert answers["publisher"] == "github-actions"


def test_the_same_answers_render_byte_identical_trees(template, env, tmp_path) -> None:
    first, second = tmp_path / "a" / "p", tmp_path / "b" / "p"
    copier_copy(template, first, SAMPLE_ANSWERS, env)
    copier_copy(template, second, SAMPLE_ANSWERS, env)
    assert tree(first) == tree(second)
    _, mismatch, errors = filecmp.cmpfiles(first, second, sorted(tree(first)), shallow=False)
    assert mismatch == [] and errors == []
