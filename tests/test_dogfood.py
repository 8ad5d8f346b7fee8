"""The template repository meets the bar it sets: a locked dev environment, SHA-pinned
actions from the same table, zizmor-clean CI, fresh toolchain locks and a current Python
table."""

from __future__ import annotations

import datetime
import json
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


def test_the_readme_quotes_the_benchmark_files() -> None:
    # The README's speed figures are measurements: each one is in benchmarks/.
    readme = " ".join((ROOT / "README.md").read_text().split())
    bench = json.loads((ROOT / "benchmarks" / "template.json").read_text())
    matrix = json.loads((ROOT / "benchmarks" / "full-matrix.json").read_text())
    copy, update, suites = bench["copy"], bench["update"], bench["suites"]
    quoted = [
        f"({copy['files_rendered']} files) copied in {copy['template_median_s']:.2f} s",
        f"against {copy['floor_median_s']:.2f} s for a one-file template",
        f"a ratio of {copy['ratio']:.2f}",
        f"in {copy['same_shape_trivial_median_s']:.2f} s, {copy['same_shape_ratio']:.2f} times the floor",
        f"({copy['ratio_to_same_shape']:.2f} times that shape)",
        f"takes {update['update_median_s']:.2f} s, {update['ratio']:.2f} times a copy",
        f"The default suite took {suites['default_suite_s']:.0f} s",
        f"full static bar {suites['pairwise_matrix_with_static_bar_s']:.0f} s",
        f"{matrix['valid_combinations']:,} (225",
        f"(commit {matrix['commit']})",
        f"in {matrix['wall_time_s']} s on 2 cores",
    ]
    assert matrix["passed"] and all(shard["exit_code"] == 0 for shard in matrix["shards"])
    assert [text for text in quoted if text not in readme] == []
