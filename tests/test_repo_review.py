"""Scientific Python's repo-review (sp-repo-review) finds nothing to fix in a generated
project: every check passes, or the project's `[tool.repo-review.ignore]` names it with the
reason this project meets it another way. A check that starts failing fails here, and so
does an ignore that is no longer needed. The README records the default project's score."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from repo_review.processor import process

from tests.rendering import ROOT
from tests.variants import VARIANTS, Variant

VARIANTS_AND_DEFAULT = [Variant("default"), *VARIANTS]


def review(project: Path) -> dict[str, bool | None]:
    """{check: True (passed), False (failed) or None (skipped: ignored or not applicable)}"""
    return {result.name: result.result for result in process(project).results}


def ignored(project: Path) -> dict[str, str]:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    return pyproject["tool"]["repo-review"]["ignore"]


@pytest.mark.parametrize("variant", VARIANTS_AND_DEFAULT, ids=lambda v: v.id)
def test_every_check_passes_or_is_ignored_with_a_reason(variant, render) -> None:
    project = render(**variant.answers)
    failed = [name for name, passed in review(project).items() if passed is False]
    assert failed == [], f"fix the template, or ignore with a reason: {failed}"
    for check, reason in ignored(project).items():
        assert re.fullmatch(r"[A-Z]+[0-9]+", check), check
        assert len(reason.split()) >= 5, f"{check}: say why this project meets it another way"


@pytest.mark.parametrize("variant", VARIANTS_AND_DEFAULT, ids=lambda v: v.id)
def test_every_ignore_is_still_needed(variant, render, fresh_copy) -> None:
    # Without the ignore list, each ignored check fails or does not apply; none passes.
    project = fresh_copy(render(**variant.answers))
    pyproject = project / "pyproject.toml"
    reasons = ignored(project)
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(re.sub(r"\n\[tool\.repo-review\.ignore\]\n.*", "\n", text, flags=re.S))
    results = review(project)
    assert not [check for check in reasons if results.get(check) is True]
    assert set(reasons) <= set(results), "an ignore names a check repo-review does not have"


def test_the_readme_records_the_default_projects_score(render) -> None:
    results = review(render())
    passed = sum(result is True for result in results.values())
    not_applicable = sum(result is None for result in results.values()) - len(ignored(render()))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    recorded = re.search(r"sp-repo-review[^|]*\|\s*(\d+) passed, 0 failed, (\d+) ignored", readme)
    assert recorded, "README.md's comparison table has no sp-repo-review row"
    assert (int(recorded[1]), int(recorded[2])) == (passed, len(ignored(render()))), (
        f"the default project: {passed} passed, {len(ignored(render()))} ignored with a "
        f"reason, {not_applicable} not applicable"
    )
