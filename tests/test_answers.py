"""Bad answers stop copier before anything is written; odd but valid answers never break
or inject into a generated file."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

BAD_ANSWERS = [
    ({"package_name": "Bad-Name"}, "package_name", "not a valid import name"),
    ({"package_name": "1st"}, "package_name", "not a valid import name"),
    ({"package_name": "class"}, "package_name", "keyword"),
    ({"package_name": "match"}, "package_name", "keyword"),
    ({"package_name": "json"}, "package_name", "standard-library module"),
    ({"distribution_name": "-widgets"}, "distribution_name", "not a valid PyPI name"),
    ({"project_name": "!!!"}, "distribution_name", "not a valid PyPI name"),
    ({"project_name": "two\nlines"}, "project_name", "single line"),
    ({"project_name": "   "}, "project_name", "must not be empty"),
    ({"description": "tab\tinside"}, "description", "single line"),
    ({"description": "x" * 201}, "description", "at most 200 characters"),
    ({"author_email": "not-an-email"}, "author_email", "not a valid email address"),
    ({"author_email": "a@b"}, "author_email", "not a valid email address"),
    ({"security_contact": "security"}, "security_contact", "not a valid email address"),
    ({"python_min": "3.10"}, "python_min", "end of life"),
    ({"python_min": "3.9"}, "python_min", "end of life"),
    ({"python_min": "4.0"}, "python_min", "is not in"),
    ({"license": "WTFPL"}, "license", "is not in"),
    ({"repository_owner": "bad--owner"}, "repository_owner", "not a valid GitHub"),
    ({"repository_owner": "-owner"}, "repository_owner", "not a valid GitHub"),
    ({"repository_name": "repo.git"}, "repository_name", "not a valid repository name"),
    ({"copyright_year": "26"}, "copyright_year", "four-digit year"),
    ({"lock_tool": "pipenv"}, "lock_tool", "is not in"),
    ({"publisher": "token"}, "publisher", "is not in"),
    (
        {"publisher": "gitlab-ci"},
        "publisher",
        "GitLab CI/CD publishes only repositories hosted on GitLab",
    ),
    (
        {"repository_host": "gitlab", "publisher": "github-actions"},
        "publisher",
        "GitHub Actions publishes only repositories hosted on GitHub",
    ),
    ({"repository_host": "bitbucket"}, "repository_host", "is not in"),
    (
        {"repository_host": "gitlab", "repository_owner": "group/-sub"},
        "repository_owner",
        "not a valid GitLab namespace",
    ),
    (
        {"repository_host": "gitlab", "dependency_bot": "dependabot"},
        "dependency_bot",
        "Dependabot runs only on GitHub",
    ),
    (
        {"lock_tool": "pdm", "dependency_bot": "dependabot"},
        "dependency_bot",
        "cannot update pdm.lock",
    ),
    (
        {"publisher": "google-cloud-build", "gcp_project_id": "Bad_Project"},
        "gcp_project_id",
        "not a valid Google Cloud project ID",
    ),
    (
        {
            "publisher": "google-cloud-build",
            "gcp_service_account": "123456789-compute@developer.gserviceaccount.com",
        },
        "gcp_service_account",
        "is a default service account",
    ),
    (
        {"publisher": "google-cloud-build", "gcp_service_account": "me@gmail.com"},
        "gcp_service_account",
        "not a user-managed service account",
    ),
    ({"vulnerability_scanner": "snyk"}, "vulnerability_scanner", "is not in"),
    (
        {"publisher": "activestate", "activestate_actor": "-me"},
        "activestate_actor",
        "not a valid ActiveState name",
    ),
]


@pytest.mark.parametrize(
    ("answers", "question", "rule"),
    BAD_ANSWERS,
    ids=[f"{q}:{r}" for a, q, r in BAD_ANSWERS],
)
def test_a_bad_answer_fails_naming_the_question_and_the_rule(
    answers, question, rule, refuse
) -> None:
    message = str(refuse(**answers))
    assert f"'{question}'" in message
    assert rule in message


HOSTILE = {
    "project_name": 'Widgets "Pro" \\ ${{ secrets.PYPI_TOKEN }} {{ 7 * 7 }} {% raw %} ünïcødé 😀',
    "distribution_name": "widgets-pro",
    "description": "Say \"hi\"; $(touch pwned) ${{ github.event.issue.title }} {{ x }} 'q' \\n é 日本",
    "author_name": 'O\'Brien "Team" <b>bold</b> ${{ env.X }}',
    "author_email": "o.brien+dev@example.org",
}


@pytest.fixture(scope="module")
def hostile(render) -> Path:
    return render(**HOSTILE)


def test_free_text_reaches_toml_verbatim(hostile) -> None:
    project = tomllib.loads((hostile / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["description"] == HOSTILE["description"]
    assert project["authors"] == [
        {"name": HOSTILE["author_name"], "email": HOSTILE["author_email"]}
    ]


def test_free_text_is_not_evaluated_by_jinja(hostile) -> None:
    answers = yaml.safe_load((hostile / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["project_name"] == HOSTILE["project_name"]
    assert "49" not in (hostile / "README.md").read_text(encoding="utf-8")


def test_free_text_never_reaches_a_workflow_or_the_makefile(hostile) -> None:
    for path in [*hostile.glob(".github/**/*.yml"), hostile / "Makefile"]:
        text = path.read_text(encoding="utf-8")
        for marker in ("secrets.PYPI_TOKEN", "github.event", "env.X", "touch pwned", "O'Brien"):
            assert marker not in text, f"{marker!r} leaked into {path.name}"


def test_every_structured_file_still_parses(hostile) -> None:
    for path in hostile.rglob("*"):
        if path.suffix in {".yml", ".yaml"}:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".py":
            ast.parse(path.read_text(encoding="utf-8"))
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))


def test_markdown_shows_free_text_literally(hostile) -> None:
    title = (hostile / "README.md").read_text(encoding="utf-8").splitlines()[0]
    # Markdown syntax is backslash-escaped, so the heading shows exactly what was typed.
    assert title == "# " + re.sub(r"([\\`*_{}\[\]<>()#+!|~])", r"\\\1", HOSTILE["project_name"])
