"""Action SHAs, Python releases and tool versions come from includes/data, and only from
there: the generated workflows, classifiers, CI matrix and requires-python agree with it."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.variants import VARIANTS

DATA = ROOT / "includes" / "data"
ACTIONS = yaml.safe_load((DATA / "actions.yml").read_text())
PYTHON = yaml.safe_load((DATA / "python.yml").read_text())
TOOLS = yaml.safe_load((DATA / "tools.yml").read_text())
LOCK_TOOLS = yaml.safe_load((DATA / "lock_tools.yml").read_text())
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$", re.MULTILINE)


def supported() -> list[str]:
    return [
        r["version"]
        for r in PYTHON["releases"]
        if r["first_release"] <= PYTHON["reviewed"] < r["end_of_life"]
    ]


@pytest.fixture(params=VARIANTS, ids=lambda v: v.id)
def project(request, render) -> Path:
    return render(**request.param.answers)


def test_every_action_is_pinned_to_a_full_commit_sha() -> None:
    for name, pin in ACTIONS.items():
        assert re.fullmatch(r"[0-9a-f]{40}", pin["sha"]), name
        assert re.fullmatch(r"v\d+(\.\d+)*", pin["version"]), name


def test_every_generated_uses_line_comes_from_the_actions_table(project) -> None:
    found = 0
    for path in project.rglob("*.y*ml"):
        for match in USES.finditer(path.read_text()):
            if match["ref"].startswith("$/"):  # this repository's own workflow, at this commit
                continue
            name, _, sha = match["ref"].partition("@")
            assert name in ACTIONS, f"{path.name}: {name} is not in includes/data/actions.yml"
            assert sha == ACTIONS[name]["sha"], f"{path.name}: {match['ref']}"
            assert match["rest"].strip() == f"# {ACTIONS[name]['version']}"
            found += 1
    if (project / ".github").exists():
        assert found > 0


def test_data_files_contain_no_template_syntax() -> None:
    # They are read with {% include %}, so Jinja would interpret such text.
    for path in [*DATA.glob("*.yml"), *(ROOT / "includes" / "locks").glob("*.txt")]:
        assert not re.search(r"\{\{|\{%|\{#", path.read_text()), path


def test_python_support_follows_the_release_table(render) -> None:
    project = render()
    versions = supported()
    assert versions[0] == "3.11"  # as of the table's review date
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert pyproject["requires-python"] == f">={versions[0]}"
    classifiers = [
        c.rsplit(" :: ", 1)[1]
        for c in pyproject["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert classifiers == versions
    ci = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    assert ci["jobs"]["test"]["strategy"]["matrix"]["python"] == versions


def test_a_newer_minimum_python_narrows_everything(render) -> None:
    project = render(python_min="3.13")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == ">=3.13"
    # Ruff reads its target from requires-python; no second copy to drift.
    assert "target-version" not in pyproject["tool"]["ruff"]
    ci = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    assert ci["jobs"]["test"]["strategy"]["matrix"]["python"][0] == "3.13"


def test_the_toolchain_lock_pins_every_tool_of_the_data_table(project) -> None:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    lock = (project / "tools" / "toolchain.txt").read_text()
    tool = TOOLS["lock_tools"][answers["lock_tool"]]
    wanted = [
        *tool["requirements"],
        TOOLS["backends"][LOCK_TOOLS[answers["lock_tool"]]["backend"]]["requirement"],
        *TOOLS["common"],
    ]
    for requirement in wanted:
        name, _, version = requirement.partition("==")
        if version:
            assert re.search(rf"^{re.escape(name)}=={re.escape(version)} \\$", lock, re.M), name
    # Every pin in the file carries hashes: pip installs it with --require-hashes.
    blocks = re.split(r"\n(?=[A-Za-z0-9])", lock)
    pinned = [b for b in blocks if re.match(r"[A-Za-z0-9._-]+==", b)]
    assert len(pinned) > 10
    for block in pinned:
        assert "--hash=sha256:" in block, block.splitlines()[0]


def cooldowns(project: Path) -> dict[str, object]:
    """Every cooldown the project sets, by who keeps it."""
    found: dict[str, object] = {}
    tool = tomllib.loads((project / "pyproject.toml").read_text())["tool"]
    for name, table in (
        ("uv", tool.get("uv", {})),
        ("pdm", tool.get("pdm", {}).get("resolution", {})),
    ):
        if "exclude-newer" in table:
            found[name] = table["exclude-newer"]
    if (project / "poetry.toml").exists():
        found["poetry"] = tomllib.loads((project / "poetry.toml").read_text())["solver"][
            "min-release-age"
        ]
    if (project / ".github" / "dependabot.yml").exists():
        updates = yaml.safe_load((project / ".github" / "dependabot.yml").read_text())["updates"]
        found["dependabot"] = {update["cooldown"]["default-days"] for update in updates}
    if (project / "renovate.json").exists():
        found["renovate"] = json.loads((project / "renovate.json").read_text())["minimumReleaseAge"]
    policy = tomllib.loads((project / "dependency-policy.toml").read_text())
    found["admit"] = policy["age"]["min-release-days"]
    makefile = (project / "Makefile").read_text()
    if match := re.search(r"--cooldown-days (\d+)", makefile):
        found["fast lane"] = int(match[1])
    if pip := set(re.findall(r"PIP_UPLOADED_PRIOR_TO=(\S+)", makefile)):
        found["pip-tools"] = pip
    return found


@pytest.mark.parametrize(
    "answers",
    [{"lock_tool": tool} for tool in LOCK_TOOLS] + [{"dependency_bot": "renovate"}],
    ids=lambda answers: "-".join(answers.values()),
)
def test_every_cooldown_is_the_data_tables_number_of_days(render, answers) -> None:
    days = TOOLS["cooldown_days"]
    expected = {
        "uv": f"{days} days",
        "pdm": f"{days}d",
        "poetry": days,
        "dependabot": {days},
        "renovate": f"{days} days",
        "admit": days,
        "fast lane": days,
        "pip-tools": {f"P{days}D"},
    }
    found = cooldowns(render(**answers))
    tool = answers.get("lock_tool", "uv")
    assert {tool, "fast lane"} <= set(found), "the lock tool keeps the cooldown"
    assert found == {key: expected[key] for key in found}
