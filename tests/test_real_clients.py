"""The clients the template's promises depend on, run for real (tests/clients.py): Renovate
validates every generated renovate.json and the template's own, and extracts every pin a
project holds, except those the template owns, which it leaves alone; gitlab-ci-local runs
the GitLab pipeline's non-publishing jobs with its shell executor, for every lock tool."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.clients import (
    Clients,
    gitlab_ci_local,
    install_clients,
    renovate_extract,
    validate_renovate_configs,
)
from tests.conftest import run
from tests.projects import lock_and_admit
from tests.rendering import ROOT, pairwise_combinations
from tests.variants import Variant, adapt_for_this_machine

pytestmark = pytest.mark.slow

TEMPLATE_URL = "https://github.com/acme/template.git"
LOCK_TOOLS = yaml.safe_load((ROOT / "includes" / "data" / "lock_tools.yml").read_text())
PINNED_IMAGE = re.compile(r"([a-z0-9][a-z0-9./-]*):[\w.-]+@sha256:[0-9a-f]{64}")
USES = re.compile(r"uses:\s*([^@\s]+)@([0-9a-f]{40})")


@pytest.fixture(scope="session")
def clients() -> Clients:
    return install_clients()  # .ci/run installs them first; then this is a no-op


def renovate_projects(config) -> list[dict[str, str]]:
    """The pairwise matrix's Renovate projects."""
    return [c for c in pairwise_combinations(config) if c["dependency_bot"] == "renovate"]


def test_every_renovate_config_is_valid(request, clients, render, env) -> None:
    configs = [render(**c) / "renovate.json" for c in renovate_projects(request.config)]
    result = validate_renovate_configs(clients, [*configs, ROOT / "renovate.json"], base_env=env)
    assert result.ok, {str(p): v.messages() for p, v in result.files.items() if not v.ok}


def first_commit(project: Path, answers: dict[str, str], env: dict[str, str], index) -> Path:
    """The maintainer's first commit, generated from the template's git URL (as Renovate's
    copier manager needs), with its lock."""
    adapt_for_this_machine(project, Variant("client", answers))
    path = project / ".copier-answers.yml"
    answers = re.sub(r"(?m)^_(src_path|commit): .*\n", "", path.read_text())
    header, _, rest = answers.partition("\n")  # copier's comment line stays first
    path.write_text(f"{header}\n_commit: v1.0.0\n_src_path: {TEMPLATE_URL}\n{rest}")
    run(["git", "init", "-q"], project, env)
    lock_and_admit(project, env, index)
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-q", "-m", "first commit"], project, env)
    return project


# One project per lock tool, on both hosts, with every image-bearing choice.
EXTRACTED = [
    {
        "lock_tool": "uv",
        "dependency_bot": "renovate",
        "vulnerability_scanner": "grype",
        "publisher": "google-cloud-build",
    },
    {"lock_tool": "pdm", "vulnerability_scanner": "trivy"},
    {
        "lock_tool": "poetry",
        "repository_host": "gitlab",
        "repository_owner": "acme/python",
        "vulnerability_scanner": "trivy",
    },
    {
        "lock_tool": "pip-tools",
        "repository_host": "gitlab",
        "repository_owner": "acme/python",
        "publisher": "google-cloud-build",
    },
]


@pytest.mark.parametrize("answers", EXTRACTED, ids=lambda a: a["lock_tool"])
def test_renovate_moves_every_pin_the_template_does_not_own(
    answers, clients, render, fresh_copy, project_env, package_index, tmp_path
):
    project = first_commit(fresh_copy(render(**answers)), answers, project_env, package_index)
    found = renovate_extract(
        clients, project, tmp_path / "renovate", base_env=project_env, lookup=True
    )
    problems = [
        w for w in found.warnings() if "GitHub token" not in w and "Failed to look up" not in w
    ]
    assert not [w for w in problems if "found no results" in w or "error" in w.lower()], problems
    every = [d for manager in found.package_files for d in found.deps(manager)]
    # The lock: the dev tools are extracted with their locked versions.
    python = {
        d["depName"]: d for d in found.deps(LOCK_TOOLS[answers["lock_tool"]]["renovate"]["manager"])
    }
    assert python["pytest"].get("lockedVersion") or python["pytest"].get("currentVersion"), (
        python.get("pytest")
    )
    # The template itself, for `copier update` pull requests.
    assert [d["depName"] for d in found.deps("copier")] == [TEMPLATE_URL]
    # Every image pinned anywhere (CI, Cloud Build, the Makefile's scanner) is extracted.
    text = "\n".join(
        p.read_text(errors="replace")
        for p in project.rglob("*")
        if p.is_file()
        and not {".git", ".tools", ".venv"} & set(p.parts)
        and p.name != "toolchain.txt"
    )
    images = set(PINNED_IMAGE.findall(text))
    docker = {
        d["depName"] for d in every if d.get("datasource") == "docker" and not d.get("skipReason")
    }
    assert images and images <= docker, images - docker
    # Every action pinned in a workflow is extracted, and none is disabled.
    # Renovate names an action by its repository (github/codeql-action for .../init).
    actions = {"/".join(name.split("/")[:2]) for name, _ in USES.findall(text)}
    moved = {
        d["depName"]
        for d in found.deps("github-actions")
        if d.get("depType") == "action" and not d.get("skipReason")
    }
    assert actions <= moved, actions - moved
    # What the template owns is disabled, and only that: the Python versions CI runs and
    # the runner images (renovate.json says so, rule by rule).
    disabled = {
        (d.get("depType"), d["depName"]) for d in every if d.get("skipReason") == "disabled"
    }
    # pip-compile's indirect dependencies are Renovate's own exception: they move with the
    # weekly lock file maintenance, as every other lock tool's transitive pins do.
    owned = {"uses-with", "github-runner"}
    if answers["lock_tool"] == "pip-tools":
        owned.add("indirect")
        config = json.loads((project / "renovate.json").read_text())
        assert config["lockFileMaintenance"]["enabled"] is True
    assert {dep_type for dep_type, _ in disabled} <= owned, disabled
    if answers.get("repository_host", "github") == "github":
        assert ("uses-with", "python") in disabled


