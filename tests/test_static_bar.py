"""The whole answer space passes the static bar: every pair of values of every two choice
questions (read from copier.yml, tests/answer_space.py) is rendered at least once, and
every rendered project passes the real validators, each run once over all of them. A
check that depends only on a file reads each distinct file once, and a validator that
reads whole projects gets one project per distinct set of what it reads
(tests/distinct_files.py): the same verdicts, so `--full-matrix` can afford every valid
combination (`--matrix-shard K/N` renders every N-th of them, from the K-th)."""

from __future__ import annotations

import fnmatch
import functools
import importlib.metadata
import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import run
from tests.distinct_files import DistinctFiles, FileKey
from tests.rendering import ROOT, pairwise_combinations
from tests.validators import SCHEMAS, actionlint, parse_structured, tool, zizmor_findings

pytestmark = pytest.mark.xdist_group("matrix")

DATA = ROOT / "includes" / "data"
ACTIONS = yaml.safe_load((DATA / "actions.yml").read_text())
IMAGES = yaml.safe_load((DATA / "images.yml").read_text())
PINNED_IMAGES = {f"{entry['image']}@{entry['digest']}" for entry in IMAGES.values()}
# Actions and reusable workflows of other repositories (`$/...` is the project's own).
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<name>[\w./-]+)@(?P<ref>\S+)(?P<rest>.*)$", re.M)
# Hash-locked toolchains are generated from includes/locks and tested on their own.
GENERATED = {"tools/toolchain.txt", "tools/publish.txt"}


@pytest.fixture(scope="module")
def combinations(request) -> list[dict[str, str]]:
    """The pairwise set; with --full-matrix, every combination copier accepts; with
    --structural-matrix, every combination of the questions that decide which files exist."""
    from tests.answer_space import AnswerSpace

    if request.config.getoption("--full-matrix"):
        space = AnswerSpace(request.getfixturevalue("template_dir"))
        rows = list(space.every_combination())
    elif request.config.getoption("--structural-matrix"):
        rows = AnswerSpace(request.getfixturevalue("template_dir")).structural()
    else:
        rows = pairwise_combinations(request.config)
    shard, shards = map(int, request.config.getoption("--matrix-shard").split("/"))
    return rows[shard - 1 :: shards]


@pytest.fixture(scope="module")
def matrix(combinations, render) -> dict[str, Path]:
    """Every combination of the pairwise set, rendered: {id: project}."""
    return {"-".join(combination.values()): render(**combination) for combination in combinations}


@pytest.fixture(scope="module")
def distinct(matrix) -> DistinctFiles:
    return DistinctFiles(matrix.values())


def chunks(items: list, size: int = 400) -> list[list[str]]:
    """Command lines of at most `size` paths each (the kernel limits an argument list)."""
    return [[str(item) for item in items[i : i + size]] for i in range(0, len(items), size)]


def verbatim(relative: str) -> bool:
    """A file copied unchanged from template/ (no `.jinja`): it cannot depend on answers."""
    return (ROOT / "template" / relative).is_file()


def test_the_matrix_covers_every_registry_choice(combinations) -> None:
    # Each multi-choice question has a registry, includes/data/<question>s.yml.
    for question in combinations[0]:
        registry = DATA / f"{question}s.yml"
        if registry.exists():
            choices = set(yaml.safe_load(registry.read_text()))
            assert {c[question] for c in combinations} == choices, question


def test_every_structured_file_parses(distinct) -> None:
    for _, path in distinct.files():
        parsed = parse_structured(path)
        if path.suffix in {".yml", ".yaml"}:
            assert parsed is not None, path


def test_every_pyproject_is_valid(matrix, distinct, env) -> None:
    paths = [str(path) for _, path in distinct.files("pyproject.toml")]
    assert all((project / "pyproject.toml").is_file() for project in matrix.values())
    for chunk in chunks(paths):
        run([tool("validate-pyproject"), *chunk], ROOT, env)


