"""Every generated project passes the real validators: zizmor (pedantic), the JSON schemas
of its CI and bot configuration, validate-pyproject, pre-commit and Bandit."""

from __future__ import annotations

import json
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import run
from tests.variants import VARIANTS

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN))
    assert path, f"{name} is not installed in the test environment"
    return path


@pytest.fixture(params=VARIANTS, ids=lambda v: v.id)
def project(request, render) -> Path:
    return render(**request.param.answers)


def test_zizmor_pedantic_finds_nothing(project, env) -> None:
    workflows = project / ".github"
    if not workflows.exists():
        pytest.skip("no GitHub workflows in this variant")
    # No configuration and no ignore comments: the findings count is the real one.
    assert not list(project.rglob("zizmor.y*ml"))
    for path in workflows.rglob("*.yml"):
        assert "zizmor: ignore" not in path.read_text()
    result = run(
        [tool("zizmor"), "--offline", "--persona=pedantic", "--format=json", "."],
        project, env, check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)[:4000]
    assert result.returncode == 0, result.stderr


def test_workflows_match_the_github_schema(project, env) -> None:
    workflows = sorted((project / ".github" / "workflows").glob("*.yml"))
    if not workflows:
        pytest.skip("no GitHub workflows in this variant")
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
         *map(str, workflows)], project, env)


def test_gitlab_ci_matches_the_gitlab_schema(project, env) -> None:
    pipeline = project / ".gitlab-ci.yml"
    if not pipeline.exists():
        pytest.skip("not a GitLab project")
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(pipeline)],
        project, env)


def test_cloud_build_matches_the_cloudbuild_schema(project, env) -> None:
    config = project / "cloudbuild.yaml"
    if not config.exists():
        pytest.skip("not published by Google Cloud Build")
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.cloudbuild", str(config)],
        project, env)


def test_dependency_bot_configuration_matches_its_schema(project, env) -> None:
    dependabot = project / ".github" / "dependabot.yml"
    renovate = project / "renovate.json"
    assert dependabot.exists() or renovate.exists(), "every project gets a dependency bot"
    if dependabot.exists():
        run([tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot",
             str(dependabot)], project, env)
    if renovate.exists():
        run([tool("check-jsonschema"), "--builtin-schema", "vendor.renovate",
             str(renovate)], project, env)


def test_dependabot_waits_a_week_and_groups_updates(project) -> None:
    path = project / ".github" / "dependabot.yml"
    if not path.exists():
        pytest.skip("this variant uses Renovate")
    updates = yaml.safe_load(path.read_text())["updates"]
    assert "github-actions" in {u["package-ecosystem"] for u in updates}
    for update in updates:
        assert update["cooldown"]["default-days"] >= 7
        assert update["groups"]


def test_pyproject_is_valid(project, env) -> None:
    run([tool("validate-pyproject"), "pyproject.toml"], project, env)


def test_pre_commit_configuration_is_valid(project, env) -> None:
    run([tool("pre-commit"), "validate-config", ".pre-commit-config.yaml"], project, env)


def test_ruff_passes_on_the_generated_code(project, env) -> None:
    # The project's own `make lint` runs its locked ruff; this is the fast early warning.
    run([tool("ruff"), "check", "--no-cache", "."], project, env)
    run([tool("ruff"), "format", "--no-cache", "--check", "."], project, env)


def test_bandit_finds_nothing_in_the_code(project, env) -> None:
    run([tool("bandit"), "-c", "pyproject.toml", "-r", "src", "tests", "--quiet"], project, env)


def test_every_yaml_and_toml_file_parses(project) -> None:
    for path in project.rglob("*"):
        if path.suffix in {".yml", ".yaml"}:
            assert yaml.safe_load(path.read_text()) is not None, path
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text())
