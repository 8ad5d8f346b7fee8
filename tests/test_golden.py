"""Golden renders: representative projects, rendered and committed (tests/golden/), so a
template change shows its effect on generated files in the diff a reviewer reads, and an
insertion point that silently renders nothing fails here at once."""

from __future__ import annotations

import pytest

from tests.rendering import golden_differences, golden_variants

VARIANTS = golden_variants()


@pytest.mark.parametrize("name", VARIANTS)
def test_the_rendered_project_matches_its_golden_copy(name, render) -> None:
    problems = golden_differences(name, render(**VARIANTS[name]))
    assert not problems, (
        "the rendered project differs from tests/golden/"
        f"{name}; if the change is intended, run "
        "`python3 -m uv run --locked python scripts/refresh_golden.py` and review the diff\n"
        + "\n".join(problems)[:8000]
    )
