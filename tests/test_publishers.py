"""Trusted Publishing on PyPI's four providers: GitHub Actions, GitLab CI/CD, Google Cloud
Build and ActiveState, each from the repository hosts it can serve."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.github_output import output_of
from tests.index_server import IndexServer
from tests.variants import ACTIVESTATE, GITLAB, GOOGLE, PUBLISHER_VARIANTS, Variant

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
    # GitHub's secrets context, not the secret scan's .secrets.baseline or detect_secrets.
    r"(?<![\w.])secrets\.|password:|\$\{\{\s*env\.",
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


# The make targets that run only the hash-locked toolchain, never the project's
# dependencies: the only ones a job that builds or publishes the release may run.
TOOLCHAIN_ONLY = {
    "release-check", "build", "rebuild-check", "protection-check", "attest", "provenance",
    "publish", "verify-published", "gitlab-release",
}  # fmt: skip
GATE = {"lock", "test", "lint", "security"}


def make_targets(commands: list[str]) -> list[str]:
    """The make targets a job's script runs, in order (a line of a `run:` block each)."""
    return [
        target
        for command in commands
        for line in command.splitlines()
        if line.startswith("make ")
        for target in line.split("#")[0].split()[1:]
        if "=" not in target
    ]


def needs(jobs: dict, name: str) -> set[str]:
    """Every job `name` waits for, directly or not (GitLab `needs:` or GitHub `needs:`)."""
    found: set[str] = set()
    todo = [name]
    while todo:
        for need in jobs[todo.pop()].get("needs", []):
            need = need["job"] if isinstance(need, dict) else need
            if need not in found:
                found.add(need)
                todo.append(need)
    return found


def test_gitlab_publishes_after_every_check_and_the_rebuild(render) -> None:
    pipeline = gitlab_pipeline(render)
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict) and "stage" in job}
    assert GATE | {"build", "rebuild"} <= needs(jobs, "publish")
    assert "evidence" not in needs(jobs, "publish"), "the SBOM job's files never feed publish"
    # The jobs that produce, check or publish dist/ run nothing but the toolchain.
    for name in ("build", "rebuild", "publish", "verify-published", "release"):
        targets = make_targets(jobs[name]["script"])
        assert targets and set(targets) <= TOOLCHAIN_ONLY, (name, targets)
    assert make_targets(jobs["build"]["script"]) == ["release-check", "build"]
    assert jobs["build"]["variables"]["GIT_DEPTH"] == "0", "the default-branch check needs history"
    assert needs(jobs, "release") >= {"publish", "verify-published", "evidence"}
    assert needs(jobs, "verify-published") >= {"publish", "build"}


