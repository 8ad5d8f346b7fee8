"""Nothing is installed before it is admitted: every lock tool's `make install` and
`make lock-check` run the admission check first, `make admit` exports the whole lock,
scheduled CI re-checks what was admitted, GitHub projects review pull requests against the
same policy, the docs say what a person must still judge, and `copier update` keeps a
maintainer's license-policy.toml edits until they move them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from copier import run_copy, run_update

from tests.conftest import SAMPLE_ANSWERS, pack, run
from tests.rendering import ROOT, TEMPLATE_PARTS, working_tree_files

LOCK_TOOLS = ["uv", "pdm", "poetry", "pip-tools"]
# The last commit of the template before dependency admission: its license-policy.toml
# is what projects from earlier releases have.
BEFORE_ADMISSION = "1190c87"
REVIEW_CONFIG = ".github/dependency-review-config.yml"


def dry_run(project: Path, target: str) -> str:
    """The commands `make -n TARGET` would run, in order (recursive makes included)."""
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", target],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(project)},
    )
    return result.stdout


@pytest.mark.parametrize("lock_tool", LOCK_TOOLS)
def test_install_and_the_lock_check_refuse_before_installing(render, lock_tool) -> None:
    project = render(lock_tool=lock_tool)
    install = dry_run(project, "install")
    checked = install.index(
        "tools/admit.py check .audit/requirements.txt --runtime .audit/runtime.txt"
    )
    exports = install[:checked]
    assert ".audit/requirements.txt" in exports and ".audit/runtime.txt" in exports
    installs = install[checked:]
    assert "--review-config " + REVIEW_CONFIG in installs.splitlines()[0]  # a GitHub project
    assert installs.count("\n") > 1, "nothing installs after the check"
    assert "venv .venv" not in exports and "sync" not in exports.replace("--all-extras", "")

    lock_check = dry_run(project, "lock-check")
    assert "tools/admit.py check" in lock_check

    admit = dry_run(project, "admit")
    assert "tools/admit.py admit .audit/requirements.txt --runtime .audit/runtime.txt" in admit
    assert "tools/admit.py recheck" in dry_run(project, "admit-recheck")
    assert "licenses" not in dry_run(project, "security")


def test_scheduled_ci_rechecks_the_admitted_dependencies(render) -> None:
    github = yaml.safe_load((render() / ".github/workflows/ci.yml").read_text())
    job = github["jobs"]["admissions"]
    assert [step["run"] for step in job["steps"] if "run" in step] == ["make admit-recheck"]
    assert job["permissions"] == {"contents": "read"}
    assert github[True]["schedule"]  # YAML reads `on` as True

    gitlab = render(repository_host="gitlab", publisher="gitlab-ci", dependency_bot="renovate")
    pipeline = yaml.safe_load((gitlab / ".gitlab-ci.yml").read_text())
    assert pipeline["admissions"]["script"] == ["make admit-recheck"]
    assert pipeline["admissions"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert not (gitlab / ".github").exists()
    assert (
        "GitLab has no merge-request review" in (gitlab / "docs/dependency-policy.md").read_text()
    )


def test_pull_requests_are_reviewed_against_the_same_policy(render) -> None:
    project = render()
    workflow = yaml.safe_load((project / ".github/workflows/dependency-review.yml").read_text())
    assert workflow[True] == {"pull_request": None}  # YAML reads `on` as True
    assert workflow["permissions"] == {}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    review = job["steps"][-1]
    actions = yaml.safe_load((ROOT / "includes/data/actions.yml").read_text())
    pin = actions["actions/dependency-review-action"]
    assert review["uses"] == f"actions/dependency-review-action@{pin['sha']}"
    # One source: the licences, severity and Scorecard level live in the config that
    # `make admit` writes from dependency-policy.toml, not in the workflow.
    assert review["with"] == {"config-file": f"./{REVIEW_CONFIG}"}
    text = (project / ".github/workflows/dependency-review.yml").read_text()
    assert f"# {pin['version']}" in text and "allow-licenses" not in text
    # A private repository without GitHub Code Security has no dependency graph to review:
    # it gets no workflow that would fail for its plan, and `make admit` stays the gate.
    private = render(code_scanning="none")
    assert not (private / ".github/workflows/dependency-review.yml").exists()
    assert (private / "dependency-policy.toml").exists()


def test_the_docs_say_what_to_check_and_how_to_ask_for_an_exception(render) -> None:
    project = render()
    guide = (project / "docs/dependency-policy.md").read_text()
    for topic in (
        "make admit",
        "Typosquat",
        "deps.dev",
        "Scorecard",
        "ecosyste.ms",
        "[[exception]]",
    ):
        assert topic in guide, topic
    for linking in ("README.md", "SECURITY.md", "DEVELOPMENT.md"):
        assert "docs/dependency-policy.md" in (project / linking).read_text(), linking
    policy = (project / "dependency-policy.toml").read_text()
    assert 'package = "mypy-extensions"' in policy  # reviewed by the template, with expiry
    assert not (project / "license-policy.toml").exists()
    assert not (project / "tools/licenses.py").exists()


# copier update -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def releases(tmp_path_factory, env) -> Path:
    """The template before dependency admission (v1.0.0), and today's (v1.1.0, v1.2.0)."""
    root = tmp_path_factory.mktemp("releases")
    archive = subprocess.run(
        ["git", "archive", BEFORE_ADMISSION], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    for entry in root.iterdir():  # only what copier reads, so its clones stay small
        if entry.name not in {*TEMPLATE_PARTS, "extensions"}:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    run(["git", "init", "-q"], root, env)
    for tag in ("v1.0.0", "v1.1.0", "v1.2.0"):
        if tag != "v1.0.0":
            run(["git", "rm", "-r", "-q", "."], root, env)
            for name in working_tree_files():
                if name.split("/", 1)[0] in TEMPLATE_PARTS:
                    (root / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(ROOT / name, root / name)
        run(["git", "add", "-A"], root, env)
        run(["git", "commit", "-q", "--allow-empty", "-m", tag], root, env)
        run(["git", "tag", tag], root, env)
    pack(root, env)
    return root


def generate(releases: Path, project: Path, env: dict[str, str], tag: str) -> Path:
    run_copy(str(releases), project, data=SAMPLE_ANSWERS, defaults=True, unsafe=False,
             quiet=True, vcs_ref=tag)  # fmt: skip
    run(["git", "init", "-q"], project, env)
    commit(project, env, "Generate")
    return project


def commit(project: Path, env: dict[str, str], message: str) -> None:
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-q", "-m", message], project, env)


def update(project: Path, tag: str) -> None:
    run_update(project, defaults=True, overwrite=True, unsafe=False, quiet=True, vcs_ref=tag)


def test_an_update_keeps_the_licence_policy_edits_until_they_move(releases, env, tmp_path):
    project = generate(releases, tmp_path / "old", env, "v1.0.0")
    policy = project / "license-policy.toml"
    text = policy.read_text().replace('    "Zlib",\n', '    "Zlib",\n    "Artistic-2.0",\n')
    text += '\n[[exception]]\npackage = "legacy-lib"\nreason = "Reviewed: BSD"\n'
    policy.write_text(text)
    commit(project, env, "Our licence decisions")

    update(project, "v1.1.0")
    kept = policy.read_text()
    assert '"Artistic-2.0"' in kept and 'package = "legacy-lib"' in kept
    assert "SUPERSEDED by dependency-policy.toml" in kept
    assert "<<<<<<<" not in kept and not list(project.rglob("*.rej"))
    assert (project / "dependency-policy.toml").is_file()
    assert not (project / "tools/licenses.py").exists()

    # Moved into dependency-policy.toml and deleted: the next update does not bring it back.
    policy.unlink()
    commit(project, env, "Move the licence decisions")
    update(project, "v1.2.0")
    assert not policy.exists()


def test_a_new_project_never_gets_the_superseded_policy(releases, env, tmp_path):
    project = generate(releases, tmp_path / "new", env, "v1.1.0")
    assert not (project / "license-policy.toml").exists()
    update(project, "v1.2.0")
    assert not (project / "license-policy.toml").exists()