def test_every_ci_and_bot_file_matches_its_schema(matrix, distinct, env) -> None:
    for pattern, schema in SCHEMAS.items():
        paths = [str(path) for _, path in distinct.files(pattern)]
        for chunk in chunks(paths):
            run([tool("check-jsonschema"), "--builtin-schema", schema, *chunk], ROOT, env)
    for project in matrix.values():
        mine = {
            relative
            for relative, _ in distinct.of_project[project]
            if any(fnmatch.fnmatchcase(relative, pattern) for pattern in SCHEMAS)
        }
        host_ci = (
            ".gitlab-ci.yml"
            if (project / ".gitlab-ci.yml").exists()
            else ".github/workflows/ci.yml"
        )
        assert host_ci in mine, f"{project.name}: the tests run on the repository host's CI"
        bots = {".github/dependabot.yml", "renovate.json"} & mine
        assert len(bots) == 1, f"{project.name}: exactly one dependency bot"


# What zizmor reads in a project: workflows, Dependabot's settings, actions, and the
# pre-commit configuration.
ZIZMOR_READS = (".github/*", "*action.yml", "*action.yaml", ".pre-commit-config.yaml")


def test_zizmor_pedantic_finds_nothing(matrix, distinct, env) -> None:
    assert any((project / ".github").exists() for project in matrix.values())
    # No configuration and no ignores: the count is the real one.
    assert not list(distinct.files("*zizmor.yml", "*zizmor.yaml"))
    for _, path in distinct.files(".github/*.yml"):
        assert "zizmor: ignore" not in path.read_text()
    github = [p for p in distinct.representatives(*ZIZMOR_READS) if (p / ".github").exists()]
    findings = [f for chunk in chunks(github) for f in zizmor_findings(ROOT, chunk, env)]
    assert findings == [], json.dumps(findings, indent=1)[:4000]


def test_zizmor_audits_every_pre_commit_configuration(matrix, distinct, env) -> None:
    # GitLab projects have no workflows, but zizmor still reads their pre-commit settings.
    assert any(not (project / ".github").exists() for project in matrix.values())
    gitlab = [p for p in distinct.representatives(*ZIZMOR_READS) if not (p / ".github").exists()]
    findings = [f for chunk in chunks(gitlab) for f in zizmor_findings(ROOT, chunk, env)]
    assert findings == [], json.dumps(findings, indent=1)[:4000]


def workflows(distinct: DistinctFiles) -> list[Path]:
    return [path for _, path in distinct.files(".github/workflows/*.yml")]


def test_every_workflow_denies_by_default_and_says_why_it_grants(distinct) -> None:
    # `permissions: {}` at the top; each job asks for its own, with a comment on each grant.
    problems = []
    for path in workflows(distinct):
        text = path.read_text(encoding="utf-8")
        workflow = yaml.safe_load(text)
        if workflow.get("permissions") != {} or not re.search(r"^permissions: \{\}$", text, re.M):
            problems.append(f"{path}: no `permissions: {{}}` at the top")
        for name, job in workflow["jobs"].items():
            if not isinstance(job.get("permissions"), dict):
                problems.append(f"{path}: job {name} does not state its permissions")
        for block in re.finditer(
            r"^(?P<indent> +)permissions:\n(?P<body>(?:(?P=indent) +.*\n)+)", text, re.M
        ):
            for line in block["body"].splitlines():
                grant = re.fullmatch(r"\s+[a-z-]+: (read|write)(?P<comment>\s+# \S.*)?", line)
                if grant and not grant["comment"]:
                    problems.append(f"{path}: a grant without a reason: {line.strip()}")
                elif not grant and not line.strip().startswith("#"):
                    problems.append(f"{path}: not a grant: {line.strip()}")
    assert not problems, "\n".join(problems[:40])


# What Scorecard's API accepts from a workflow that publishes results (ossf/scorecard-webapp,
# app/server/verify_workflow.go; the scorecard-action README, "Workflow Restrictions").
SCORECARD_STEPS = {
    "actions/checkout",
    "actions/upload-artifact",
    "github/codeql-action/upload-sarif",
    "ossf/scorecard-action",
    "step-security/harden-runner",
}


def test_every_scorecard_workflow_has_the_shape_scorecard_accepts(distinct) -> None:
    found = [path for path in workflows(distinct) if path.name == "scorecard.yml"]
    assert found
    for path in found:
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert "env" not in workflow and "defaults" not in workflow, path
        assert "write" not in workflow["permissions"].values(), path
        jobs = sorted(
            workflow["jobs"].values(),
            key=lambda job: "ossf/scorecard-action" not in str(job["steps"]),
        )
        job = jobs[0]
        for other in jobs[1:]:
            assert other.get("permissions", {}).get("id-token") != "write", path
        assert not {"container", "services", "env", "defaults"} & set(job), path
        runner = re.fullmatch(r"ubuntu-(latest|\d\d\.\d\d)", job["runs-on"])
        assert runner and (runner[1] == "latest" or runner[1] >= "22.04"), path
        for step in job["steps"]:
            assert step["uses"].split("@")[0] in SCORECARD_STEPS, f"{path}: {step}"
        scorecard = next(s for s in job["steps"] if s["uses"].startswith("ossf/scorecard-action@"))
        publishes = scorecard["with"]["publish_results"]
        assert (job["permissions"].get("id-token") == "write") is publishes, path


