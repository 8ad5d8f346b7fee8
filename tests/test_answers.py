"""Bad answers stop copier before anything is written; odd but valid answers never break
or inject into a generated file."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import copier_copy, run, snapshot_template

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
    "author_name": 'O\'Brien "Team" *bold* (x) \\ ${{ env.X }} {{ 7 * 7 }}',
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


# ---------------------------------------------------------------------------------------
# Bad input through the real CLI: whole data files, bytes that are not UTF-8, a tampered
# answers file. See test_answer_properties.py for single answers, rendered in-process.
# ---------------------------------------------------------------------------------------
COPIER = [sys.executable, "-m", "copier"]


def copy_with_data_file(
    template: Path, tmp_path: Path, content: bytes, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], Path]:
    data_file = tmp_path / "answers.yml"
    data_file.write_bytes(content)
    dst = tmp_path / "project"
    command = [*COPIER, "copy", "--defaults", "--quiet", "--vcs-ref", "HEAD"]
    command += ["--data-file", str(data_file), str(template), str(dst)]
    return run(command, tmp_path, env, check=False), dst


# (data file, what the last line of the error says): the template's validators refuse.
BAD_DATA_FILES = {
    "unknown-key": (b"projct_name: Typo\n", ['"projct_name"', "is not a question"]),
    "list-for-text": (b"description: [a, b]\n", ['"description"', "must be text, not a list"]),
    "mapping-for-text": (b"author_name: {a: 1}\n", ['"author_name"', "not a mapping"]),
    "number-for-text": (b"copyright_year: 2026\n", ['"copyright_year"', "not a number; quote it"]),
    "hex-number-for-text": (b"repository_name: 0x10\n", ['"repository_name"', "not a number"]),
    "boolean-for-text": (b"project_name: yes\n", ['"project_name"', "not true/false"]),
    "null-for-text": (b"description:\n", ['"description"', "not empty (null)"]),
    "date-for-text": (b"copyright_year: 2026-01-01\n", ['"copyright_year"', "not a date"]),
    "binary-for-text": (b"author_name: !!binary /w==\n", ['"author_name"', "not binary data"]),
    "removed-choice": (b'python_min: "3.10"\n', ["'python_min'", "end of life"]),
    "unknown-choice": (b"license: WTFPL\n", ["'license'", "is not in"]),
    "escaped-newline": (b'repository_owner: "my-org\\n"\n', ["'repository_owner'", '"\\n"']),
    "block-scalar": (b"repository_owner: |\n  my-org\n", ["'repository_owner'", '"\\n"']),
    "escaped-surrogate": (b'project_name: "caf\\udce9"\n', ["'project_name'", '"\\udce9"']),
    "escaped-bidi-override": (b'description: "a\\u202eb"\n', ["'description'", '"\\u202e"']),
    "escaped-terminal-escape": (b'author_name: "\\e[2Jx"\n', ["'author_name'", '"\\u001b"']),
}


@pytest.mark.parametrize("case", list(BAD_DATA_FILES))
def test_a_bad_data_file_is_refused_naming_the_problem(case, template, env, tmp_path) -> None:
    content, expected = BAD_DATA_FILES[case]
    result, dst = copy_with_data_file(template, tmp_path, content, env)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    for text in expected:
        assert text in last_line
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert not dst.exists(), "a refused data file must not leave a project behind"


# Copier fails on these before the template's first validator runs: it still exits 1 and
# writes nothing, but with a traceback whose last line only copier words. The template
# cannot change that; these tests notice when copier does.
COPIER_REFUSES = {
    # The --data-file switch parses the file before the template is even read.
    "not-utf8": (b"project_name: caf\xe9\n", "unacceptable character #x00e9"),
    "empty-file": (b"", "'NoneType' object has no attribute 'items'"),
    "not-a-mapping": (b"- a\n- b\n", "'list' object has no attribute 'items'"),
    "number-as-key": (b"1: x\n", "Input should be a valid string"),
    "copier-variable-as-key": (b"_copier_conf: x\n", "multiple values for keyword argument"),
    # The first question's own answer is converted before its validator runs.
    "list-for-the-first-question": (b"project_name: [a, b]\n", "Could not convert"),
}


@pytest.mark.parametrize("case", list(COPIER_REFUSES))
def test_copier_itself_refuses_some_data_files(case, template, env, tmp_path) -> None:
    content, expected = COPIER_REFUSES[case]
    result, dst = copy_with_data_file(template, tmp_path, content, env)
    assert result.returncode == 1
    assert expected in result.stderr
    assert not dst.exists()


def test_a_copied_answers_file_may_carry_copiers_own_keys(template, env, tmp_path) -> None:
    """`copier copy --data-file other/.copier-answers.yml`: copier ignores `_commit` and
    `_src_path`, and records where this copy really came from."""
    content = b"_commit: v99.0.0\n_src_path: gh:someone/else\nproject_name: Reused\n"
    result, dst = copy_with_data_file(template, tmp_path, content, env)
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((dst / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["_commit"] != "v99.0.0"
    assert answers["_src_path"] == str(template)
    assert answers["project_name"] == "Reused"


def test_bytes_that_are_not_utf8_on_the_command_line_are_refused(template, env, tmp_path) -> None:
    """Python hands a command line's bad bytes over as lone surrogates (surrogateescape):
    the validator names the question and shows them escaped."""
    dst = tmp_path / "project"
    answer = "project_name=" + os.fsdecode(b"caf\xe9")
    command = [*COPIER, "copy", "--defaults", "--quiet", "--vcs-ref", "HEAD", "--data", answer]
    result = run([*command, str(template), str(dst)], tmp_path, env, check=False)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "'project_name'" in last_line and '"\\udce9"' in last_line
    assert not dst.exists()


def test_a_terminal_escape_on_the_command_line_is_never_echoed(template, env, tmp_path) -> None:
    dst = tmp_path / "project"
    command = [*COPIER, "copy", "--defaults", "--quiet", "--vcs-ref", "HEAD"]
    command += ["--data", "repository_owner=\x1b[2J\x1b]0;pwned\x07acme"]
    result = run([*command, str(template), str(dst)], tmp_path, env, check=False)
    assert result.returncode != 0
    assert "'repository_owner'" in result.stderr.strip().splitlines()[-1]
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert not dst.exists()


# A project whose .copier-answers.yml was edited by hand, then updated or recopied.
@pytest.fixture(scope="module")
def tagged_template(tmp_path_factory, env) -> Path:
    return snapshot_template(tmp_path_factory.mktemp("tagged"), env, tag="v1.0.0")


def tampered_project(
    template: Path, tmp_path: Path, env: dict[str, str], old: str, new: str
) -> Path:
    project = tmp_path / "project"
    copier_copy(template, project, {}, env, vcs_ref=None)
    run(["git", "init", "-q"], project, env)
    answers_file = project / ".copier-answers.yml"
    text = answers_file.read_text(encoding="utf-8")
    assert old in text
    answers_file.write_text(text.replace(old, new), encoding="utf-8")
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-q", "-m", "generated, then the answers edited by hand"], project, env)
    return project


TAMPERED = {
    # (text in the answers file, replaced by, what the error's last line says)
    "future-version": ("_commit: v1.0.0", "_commit: v99.0.0", "Unknown revision: 'v99.0.0'"),
    "newline-in-owner": (
        "repository_owner: my-org",
        'repository_owner: "my-org\\n"',
        "question 'repository_owner'",
    ),
    "unknown-key": ("repository_owner: my-org", "repository_owner: my-org\nfoo: bar", '"foo"'),
    "list-for-text": (
        "description: A Python project with supply-chain security built in",
        "description: [a, b]",
        '"description" (in --data, --data-file or .copier-answers.yml) must be text, not a list',
    ),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_update_refuses_a_tampered_answers_file(case, tagged_template, env, tmp_path) -> None:
    """Copier replays the answers file through the recorded version's validators before
    it touches anything: the update stops, naming the problem, and the tree is unchanged."""
    old, new, expected = TAMPERED[case]
    project = tampered_project(tagged_template, tmp_path, env, old, new)
    result = run([*COPIER, "update", "--defaults"], project, env, check=False)
    assert result.returncode != 0
    assert expected in result.stderr.strip().splitlines()[-1]
    assert run(["git", "status", "--porcelain"], project, env).stdout == ""


@pytest.mark.parametrize("case", ["newline-in-owner", "list-for-text"])
def test_recopy_refuses_a_stored_answer_that_is_not_text(
    case, tagged_template, env, tmp_path
) -> None:
    """Copier would drop the bad answer and, with --defaults, use the default instead:
    the project would silently change owner. The first question's validator refuses."""
    old, new, _ = TAMPERED[case]
    project = tampered_project(tagged_template, tmp_path, env, old, new)
    result = run([*COPIER, "recopy", "--defaults", "--overwrite"], project, env, check=False)
    assert result.returncode != 0
    assert "in .copier-answers.yml" in result.stderr.strip().splitlines()[-1]
    assert run(["git", "status", "--porcelain"], project, env).stdout == ""


