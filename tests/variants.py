"""The answer sets the tests render: one per lock tool and per repository host/publisher
pair, so every fragment of the template is rendered and validated."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Variant:
    id: str
    answers: dict[str, str] = field(default_factory=dict)


LOCK_VARIANTS = [
    Variant("uv", {"lock_tool": "uv"}),
]

VARIANTS = [
    Variant("uv-github"),
]


def adapt_for_this_machine(project: Path, variant: Variant) -> None:
    """Accommodations this test machine needs and users do not; applied to the test's copy
    only, never shipped. See ../shared/reference/environment.md."""
