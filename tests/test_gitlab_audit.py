"""Every generated GitLab pipeline keeps the rules zizmor would enforce if it read GitLab CI
(tests/gitlab_audit.py): images pinned by digest, OIDC tokens only on protected tags and in
their environment, publishing not interruptible, nothing unpinned fetched, no token where
merge-request code runs, schedule-only jobs that really are. Each rule is shown to fail on
a deliberately broken copy."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gitlab_audit import audit
from tests.rendering import pairwise_combinations
from tests.variants import GITLAB, GOOGLE

# The static bar renders the same matrix; sharing its worker shares the renders.
pytestmark = pytest.mark.xdist_group("matrix")

PIPELINES = (".gitlab-ci.yml", "cloudbuild.yaml")


def test_every_generated_pipeline_passes_the_audit(request, render) -> None:
    projects = [render(**combination) for combination in pairwise_combinations(request.config)]
    audited = [
        project / name for project in projects for name in PIPELINES if (project / name).exists()
    ]
    assert {path.name for path in audited} == set(PIPELINES)
    findings = [str(finding) for path in audited for finding in audit(path)]
    assert findings == [], "\n".join(findings)


# Broken copies ---------------------------------------------------------------------------------
Document = dict[str, Any]


def jobs(document: Document) -> dict[str, Document]:
    return {
        name: job
        for name, job in document.items()
        if isinstance(job, dict) and ("script" in job or "stage" in job)
    }


def job(document: Document, test: Callable[[Document], bool]) -> Document:
    found = [value for value in jobs(document).values() if test(value)]
    assert found, "the generated pipeline has no such job any more: update this test"
    return found[0]


def runs(command: str) -> Callable[[Document], bool]:
    """A job whose script runs `command` (`make security` matches `make security sbom`)."""
    return lambda value: any(
        line == command or line.startswith(command + " ") for line in value.get("script", [])
    )


def publish(document: Document) -> Document:
    return job(document, lambda value: "environment" in value)


def scheduled(document: Document) -> Document:
    return job(document, lambda value: "schedule" in str(value.get("rules")))


def unpin(image: str) -> str:
    return image.split("@sha256:")[0]


def add_line(command: str) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        lint = job(document, runs("make lint"))
        lint["script"] = [command, *lint["script"]]

    return mutate


def cloud_build_step(document: Document, target: str) -> Document:
    return next(step for step in document["steps"] if step.get("args") == [target])


def unpin_job_image(document: Document) -> None:
    image = job(document, lambda value: "image" in value)["image"]
    image["name"] = unpin(image["name"])


def unpin_cloud_build_step(document: Document) -> None:
    step = cloud_build_step(document, "build")
    step["name"] = unpin(step["name"])


# case -> (file, mutation, the rules that must fire)
CASES: dict[str, tuple[str, Callable[[Document], None], set[str]]] = {
    "default image by tag": (
        ".gitlab-ci.yml",
        lambda d: d["default"].update(image=unpin(d["default"]["image"])),
        {"GL001"},
    ),
    "job image by tag": (".gitlab-ci.yml", unpin_job_image, {"GL001"}),
    "service by tag": (
        ".gitlab-ci.yml",
        lambda d: job(d, runs("make lint")).update(services=["postgres:16"]),
        {"GL001"},
    ),
    "runner's default image": (".gitlab-ci.yml", lambda d: d["default"].pop("image"), {"GL001"}),
    "cloud build step by tag": ("cloudbuild.yaml", unpin_cloud_build_step, {"GL001"}),
    "id token in a check job": (
        ".gitlab-ci.yml",
        lambda d: job(d, runs("make lint")).update(
            interruptible=False, id_tokens={"SIGSTORE_ID_TOKEN": {"aud": "sigstore"}}
        ),
        {"GL002", "GL005"},
    ),
    "publishing from unprotected tags": (
        ".gitlab-ci.yml",
        lambda d: publish(d).update(rules=[{"if": "$CI_COMMIT_TAG =~ /^v[0-9]/"}]),
        {"GL002"},
    ),
    "pypi token outside the pypi environment": (
        ".gitlab-ci.yml",
        lambda d: publish(d)["environment"].update(name="release"),
        {"GL002"},
    ),
    "token for another audience": (
        ".gitlab-ci.yml",
        lambda d: publish(d)["id_tokens"].update(OTHER_ID_TOKEN={"aud": "https://gitlab.com"}),
        {"GL002"},
    ),
    "cloud build as the default service account": (
        "cloudbuild.yaml",
        lambda d: d.update(serviceAccount="123456789-compute@developer.gserviceaccount.com"),
        {"GL002"},
    ),
    "interruptible publishing": (
        ".gitlab-ci.yml",
        lambda d: publish(d).pop("interruptible"),
        {"GL003"},
    ),
    "curl into a shell": (
        ".gitlab-ci.yml",
        add_line("curl -LsSf https://astral.sh/uv/install.sh | sh"),
        {"GL004"},
    ),
    "pip install without hashes": (
        ".gitlab-ci.yml",
        add_line("python -m pip install twine"),
        {"GL004"},
    ),
    "apt-get install": (".gitlab-ci.yml", add_line("apt-get install -y jq"), {"GL004"}),
    "cloud build pip install": (
        "cloudbuild.yaml",
        lambda d: cloud_build_step(d, "publish").update(
            entrypoint="bash", args=["-c", "pip install -U twine && make publish"]
        ),
        {"GL004"},
    ),
    "token variable where merge requests run": (
        ".gitlab-ci.yml",
        lambda d: job(d, runs("make security")).update(
            variables={"UPLOAD_TOKEN": "$DEPENDENCY_TRACK_TOKEN"}
        ),
        {"GL005"},
    ),
    "vault secret where merge requests run": (
        ".gitlab-ci.yml",
        lambda d: job(d, runs("make security")).update(
            secrets={"DB_PASSWORD": {"vault": "db/password@ops"}}
        ),
        {"GL005"},
    ),
    "scheduled job that also runs on main": (
        ".gitlab-ci.yml",
        lambda d: scheduled(d).update(
            rules=[
                {
                    "if": '$CI_PIPELINE_SOURCE == "schedule" || $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'
                }
            ]
        ),
        {"GL006"},
    ),
    "only: instead of rules:": (
        ".gitlab-ci.yml",
        lambda d: job(d, runs("make lint")).update(only=["main"]),
        {"GL006"},
    ),
    "GitLab's SAST template": (
        ".gitlab-ci.yml",
        lambda d: d.update(include=[{"template": "Jobs/SAST.gitlab-ci.yml"}]),
        {"GL007"},
    ),
    "remote include without integrity": (
        ".gitlab-ci.yml",
        lambda d: d.update(include=[{"remote": "https://example.org/ci.yml"}]),
        {"GL007"},
    ),
}


@pytest.fixture(scope="module")
def sources(render) -> dict[str, Path]:
    """A GitLab CI/CD pipeline that publishes and scans with its own image, and a Cloud
    Build file."""
    return {
        ".gitlab-ci.yml": render(**GITLAB, vulnerability_scanner="trivy") / ".gitlab-ci.yml",
        "cloudbuild.yaml": render(**GITLAB, **GOOGLE) / "cloudbuild.yaml",
    }


@pytest.mark.parametrize("case", CASES, ids=lambda case: re.sub(r"\W+", "-", case))
def test_each_rule_fails_on_a_broken_copy(case, sources, tmp_path) -> None:
    name, mutate, expected = CASES[case]
    document = yaml.safe_load(sources[name].read_text(encoding="utf-8"))
    assert audit(sources[name]) == []
    mutate(document)
    broken = tmp_path / name
    broken.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    findings = audit(broken)
    assert {finding.rule for finding in findings} == expected, "\n".join(map(str, findings))
