"""Trusted Publishing on PyPI's four providers: GitHub Actions, GitLab CI/CD, Google Cloud
Build and ActiveState, each from the repository hosts it can serve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.variants import ACTIVESTATE, GOOGLE, PUBLISHER_VARIANTS, Variant

DIGEST = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


@pytest.fixture(params=PUBLISHER_VARIANTS, ids=lambda v: v.id)
def variant(request) -> Variant:
    return request.param


@pytest.fixture
def project(variant, render) -> Path:
    return render(**variant.answers)


def answers_of(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


RELEASE_FILES = {
    "github-actions": {".github/workflows/release.yml"},
    "gitlab-ci": {"tools/publish.txt"},
    "google-cloud-build": {"cloudbuild.yaml", "tools/publish.txt"},
    "activestate": set(),
}
ALL_RELEASE_FILES = set().union(*RELEASE_FILES.values())


def test_each_pair_gets_its_release_files_and_host_ci(project) -> None:
    answers = answers_of(project)
    present = {p for p in ALL_RELEASE_FILES if (project / p).exists()}
    assert present == RELEASE_FILES[answers["publisher"]]
    host_ci = {"github": ".github/workflows/ci.yml", "gitlab": ".gitlab-ci.yml"}
    assert (project / host_ci[answers["repository_host"]]).exists(), "tests run on the host"
    other = host_ci["gitlab" if answers["repository_host"] == "github" else "github"]
    assert not (project / other).exists()


TOKEN_READS = re.compile(
    r"PYPI_(API_)?TOKEN|TWINE_(PASSWORD|USERNAME)|UV_PUBLISH_(TOKEN|PASSWORD)|"
    r"PDM_PUBLISH_(PASSWORD|USERNAME)|POETRY_PYPI_TOKEN|POETRY_HTTP_BASIC|__token__|"
    r"secrets\.|password:|\$\{\{\s*env\.",
    re.IGNORECASE,
)


def test_no_file_reads_a_pypi_token_or_password(project) -> None:
    for path in project.rglob("*"):
        if path.is_file():
            found = TOKEN_READS.search(path.read_text(encoding="utf-8"))
            assert not found, f"{path.relative_to(project)}: {found.group(0)}"


def publisher_form(project: Path) -> dict[str, str]:
    text = (project / "RELEASING.md").read_text()
    table = text.split("enter exactly these values:", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1:3] for line in table.splitlines()[2:]]
    return {field.strip(): value.strip().strip("`") for field, value in rows}


def test_releasing_gives_the_publisher_form_values_from_the_answers(project) -> None:
    answers = answers_of(project)
    form = publisher_form(project)
    assert form.pop("PyPI Project Name (pending publishers only)") == answers["distribution_name"]
    expected = {
        "github-actions": {
            "Owner": answers["repository_owner"],
            "Repository name": answers["repository_name"],
            "Workflow name": "release.yml",
            "Environment name": "pypi",
        },
        "gitlab-ci": {
            "Namespace": answers["repository_owner"],
            "Project name": answers["repository_name"],
            "Top-level pipeline file path": ".gitlab-ci.yml",
            "Environment name": "pypi",
        },
        "google-cloud-build": {"Email": GOOGLE["gcp_service_account"]},
        "activestate": {
            "Organization": ACTIVESTATE["activestate_organization"],
            "Project": ACTIVESTATE["activestate_project"],
            "Actor Username": ACTIVESTATE["activestate_actor"],
        },
    }[answers["publisher"]]
    form.pop("Subject (optional)", None)
    assert form == expected


def test_security_policy_and_readme_link_to_the_repository_host(project) -> None:
    answers = answers_of(project)
    security = (project / "SECURITY.md").read_text()
    docs = security + (project / "README.md").read_text() + (project / "RELEASING.md").read_text()
    if answers["repository_host"] == "gitlab":
        assert "/-/issues/new?issue[confidential]=true" in security
        assert "github.com" not in docs and "GitHub Security Advisory" not in docs
    else:
        assert "/security/advisories/new" in security
        assert "gitlab.com" not in docs


def gitlab_pipeline(render) -> dict:
    return yaml.safe_load((render(**PUBLISHER_VARIANTS[3].answers) / ".gitlab-ci.yml").read_text())


def test_gitlab_publishes_only_protected_tags_from_a_protected_environment(render) -> None:
    pipeline = gitlab_pipeline(render)
    publish, attest, build = pipeline["publish"], pipeline["attest"], pipeline["build"]
    assert publish["environment"]["name"] == "pypi"
    assert publish["id_tokens"] == {"PYPI_ID_TOKEN": {"aud": "pypi"}}
    assert attest["id_tokens"] == {"SIGSTORE_ID_TOKEN": {"aud": "sigstore"}}
    assert "id_tokens" not in build, "the build job holds no credentials"
    for job in (publish, attest):
        assert all("CI_COMMIT_REF_PROTECTED" in rule["if"] for rule in job["rules"])
    assert publish["needs"] == ["attest"] and attest["needs"] == ["build"]
    assert publish["script"] == ["make publish"] and attest["script"] == ["make attest"]


def test_gitlab_images_are_pinned_by_digest(render) -> None:
    pipeline = gitlab_pipeline(render)
    images = [pipeline["default"]["image"]] + [
        job["image"] for job in pipeline.values() if isinstance(job, dict) and "image" in job
    ]
    assert images and all(DIGEST.match(image) for image in images), images


def test_gitlab_tests_every_supported_python(render) -> None:
    from tests.test_single_source import supported

    matrix = gitlab_pipeline(render)["test"]["parallel"]["matrix"]
    assert matrix == [{"PYTHON_VERSION": supported()}]


def test_cloud_build_runs_as_the_dedicated_account_with_pinned_images(render) -> None:
    project = render(**PUBLISHER_VARIANTS[1].answers)
    build = yaml.safe_load((project / "cloudbuild.yaml").read_text())
    assert build["serviceAccount"] == (
        f"projects/{GOOGLE['gcp_project_id']}/serviceAccounts/{GOOGLE['gcp_service_account']}"
    )
    assert build["options"]["logging"] == "CLOUD_LOGGING_ONLY"
    assert [step["id"] for step in build["steps"]] == ["check-tag", "build", "attest", "publish"]
    for step in build["steps"]:
        assert DIGEST.match(step["name"]), step["name"]
        assert step["entrypoint"] == "make"


def test_activestate_gets_instructions_not_fake_state_tool_files(render) -> None:
    project = render(**PUBLISHER_VARIANTS[2].answers)
    assert not list(project.rglob("buildscript.as")) and not list(project.rglob("activestate.yaml"))
    releasing = (project / "RELEASING.md").read_text()
    assert "must be\n  private" in releasing or "must be private" in releasing
    assert "no PEP 740 attestations" in releasing
    assert "--namespace private/acme-org" in releasing
    assert "publish_receipt = pypi_publisher(" in releasing
    for command in ("state publish", "state commit", "state eval publish_receipt"):
        assert command in releasing


def test_github_release_separates_building_from_publishing(render) -> None:
    release = yaml.safe_load((render() / ".github" / "workflows" / "release.yml").read_text())
    assert release[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the `on` key as True
    assert release["permissions"] == {}
    jobs = release["jobs"]
    assert jobs["build"]["permissions"] == {"contents": "read"}, "the build holds no credentials"
    publish = jobs["publish"]
    assert publish["needs"] == ["build"]
    assert publish["environment"]["name"] == "pypi"
    assert publish["environment"]["url"] == "https://pypi.org/project/my-project/"
    assert publish["permissions"] == {"id-token": "write"}
    steps = publish["steps"]
    assert len(steps) == 2, "download the files, publish them: nothing else runs with the token"
    assert steps[1]["uses"].startswith("pypa/gh-action-pypi-publish@")
    assert steps[1]["with"]["attestations"] is True
    assert jobs["provenance"]["permissions"] == {"id-token": "write", "attestations": "write"}
    assert set(jobs["github"]["needs"]) == {"publish", "provenance"}
    assert jobs["github"]["permissions"] == {"contents": "write"}
    for name, job in jobs.items():
        if name != "build":
            assert all("cache" not in str(step) for step in job["steps"]), name
