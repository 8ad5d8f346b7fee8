"""The answer sets the tests render: one per lock tool and per repository host/publisher
pair, so every fragment of the template is rendered and validated."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

GOOGLE = {
    "publisher": "google-cloud-build",
    "gcp_project_id": "acme-releases",
    "gcp_service_account": "pypi-publisher@acme-releases.iam.gserviceaccount.com",
}
ACTIVESTATE = {
    "publisher": "activestate",
    "activestate_organization": "acme-org",
    "activestate_project": "acme-widgets",
    "activestate_actor": "acme-release-bot",
}
GITLAB = {"repository_host": "gitlab", "repository_owner": "acme/python"}


@dataclass(frozen=True)
class Variant:
    id: str
    answers: dict[str, str] = field(default_factory=dict)


LOCK_VARIANTS = [
    Variant("uv", {"lock_tool": "uv"}),
    Variant("pdm", {"lock_tool": "pdm"}),
    Variant("poetry", {"lock_tool": "poetry"}),
    Variant("pip-tools", {"lock_tool": "pip-tools"}),
]

# Every valid repository host x publisher pair.
PUBLISHER_VARIANTS = [
    Variant("github+github-actions", {"publisher": "github-actions"}),
    Variant("github+google-cloud-build", GOOGLE),
    Variant("github+activestate", ACTIVESTATE),
    Variant("gitlab+gitlab-ci", {**GITLAB, "publisher": "gitlab-ci"}),
    Variant("gitlab+google-cloud-build", {**GITLAB, **GOOGLE}),
    Variant("gitlab+activestate", {**GITLAB, **ACTIVESTATE}),
]

VARIANTS = [
    *LOCK_VARIANTS,
    *PUBLISHER_VARIANTS[1:],
    Variant("uv-renovate", {"dependency_bot": "renovate"}),
    Variant("github+grype", {"vulnerability_scanner": "grype"}),
    Variant("gitlab+trivy", {**GITLAB, "vulnerability_scanner": "trivy", "lock_tool": "poetry"}),
    Variant("gitlab+gitlab-ci+pip-tools", {**GITLAB, "lock_tool": "pip-tools"}),
]

# Poetry resolves through PyPI's JSON API, which this test machine cannot reach; the
# simple index can. Users reach the JSON API, so this never ships.
POETRY_SIMPLE_INDEX = """
[[tool.poetry.source]]
name = "pypi-simple"
url = "https://pypi.org/simple/"
priority = "primary"
"""


def adapt_for_this_machine(project: Path, variant: Variant) -> None:
    """Accommodations this test machine needs and users do not, applied to the test's copy
    only: this machine reaches PyPI's simple index, not its JSON API. PDM's `hishel<2` is not one of them: it
    is a real incompatibility of PDM 2.29, so the shipped toolchain lock carries it."""
    if variant.answers.get("lock_tool") == "poetry":
        pyproject = project / "pyproject.toml"
        pyproject.write_text(pyproject.read_text() + POETRY_SIMPLE_INDEX)
