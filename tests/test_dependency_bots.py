"""Dependency bots: Dependabot or Renovate proposes updates, grouped, weekly, after a 7-day
cooldown; each lock tool's bot settings come from its registry entry
(includes/data/lock_tools.yml)."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.rendering import ROOT

LOCK_TOOLS = yaml.safe_load((ROOT / "includes" / "data" / "lock_tools.yml").read_text())
GITLAB = {"repository_host": "gitlab", "repository_owner": "acme/python"}


@pytest.mark.parametrize("lock_tool", [t for t, e in LOCK_TOOLS.items() if e["dependabot"]])
def test_dependabot_waits_a_week_and_groups_updates(lock_tool, render) -> None:
    path = render(lock_tool=lock_tool, dependency_bot="dependabot") / ".github" / "dependabot.yml"
    updates = yaml.safe_load(path.read_text())["updates"]
    expected = LOCK_TOOLS[lock_tool]["dependabot"]
    python = updates[0]
    assert python["package-ecosystem"] == expected["ecosystem"]
    assert python.get("directories", [python.get("directory")]) == expected["directories"]
    assert "github-actions" in {u["package-ecosystem"] for u in updates}
    for update in updates:
        assert update["cooldown"]["default-days"] >= 7
        assert update["groups"]


@pytest.mark.parametrize("lock_tool", LOCK_TOOLS)
@pytest.mark.parametrize("host", ["github", "gitlab"])
def test_renovate_waits_a_week_and_groups_updates(lock_tool, host, render) -> None:
    answers = {"lock_tool": lock_tool, "dependency_bot": "renovate"}
    if host == "gitlab":
        answers.update(GITLAB)
    config = json.loads((render(**answers) / "renovate.json").read_text())
    assert config["minimumReleaseAge"] == "7 days"
    assert config["vulnerabilityAlerts"]["enabled"] is True
    manager = LOCK_TOOLS[lock_tool]["renovate"]["manager"]
    ci_manager = "gitlabci" if host == "gitlab" else "github-actions"
    assert set(config["enabledManagers"]) == {manager, ci_manager, "copier"}
    if "files" in LOCK_TOOLS[lock_tool]["renovate"]:
        assert config[manager]["managerFilePatterns"] == LOCK_TOOLS[lock_tool]["renovate"]["files"]
    groups = {rule["groupName"] for rule in config["packageRules"] if "groupName" in rule}
    assert {"Python dependencies", "CI dependencies", "Project template"} <= groups


def test_without_dependabot_support_the_default_bot_is_renovate(render) -> None:
    for lock_tool, entry in LOCK_TOOLS.items():
        project = render(lock_tool=lock_tool)
        assert (project / "renovate.json").exists() == (entry["dependabot"] is None), lock_tool
    assert (render(**GITLAB) / "renovate.json").exists()
