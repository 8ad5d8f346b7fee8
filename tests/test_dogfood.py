"""The template repository meets the bar it sets: a locked dev environment, SHA-pinned
actions from the same table, zizmor-clean CI, fresh toolchain locks and a current Python
table."""

from __future__ import annotations

import datetime
import re
import sys

import pytest
import yaml

from tests.conftest import ROOT, run
from tests.test_single_source import ACTIONS, PYTHON, USES, supported
from tests.validators import check_schemas, tool, zizmor_findings


def test_the_repository_workflows_are_zizmor_clean(env) -> None:
    assert zizmor_findings(ROOT, ".github", env) == []


def test_the_repository_workflows_use_the_pinned_actions_table() -> None:
    for path in (ROOT / ".github" / "workflows").glob("*.yml"):
        for match in USES.finditer(path.read_text()):
            name, _, sha = match["ref"].partition("@")
            assert ACTIONS[name]["sha"] == sha, f"{path.name}: {name}"


def test_the_repository_ci_and_bot_configuration_is_valid(env) -> None:
    assert set(check_schemas(ROOT, env)) == {".github/workflows/ci.yml", "renovate.json"}


def test_the_development_environment_is_locked(env) -> None:
    run([sys.executable, "-m", "uv", "lock", "--check"], ROOT, env)


def test_no_supported_python_has_reached_its_end_of_life_today() -> None:
    # Fails on the day a release in the table reaches its end of life: update python.yml
    # (and its `reviewed` date), then release the template.
    today = datetime.date.today().isoformat()
    assert PYTHON["reviewed"] <= today
    late = [
        r["version"]
        for r in PYTHON["releases"]
        if r["version"] in supported() and r["end_of_life"] <= today
    ]
    assert late == [], f"end of life reached: {late}; update includes/data/python.yml"


@pytest.mark.slow
def test_the_toolchain_locks_match_the_tool_table(env) -> None:
    run([sys.executable, "scripts/lock_toolchains.py", "--check"], ROOT, env)


def test_every_toolchain_lock_exists_for_every_lock_tool() -> None:
    tools = yaml.safe_load((ROOT / "includes" / "data" / "tools.yml").read_text())
    for name in [*tools["lock_tools"], "publish"]:
        text = (ROOT / "includes" / "locks" / f"{name}.txt").read_text()
        assert re.search(r"^[a-z0-9-]+==", text, re.M), name


def test_the_repository_code_is_lint_clean(env) -> None:
    run([tool("ruff"), "check", "--no-cache", "tests", "scripts"], ROOT, env)
    run([tool("ruff"), "format", "--no-cache", "--check", "tests", "scripts"], ROOT, env)


def test_the_repository_pre_commit_configuration_is_valid(env) -> None:
    run([tool("pre-commit"), "validate-config", ".pre-commit-config.yaml"], ROOT, env)
