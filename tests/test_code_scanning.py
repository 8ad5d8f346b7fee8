"""What a maintainer sees of the type check, the secret scan and code scanning: `make help`
and DEVELOPMENT.md list the new verbs; the `code_scanning` answer decides the CodeQL and
Scorecard workflows and the README's Scorecard badge, and a GitLab project cannot ask for
them; zizmor goes online only in CI's own job, with that job's read-only token."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import run
from tests.variants import GITLAB, GOOGLE

NEW_VERBS = ("typecheck", "secrets", "secrets-baseline", "secrets-audit")


@pytest.mark.parametrize("answers", [{}, GITLAB], ids=["github", "gitlab"])
def test_make_help_and_development_md_list_the_new_verbs(answers, render, env) -> None:
    project = render(**answers)
    listed = run(["make", "--no-print-directory", "help"], project, env).stdout
    development = (project / "DEVELOPMENT.md").read_text()
    for verb in NEW_VERBS:
        assert f"  {verb} " in listed, verb
        assert f"`make {verb}`" in development, verb
    makefile = (project / "Makefile").read_text()
    assert "\nlint: conflicts ruff typecheck zizmor " in makefile
    assert "\nsecurity: secrets bandit audit " in makefile


@pytest.mark.parametrize(
    ("choice", "workflows", "badge"),
    [
        ("public-repository", {"codeql.yml", "scorecard.yml"}, True),
        ("private-with-code-security", {"codeql.yml", "scorecard.yml"}, False),
        ("none", set(), False),
    ],
)
def test_the_answer_decides_the_workflows_and_the_badge(choice, workflows, badge, render) -> None:
    project = render(code_scanning=choice)
    found = {p.name for p in (project / ".github" / "workflows").glob("*.yml")}
    assert found & {"codeql.yml", "scorecard.yml"} == workflows
    readme = (project / "README.md").read_text()
    assert "actions/workflows/ci.yml/badge.svg" in readme
    assert "https://img.shields.io/pypi/v/my-project" in readme
    assert (
        "https://api.scorecard.dev/projects/github.com/my-org/my-project/badge" in readme
    ) is badge
    if not workflows:
        return
    codeql = yaml.safe_load((project / ".github/workflows/codeql.yml").read_text())
    analyze = codeql["jobs"]["analyze"]
    assert analyze["strategy"]["matrix"]["language"] == ["actions", "python"]
    assert set(codeql[True]) == {"push", "pull_request", "schedule"}  # YAML 1.1 reads `on` as True
    private = choice != "public-repository"
    assert analyze["permissions"] == {
        "contents": "read",
        "security-events": "write",
        **({"actions": "read"} if private else {}),
    }
    scorecard = yaml.safe_load((project / ".github/workflows/scorecard.yml").read_text())
    grants = scorecard["jobs"]["analysis"]["permissions"]
    assert (grants.get("id-token") == "write") is badge
    assert ("issues" in grants) is private


def test_a_gitlab_project_cannot_ask_for_github_code_scanning(refuse, render) -> None:
    error = str(refuse(**GITLAB, code_scanning="public-repository"))
    assert "GitHub code scanning" in error and "choose none" in error
    answers = yaml.safe_load((render(**GITLAB) / ".copier-answers.yml").read_text())
    assert "code_scanning" not in answers  # not asked on GitLab


def test_zizmor_goes_online_only_in_its_own_job_with_a_read_only_token(render) -> None:
    ci = yaml.safe_load((render() / ".github/workflows/ci.yml").read_text())
    online = [name for name, job in ci["jobs"].items() if "ZIZMOR_ONLINE" in str(job)]
    assert online == ["workflows"]
    job = ci["jobs"]["workflows"]
    assert job["permissions"] == {"contents": "read"}
    (step,) = [step for step in job["steps"] if "run" in step]
    assert step["run"] == "make zizmor"
    assert step["env"] == {"ZIZMOR_ONLINE": "1", "GH_TOKEN": "${{ github.token }}"}
    for name, other in ci["jobs"].items():  # no other job holds a token in its environment
        assert name == "workflows" or "github.token" not in str(other), name


@pytest.mark.parametrize(
    "answers",
    [{}, GOOGLE, GITLAB],
    ids=["github", "github+cloud-build", "gitlab"],
)
def test_releasing_turns_on_githubs_secret_scanning_and_push_protection(answers, render):
    releasing = (render(**answers) / "RELEASING.md").read_text()
    on_github = "repository_host" not in answers
    assert ("enable **Secret Protection**: **secret scanning**" in releasing) is on_github
    assert ("**push protection**" in releasing) is on_github