def test_no_generated_file_trips_the_secret_scan(distinct, env, tmp_path) -> None:
    # Every project starts with the same, empty .secrets.baseline, so the first
    # `make check` must find nothing in any variant. Each distinct file is scanned once,
    # under its own name (the scanner's filters read names).
    seeded = json.loads((ROOT / "template" / ".secrets.baseline").read_text())
    assert seeded["results"] == {}
    # One version everywhere: the projects' toolchain, the seeded baseline, this scan.
    tools = yaml.safe_load((DATA / "tools.yml").read_text())
    (pinned,) = [r.split("==")[1] for r in tools["common"] if r.startswith("detect-secrets==")]
    assert seeded["version"] == pinned == importlib.metadata.version("detect-secrets")
    for (relative, digest), path in distinct.path.items():
        copy = tmp_path / digest[:16] / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(path.read_bytes())
    scan = run(
        [
            tool("detect-secrets"),
            "scan",
            "--all-files",
            "--no-verify",
            "--exclude-files",
            r"tools/(toolchain|publish)\.txt$",
            "--exclude-files",
            r"\.secrets\.baseline$",
            ".",
        ],
        tmp_path,
        env,
    )
    result = json.loads(scan.stdout)
    assert result["results"] == {}, json.dumps(result["results"], indent=1)[:4000]
    # The seeded baseline scans with the same plugins and filters as the scanner's defaults.
    assert result["plugins_used"] == seeded["plugins_used"]


def test_actionlint_and_shellcheck_find_nothing(distinct, env) -> None:
    found = workflows(distinct)
    assert found
    for chunk in chunks(found):
        result = actionlint(chunk, env)
        assert result.returncode == 0, result.stdout[:4000] + result.stderr[:2000]


def test_the_projects_own_ruff_rules_pass_on_every_python_file(distinct, env) -> None:
    # Each project's pyproject.toml configures ruff for its files, tools/ included: the lint
    # job of every variant is green on the first commit.
    projects = distinct.representatives("*.py", "pyproject.toml")
    for chunk in chunks(projects):
        run([tool("ruff"), "check", "--no-cache", *chunk], ROOT, env)
        run([tool("ruff"), "format", "--no-cache", "--check", *chunk], ROOT, env)


def test_every_action_and_image_comes_from_the_data_tables(distinct) -> None:
    for _, path in distinct.files("*.yml", "*.yaml", "Makefile"):
        text = path.read_text(encoding="utf-8")
        for match in USES.finditer(text):
            name = match["name"]
            assert name in ACTIONS, f"{path}: {name} is not in includes/data/actions.yml"
            assert match["ref"] == ACTIONS[name]["sha"], f"{path}: {match[0]}"
            assert match["rest"].strip() == f"# {ACTIONS[name]['version']}", path
        for image in re.findall(r"[\w./-]+(?::[\w.-]+)?@sha256:[0-9a-f]{64}", text):
            assert image in PINNED_IMAGES, f"{path}: {image} is not in images.yml"
        assert not re.search(r"^\s*(name|image):\s*[\w./-]+:[\w.-]+\s*$", text, re.M), (
            f"{path}: an image pinned by tag only"
        )


def test_every_pin_in_the_data_tables_is_used_by_some_project(distinct) -> None:
    # A pin nothing renders is a pin nobody reviews: the tables hold only what projects use.
    text = "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for _, path in distinct.files("*.yml", "*.yaml", "Makefile")
    )
    used = {match["name"] for match in USES.finditer(text)}
    assert set(ACTIONS) <= used, sorted(set(ACTIONS) - used)
    unused_images = {image for image in PINNED_IMAGES if image not in text}
    assert not unused_images, sorted(unused_images)