def test_a_gitlab_tag_name_reaches_the_release_commands_as_a_variable_only(render) -> None:
    # git allows `$(`, `;` and backquotes in a tag's name: make must not paste it into a
    # command line, where the shell would run it.
    project = render(**GITLAB)
    tag = "v0.1.0$(touch${IFS}pwned)`id`"
    printed = subprocess.run(
        ["make", "-n", "--no-print-directory", "provenance-check", "gitlab-release"],
        cwd=project, env={"PATH": os.environ["PATH"], "CI_COMMIT_TAG": tag},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "pwned" not in printed and "`id`" not in printed, printed
    assert printed.count("${CI_COMMIT_TAG}") == 4  # the provenance identity, three file names
    assert '@refs/tags/${CI_COMMIT_TAG}"' in printed
    for line in printed.splitlines():
        if "${CI_COMMIT_TAG}" in line:
            assert re.search(r'"[^"]*\$\{CI_COMMIT_TAG\}[^"]*"', line), line  # inside quotes


def test_no_environment_variable_points_the_release_check_at_other_signers(render) -> None:
    # CI variables reach make as environment variables; the signers file is the tagged
    # commit's own, whatever they say.
    for answers in ({}, GITLAB):
        printed = subprocess.run(
            ["make", "-n", "--no-print-directory", "release-check"],
            cwd=render(**answers), env={"PATH": os.environ["PATH"], "ALLOWED_SIGNERS": "nofile"},
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert "tools/release_check.py --signers .allowed_signers" in printed, printed


def test_gitlab_signs_only_in_the_protected_publish_job(render) -> None:
    pipeline = gitlab_pipeline(render)
    publish = pipeline["publish"]
    assert publish["environment"]["name"] == "pypi"
    assert publish["id_tokens"] == {
        "PYPI_ID_TOKEN": {"aud": "pypi"},
        "SIGSTORE_ID_TOKEN": {"aud": "sigstore"},
    }
    assert all("CI_COMMIT_REF_PROTECTED" in rule["if"] for rule in publish["rules"])
    assert publish["before_script"] == [], "no toolchain install next to the tokens"
    assert make_targets(publish["script"]) == [
        "protection-check",
        "attest",
        "provenance",
        "publish",
    ]
    others = [
        name for name, job in pipeline.items() if isinstance(job, dict) and "id_tokens" in job
    ]
    assert others == ["publish"], "no other job holds an OIDC token"
    text = (render(**PUBLISHER_VARIANTS[3].answers) / ".gitlab-ci.yml").read_text()
    for grant in ("aud: pypi", "aud: sigstore"):
        assert re.search(rf"{grant} # \S", text), f"{grant} has no comment"


def github_release(render) -> dict:
    return yaml.safe_load((render() / ".github" / "workflows" / "release.yml").read_text())


def test_github_publishes_after_the_checks_and_the_rebuild(render) -> None:
    release = github_release(render)
    assert release[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the `on` key as True
    assert release["permissions"] == {}
    jobs = release["jobs"]
    assert jobs["ci"]["uses"] == "$/.github/workflows/ci.yml"
    ci = yaml.safe_load((render() / ".github" / "workflows" / "ci.yml").read_text())
    assert "workflow_call" in ci[True], "release.yml runs CI's own jobs on the tagged commit"
    assert {"ci", "build", "rebuild"} <= needs(jobs, "publish")
    assert "evidence" not in needs(jobs, "publish"), "the SBOM job's files never feed publish"
    assert {"publish", "verify", "evidence"} <= needs(jobs, "github")
    for name in ("build", "rebuild", "verify"):
        runs = [step["run"] for step in jobs[name]["steps"] if "run" in step]
        targets = make_targets(runs)
        assert targets and set(targets) <= TOOLCHAIN_ONLY, (name, targets)
    build = [step.get("run", "") for step in jobs["build"]["steps"]]
    assert make_targets(build) == ["release-check", "build"]
    assert build.index("make build") == len(build) - 3, "after the build: its sha256, the upload"
    assert jobs["build"]["steps"][0]["with"]["fetch-depth"] == 0


def test_github_signs_and_verifies_provenance_after_approval_then_publishes(render) -> None:
    jobs = github_release(render)["jobs"]
    publish = jobs["publish"]
    assert publish["environment"]["name"] == "pypi"
    assert publish["environment"]["url"] == "https://pypi.org/project/my-project/"
    assert publish["permissions"] == {"id-token": "write", "attestations": "write"}
    steps = publish["steps"]
    uses = [step.get("uses", "run").split("@")[0] for step in steps]
    assert uses == [
        "actions/download-artifact",
        "run",
        "actions/attest-build-provenance",
        "run",
        "pypa/gh-action-pypi-publish",
        "actions/upload-artifact",
    ], "nothing but the files, their check, provenance and the upload in the job with the tokens"
    assert [s["with"]["name"] for s in steps if "download-artifact" in s.get("uses", "")] == [
        "distributions"
    ]
    assert steps[1]["env"] == {"SHA256": "${{ needs.build.outputs.sha256 }}"}
    verify = steps[3]["run"]
    for flag in ("gh attestation verify", "--signer-workflow", "/.github/workflows/release.yml",
                 '--source-ref "$REF"', "--deny-self-hosted-runners"):  # fmt: skip
        assert flag in verify
    assert steps[3]["env"]["REF"] == "${{ github.ref }}"
    assert steps[4]["with"]["attestations"] is True
    # A private repository without artifact attestations switches them off with a variable
    # (RELEASING.md); PyPI's PEP 740 attestations stay, and nothing else is skipped.
    gated = [s.get("name") for job in jobs.values() for s in job.get("steps", []) if "if" in s]
    assert all(
        s["if"] == "vars.ARTIFACT_ATTESTATIONS != 'unavailable'"
        for job in jobs.values() for s in job.get("steps", []) if "if" in s
    )  # fmt: skip
    assert len(gated) == 4 and "pypa/gh-action-pypi-publish" not in str(gated)
    assert "if" not in steps[4]
    assert jobs["github"]["permissions"] == {"contents": "write"}
    assert "${TAG}.provenance.intoto.jsonl" in jobs["github"]["steps"][-1]["run"]
    for name, job in jobs.items():
        for step in job.get("steps", []):
            assert "cache" not in str(step.get("with", {})), name


def test_every_job_checks_the_distributions_against_the_sha256_the_build_job_recorded(
    render, tmp_path
) -> None:
    # A later job of the run (the tests run the project's dependencies) could replace the
    # `distributions` artifact; the build job's output cannot be changed after it ends.
    jobs = github_release(render)["jobs"]
    assert jobs["build"]["outputs"] == {"sha256": "${{ steps.sha256.outputs.sha256 }}"}
    record = next(step for step in jobs["build"]["steps"] if step.get("id") == "sha256")
    checks = {}
    for name, job in jobs.items():
        steps = job.get("steps", [])
        for index, step in enumerate(steps):
            if step.get("with", {}).get("name") == "distributions" and "download" in step["uses"]:
                assert "build" in job["needs"], name
                checks[name] = steps[index + 1]
    assert set(checks) == {"rebuild", "publish", "verify", "github"}
    assert all(step == checks["publish"] | {"run": step["run"]} for step in checks.values())

    # The generated scripts themselves, with bash: the build job records, a later job checks.
    build = tmp_path / "build"
    (build / "dist").mkdir(parents=True)
    for name in ("my_project-0.1.0-py3-none-any.whl", "my_project-0.1.0.tar.gz"):
        (build / "dist" / name).write_bytes(name.encode())
    output = tmp_path / "github-output"
    output.write_text("")
    subprocess.run(["bash", "-e", "-c", record["run"]], cwd=build, check=True,
                   env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output)})  # fmt: skip
    sha256 = output_of(output)["sha256"]
    assert len(sha256.splitlines()) == 2

    def check(digests: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-e", "-c", checks["publish"]["run"]], cwd=build,
                              env={"PATH": os.environ["PATH"], "SHA256": digests},
                              capture_output=True, text=True, check=False)  # fmt: skip

    assert check(sha256).returncode == 0
    assert check("").returncode != 0, "no recorded sha256: nothing is accepted"
    (build / "dist" / "my_project-0.1.0.tar.gz").write_bytes(b"swapped")
    assert check(sha256).returncode != 0, "a replaced file"
    (build / "dist" / "my_project-0.1.0.tar.gz").write_bytes(b"my_project-0.1.0.tar.gz")
    (build / "dist" / "my_project-0.1.1-py3-none-any.whl").write_bytes(b"extra")
    refused = check(sha256)
    assert refused.returncode != 0 and "not the ones the build job made" in refused.stderr
    (build / "dist" / "my_project-0.1.1-py3-none-any.whl").unlink()
    (build / "dist" / "my_project-0.1.0.tar.gz").unlink()
    assert check(sha256).returncode != 0, "a missing file"


def test_releasing_fetches_the_files_to_verify_as_bytes_from_the_index(render, tmp_path) -> None:
    # RELEASING.md's first verification step, run with bash against a local index that
    # serves PyPI's JSON API: it downloads exactly the release's files, and builds nothing.
    releasing = (render() / "RELEASING.md").read_text()
    step = releasing.split("# 1. The files, from PyPI", 1)[1].split("\n\n", 1)[0]
    command = step.split("\n", 2)[2]  # after the comment's two lines
    files = {
        "my_project-0.1.0.tar.gz": b"an sdist",
        "my_project-0.1.0-py3-none-any.whl": b"a wheel",
    }
    with IndexServer() as index:
        index.publish("my-project", "0.1.0", files)
        local = command.replace("https://pypi.org", index.address).replace("X.Y.Z", "0.1.0")
        assert local != command
        subprocess.run(["bash", "-e", "-o", "pipefail", "-c", local], cwd=tmp_path, check=True,
                       env={"PATH": os.environ["PATH"]})  # fmt: skip
    fetched = {path.name: path.read_bytes() for path in (tmp_path / "check").iterdir()}
    assert fetched == files


def test_every_github_grant_says_why(render) -> None:
    for path in (render() / ".github" / "workflows").glob("*.yml"):
        for line in path.read_text().splitlines():
            if re.fullmatch(r"\s+[a-z-]+: (read|write)(\s.*)?", line):
                assert re.search(r": (read|write) # \S", line), f"{path.name}: {line.strip()}"


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
    steps = [step["id"] for step in build["steps"]]
    assert steps == [
        "release-check", "build", "rebuild-check", "sign", "publish", "verify-published", "evidence",
    ]  # fmt: skip
    # Every step can reach the service account's identity: none before the upload runs the
    # project's dependencies; the SBOM comes after it.
    for step in build["steps"][: steps.index("verify-published") + 1]:
        assert set(step["args"]) <= TOOLCHAIN_ONLY, step
    for step in build["steps"]:
        assert DIGEST.match(step["name"]), step["name"]
        assert step["entrypoint"] == "make"
    assert build["steps"][0]["env"] == ["TAG=$TAG_NAME", "DEFAULT_BRANCH=main"]
    assert set(build["substitutions"]) == {"_EVIDENCE_BUCKET"}, "nothing a run may change"
    ci = project / ".github" / "workflows" / "ci.yml"
    assert yaml.safe_load(ci.read_text())[True]["push"]["tags"] == ["v*"], "checks on the tag"


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