def test_the_template_repository_moves_every_pin_of_its_tables(clients, env, tmp_path) -> None:
    from tests.conftest import snapshot_template

    repository = snapshot_template(tmp_path / "template", env, whole=True)
    found = renovate_extract(clients, repository, tmp_path / "renovate", base_env=env)
    files = {d["packageFile"] for m in found.package_files for d in found.deps(m)}
    assert not [f for f in files if f.startswith(("tests/", "template/"))], (
        "generated projects' copies are not the template's pins"
    )
    regex = found.deps("regex")
    data = ROOT / "includes" / "data"
    actions = yaml.safe_load((data / "actions.yml").read_text())
    images = yaml.safe_load((data / "images.yml").read_text())
    tools_text = (data / "tools.yml").read_text()
    by_file: dict[str, set[str]] = {}
    for dep in regex:
        by_file.setdefault(dep["packageFile"], set()).add(dep["depName"])
    assert {name.split("/")[0] + "/" + name.split("/")[1] for name in actions} <= by_file[
        "includes/data/actions.yml"
    ]
    assert {entry["image"].split(":")[0] for entry in images.values()} <= by_file[
        "includes/data/images.yml"
    ]
    pins = set(
        re.findall(r"^\s*-?\s*\"?([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==", tools_text, re.M)
    )
    assert pins and pins <= by_file["includes/data/tools.yml"], (
        pins - by_file["includes/data/tools.yml"]
    )


GITLAB_JOBS = ["lock", "test: [3.11]", "lint", "security", "build", "rebuild", "evidence"]


@pytest.mark.parametrize("lock_tool", LOCK_TOOLS)
def test_gitlab_ci_local_runs_every_non_publishing_job(
    lock_tool, clients, render, fresh_copy, project_env, package_index, osv, tmp_path
):
    answers = {
        "repository_host": "gitlab",
        "repository_owner": "acme/python",
        "lock_tool": lock_tool,
    }
    project = first_commit(fresh_copy(render(**answers)), answers, project_env, package_index)
    run(
        ["git", "remote", "add", "origin", "https://gitlab.com/acme/python/my-project.git"],
        project,
        project_env,
    )
    run(["git", "tag", "v0.1.0"], project, project_env)
    # origin, as the jobs reach it: a local copy stands in for gitlab.com, where the release
    # check fetches the default branch from (gitlab-ci-local itself still reads the URL).
    origin = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", str(origin)], tmp_path, project_env)
    run(["git", "push", "-q", str(origin), "main", "v0.1.0"], project, project_env)
    variables = {
        "PIP_AUDIT_VULNERABILITY_SERVICE": "osv",
        "PIP_AUDIT_OSV_URL": osv.query_url,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{origin}.insteadOf",
        "GIT_CONFIG_VALUE_0": "https://gitlab.com/acme/python/my-project.git",
    }
    for job in GITLAB_JOBS:
        if job == "build":  # the release jobs run for tags, on the tagged commit
            variables.update({"CI_COMMIT_TAG": "v0.1.0", "CI_DEFAULT_BRANCH": "main"})
        result = gitlab_ci_local(
            clients, project, job, variables=variables, base_env=project_env, home=tmp_path / "home"
        )
        assert result.ok, f"{job}:\n{result.output[-6000:]}"
    # The jobs ran in one checkout, as gitlab-ci-local's shell executor does: the toolchain
    # was built once, from the image's Python, whatever each job's PYTHON_VERSION.
    assert (project / "dist").is_dir() and len(list((project / "dist").iterdir())) == 2