# Where a project may name a choice it did not take, and why.
ALLOWED_MENTIONS = {
    # `make lock` removes, and `make lock-check` refuses, the other tools' lock files; on
    # GitLab the toolchain's uv installs each job's Python, whatever the lock tool. The
    # cooldown's fast lane (tools/cooldown.py, one script for every lock tool) knows where
    # each one reads its settings.
    "lock_tool": {
        "Makefile": r"^FOREIGN_LOCKS := .*$",
        "tools/cooldown.py": r".*",
        ".gitlab-ci.yml": r"^.*(\.tools/bin/uv|the toolchain's uv).*$",
    },
    # Dependabot's ecosystem and Renovate's manager for workflows are called github-actions.
    "publisher": {
        ".github/dependabot.yml": r"^.*github-actions.*$",
        "renovate.json": r"^.*github-actions.*$",
    },
    # GitHub's advisory database serves every host; Renovate on GitHub reads Dependabot alerts.
    # The release tools shared by publishers know each provider PyPI takes attestations from.
    "repository_host": {
        "SECURITY.md": r"^.*GitHub Advisory Database.*$",
        "tools/verify_published.py": r".*",
        "tools/provenance.py": r".*",
    },
    # The licence policy lists the licences dependencies may have, not the project's own;
    # the licence texts name their relatives; the licence checker knows every classifier.
    "license": {"license-policy.toml": r".*", "dependency-policy.toml": r".*", "LICENSE": r".*"},
    # Users' own scanners and bots, and Renovate's copier manager run by an organisation.
    "dependency_bot": {
        "SECURITY.md": r"^.*other scanners warn everyone.*$",
        "RELEASING.md": r"^.*Dependabot (alerts|security updates).*$",
        ".github/workflows/template-update.yml": r"^.*Renovate's copier.*$",
    },
}


def test_no_file_mentions_a_choice_the_project_did_not_take(combinations, matrix, distinct) -> None:
    answer_sets: dict[str, set[str]] = {}
    for combination in combinations:
        for question, value in combination.items():
            if question != "python_min" and value != "none":  # floors: the next test
                answer_sets.setdefault(question, set()).add(value)

    @functools.cache
    def mentions(key: FileKey) -> dict[str, frozenset[str]]:
        """The values of each question this file names, outside its allowed mentions."""
        relative, text = key[0], distinct.path[key].read_text(encoding="utf-8")
        found = {}
        for question, values in answer_sets.items():
            allowed = ALLOWED_MENTIONS.get(question, {}).get(relative)
            checked = re.sub(allowed, "", text, flags=re.M) if allowed else text
            found[question] = frozenset(
                value
                for value in values
                if re.search(rf"(?<![\w.-]){re.escape(value)}(?![\w-])", checked, re.I)
            )
        return found

    problems = []
    for project in matrix.values():
        answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
        for key in distinct.of_project[project]:
            relative = key[0]
            if relative in GENERATED or relative == ".copier-answers.yml" or verbatim(relative):
                continue
            for question, values in mentions(key).items():
                # A question copier did not ask (code_scanning on GitLab) has no answer.
                taken = answers.get(question)
                for value in sorted(values - {taken}):
                    problems.append(
                        f"{project.name}/{relative}: {question}={taken} but mentions {value}"
                    )
    assert not problems, "\n".join(problems[:40])


# A Python release named in a file: 3.N, py3N or python3.N (not inside a longer word or
# version, and not in an image digest's line).
PYTHON_MENTION = re.compile(r"(?<![\w.])(?:3\.(\d+)|py3(\d+)|python3\.(\d+))(?![\w])")


def test_no_file_mentions_a_python_older_than_the_floor(matrix, distinct) -> None:
    @functools.cache
    def pythons(key: FileKey) -> tuple[tuple[int, str], ...]:
        text = distinct.path[key].read_text(encoding="utf-8")
        text = re.sub(r"^.*@sha256:.*$", "", text, flags=re.M)  # images aside
        return tuple(
            (int(next(group for group in match.groups() if group)), match[0])
            for match in PYTHON_MENTION.finditer(text)
        )

    problems = []
    for project in matrix.values():
        floor = yaml.safe_load((project / ".copier-answers.yml").read_text())["python_min"]
        minor = int(floor.split(".")[1])
        for key in distinct.of_project[project]:
            if key[0] in GENERATED:
                continue
            for found, mention in pythons(key):
                if 8 <= found < minor:
                    problems.append(
                        f"{project.name}/{key[0]}: python_min={floor} but mentions {mention}"
                    )
    assert not problems, "\n".join(problems[:40])
