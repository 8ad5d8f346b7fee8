"""A maintainer adds a choice by following docs/maintaining.md; a step left out fails here,
naming the file or insertion point that is missing. A typo in an insertion point, a
registry entry or a derived value fails the render, naming it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests import registries
from tests.rendering import ROOT, plain_snapshot

MAINTAINING = (ROOT / "docs" / "maintaining.md").read_text(encoding="utf-8")


def test_the_layout_keeps_its_promises() -> None:
    assert registries.problems() == []


def test_every_registry_is_offered_by_its_question() -> None:
    # The registry is the list of choices: copier offers exactly its entries.
    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    for question in registries.registries():
        assert f"data.choices.{question}" in config[question]["choices"], question


def checklist(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", MAINTAINING, re.M | re.S)
    assert match, f"docs/maintaining.md has no checklist '{title}'"
    return match[1]


@pytest.mark.parametrize(
    ("question", "title"),
    [("lock_tool", "Add a lock tool"), ("publisher", "Add a publisher")],
)
def test_the_checklist_names_every_file_a_new_choice_needs(question, title) -> None:
    text = checklist(title)
    assert f"includes/data/{question}s.yml" in text
    for folder in registries.part_folders()[question]:
        path = folder.relative_to(ROOT).as_posix()
        assert f"{path}/" in text, f"'{title}' does not name {path}/"


def test_every_other_parts_folder_is_named_by_a_checklist() -> None:
    for question, folders in registries.part_folders().items():
        for folder in folders:
            assert folder.relative_to(ROOT).as_posix() in MAINTAINING or question in {
                "lock_tool",
                "publisher",
            }, folder


# Mutations of a copy of the template ---------------------------------------------------------
@pytest.fixture
def mutable_template(tmp_path: Path) -> Path:
    return plain_snapshot(tmp_path / "template")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path}: {old!r} not found"
    path.write_text(text.replace(old, new, 1))


def test_a_new_lock_tool_without_its_parts_is_named(mutable_template) -> None:
    registry = mutable_template / "includes" / "data" / "lock_tools.yml"
    registry.write_text(
        registry.read_text()
        + "\nhatch:\n  label: hatch\n  name: Hatch\n  lock_files: [hatch.lock]\n"
        "  backend: hatchling\n  own_venv: true\n  resolves_for_its_python: false\n"
        "  dependabot: null\n  renovate: {manager: pep621}\n"
    )
    found = registries.problems(mutable_template)
    for missing in (
        "includes/parts/Makefile/lock_tool/hatch.jinja is missing",
        "includes/parts/pyproject.toml/lock_tool/hatch.jinja is missing",
        "includes/parts/DEVELOPMENT.md/lock_tool/hatch.jinja is missing",
        "includes/data/tools.yml: lock_tools.hatch (its toolchain) is missing",
        "includes/locks/hatch.txt is missing: run scripts/lock_toolchains.py",
    ):
        assert missing in found


def test_a_part_that_lacks_an_insertion_point_is_named(mutable_template) -> None:
    part = mutable_template / "includes" / "parts" / "Makefile" / "lock_tool" / "pdm.jinja"
    edit(part, "{% macro install() %}", "{% macro install_all() %}")
    found = registries.problems(mutable_template)
    assert "includes/parts/Makefile/lock_tool/pdm.jinja lacks macro install" in found


def test_a_publisher_that_forgets_a_block_is_named(mutable_template) -> None:
    part = (
        mutable_template / "includes" / "parts" / "RELEASING.md" / "publisher" / "activestate.jinja"
    )
    edit(part, "{% block verify %}", "{% block verification %}")
    found = registries.problems(mutable_template)
    assert "includes/parts/RELEASING.md/publisher/activestate.jinja lacks block verify" in found


def render_error(copie, template: Path, **answers) -> str:
    result = copie.copy(extra_answers=answers, template_dir=template)
    assert result.exception is not None, "the broken template rendered"
    return str(result.exception)


@pytest.mark.parametrize(
    ("path", "old", "new", "named"),
    [
        # A typo in an insertion point: the `instal` bug that once rendered an empty recipe.
        ("template/Makefile.jinja", "{{ tool.install() }}", "{{ tool.instal() }}", "instal"),
        # A derived value misspelt where it is used.
        ("template/pyproject.toml.jinja", "python_versions", "python_version", "python_version"),
        # A registry entry that names nothing.
        ("includes/data/lock_tools.yml", "backend: hatchling", "backend: hatchlin", "hatchlin"),
        # A RELEASING.md block left unfilled.
        (
            "includes/parts/RELEASING.md/publisher/github-actions.jinja",
            "{% block verify %}",
            "{% block verification %}",
            "RELEASING_publisher_lacks_block_verify",
        ),
    ],
)
def test_a_wrong_name_fails_the_render_naming_it(copie, mutable_template, path, old, new, named):
    edit(mutable_template / path, old, new)
    assert named in render_error(copie, mutable_template)


def test_a_derived_value_cannot_be_set_by_a_default(refuse) -> None:
    # Defaults come from settings files and pytest-copie's answers, which copier does not
    # validate for hidden questions: the guard in `_exclude` refuses them before writing.
    for name, value in {
        "repository_url": "https://evil.example/",
        "python_versions": ["2.7"],
    }.items():
        error = str(refuse(**{name: value}))
        assert f"{name} is derived from other answers and cannot be set" in error


def test_a_derived_value_cannot_be_set_by_data(template_dir, tmp_path) -> None:
    from copier import run_copy

    with pytest.raises(
        ValueError, match=r"repository_url.*is derived from other answers and cannot be set"
    ):
        run_copy(
            str(template_dir),
            tmp_path / "p",
            data={"repository_url": "https://x.example/"},
            defaults=True,
            quiet=True,
        )
    assert not (tmp_path / "p").exists()