@pytest.mark.parametrize("case", ["future-version", "unknown-key"])
def test_recopy_ignores_what_it_cannot_use(case, tagged_template, env, tmp_path) -> None:
    """`copier recopy` is a fresh copy of the newest release that keeps the answers it
    can: it drops keys that are no question and ignores `_commit`. Nothing is broken; the
    diff shows what changed."""
    old, new, _ = TAMPERED[case]
    project = tampered_project(tagged_template, tmp_path, env, old, new)
    result = run([*COPIER, "recopy", "--defaults", "--overwrite"], project, env, check=False)
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["_commit"] == "v1.0.0"
    assert "foo" not in answers


@pytest.fixture(scope="module")
def lenient_then_strict(tmp_path_factory, env) -> Path:
    """v1.0.0: a release whose validators ended in `$` and let control characters through
    (as this template's did before v0.3); v2.0.0: today's working tree."""
    root = snapshot_template(tmp_path_factory.mktemp("lenient"), env)
    validate = root / "includes/helpers/validate.jinja"
    strict = validate.read_text(encoding="utf-8")
    lenient = re.sub(r"\{% set forbidden = '[^']*' %\}", "{% set forbidden = '(?!)' %}", strict)
    lenient = lenient.replace("\\\\Z", "$")
    assert lenient.count("(?!)") == 1 and "\\\\Z" not in lenient
    validate.write_text(lenient, encoding="utf-8")
    run(["git", "commit", "-q", "-am", "lenient"], root, env)
    run(["git", "tag", "v1.0.0"], root, env)
    validate.write_text(strict, encoding="utf-8")
    run(["git", "commit", "-q", "-am", "strict"], root, env)
    run(["git", "tag", "v2.0.0"], root, env)
    return root


@pytest.mark.parametrize("command", [["update"], ["recopy", "--overwrite"]])
def test_a_project_from_a_lenient_release_is_told_to_fix_its_answers(
    command, lenient_then_strict, env, tmp_path
) -> None:
    """A project generated with repository_owner "acme\n" (its wheel lost Requires-Dist):
    updating it must not quietly swap in the default owner, nor keep the newline."""
    project = tmp_path / "project"
    copier_copy(lenient_then_strict, project, {"repository_owner": "acme\n"}, env, vcs_ref="v1.0.0")
    run(["git", "init", "-q"], project, env)
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-q", "-m", "generated by the lenient release"], project, env)
    result = run([*COPIER, *command, "--defaults"], project, env, check=False)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert '"repository_owner" in .copier-answers.yml' in last_line
    assert '(found "\\n"); correct it there' in last_line
    assert run(["git", "status", "--porcelain"], project, env).stdout == ""
