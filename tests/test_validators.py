"""Every generated project passes the real validators: zizmor (pedantic), the JSON schemas
of its CI and bot configuration, validate-pyproject, pre-commit and Bandit."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import run
from tests.validators import check_schemas, tool, zizmor_findings
from tests.variants import VARIANTS, Variant


def on(host: str) -> list[Variant]:
    return [v for v in VARIANTS if v.answers.get("repository_host", "github") == host]


def with_answer(question: str, *values: str, default: str) -> list[Variant]:
    return [v for v in VARIANTS if v.answers.get(question, default) in values]


def rendered(variants: list[Variant]):
    """Parametrize a test over these variants; the test gets the rendered project."""
    return pytest.mark.parametrize("variant", variants, ids=lambda v: v.id)


@pytest.fixture(params=VARIANTS, ids=lambda v: v.id)
def project(request, render) -> Path:
    return render(**request.param.answers)


@rendered(on("github"))
def test_zizmor_pedantic_finds_nothing(variant, render, env) -> None:
    project = render(**variant.answers)
    # No configuration and no ignore comments: the findings count is the real one.
    assert not list(project.rglob("zizmor.y*ml"))
    for path in (project / ".github").rglob("*.yml"):
        assert "zizmor: ignore" not in path.read_text()
    findings = zizmor_findings(project, ".", env)
    assert findings == [], json.dumps(findings, indent=1)[:4000]


def test_every_ci_and_bot_configuration_matches_its_schema(project, env) -> None:
    checked = check_schemas(project, env)
    host_ci = (
        ".gitlab-ci.yml" if (project / ".gitlab-ci.yml").exists() else ".github/workflows/ci.yml"
    )
    assert host_ci in checked, "the tests run on the repository host's CI"
    bots = {".github/dependabot.yml", "renovate.json"} & set(checked)
    assert len(bots) == 1, "every project gets exactly one dependency bot"


@rendered(
    [
        v
        for v in on("github")
        if v.answers.get("lock_tool") != "pdm" and v.answers.get("dependency_bot") != "renovate"
    ]
)
def test_dependabot_waits_a_week_and_groups_updates(variant, render) -> None:
    path = render(**variant.answers) / ".github" / "dependabot.yml"
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


@rendered(
    [
        v
        for v in VARIANTS
        if v.answers.get("lock_tool") == "pdm"
        or v.answers.get("dependency_bot") == "renovate"
        or v.answers.get("repository_host") == "gitlab"
    ]
)
def test_renovate_waits_a_week_and_groups_updates(variant, render) -> None:
    project = render(**variant.answers)
    config = json.loads((project / "renovate.json").read_text())
    assert config["minimumReleaseAge"] == "7 days"
    assert config["vulnerabilityAlerts"]["enabled"] is True
    lock_tool = variant.answers.get("lock_tool", "uv")
    python_manager = {
        "uv": "pep621",
        "pdm": "pep621",
        "poetry": "poetry",
        "pip-tools": "pip-compile",
    }[lock_tool]
    ci_manager = (
        "gitlabci" if variant.answers.get("repository_host") == "gitlab" else "github-actions"
    )
    assert set(config["enabledManagers"]) == {python_manager, ci_manager, "copier"}
    groups = {rule["groupName"] for rule in config["packageRules"]}
    assert {"Python dependencies", "CI dependencies", "Project template"} <= groups
