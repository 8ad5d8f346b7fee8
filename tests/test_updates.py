"""`copier update` loses nothing. Each scenario updates in-process, through copier's own
`run_copy` and `run_update` without trust (`unsafe=False`, as the CLI without --trust), a
git copy of this template tagged v1.0.0 (today's working tree), v1.1.0 and v1.2.0 (see
tests/template_versions.py for what each release changes). tests/test_cli.py runs an
update through the real CLI."""

from __future__ import annotations

import filecmp
import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from copier import run_copy, run_update

from tests.conftest import SAMPLE_ANSWERS, run, snapshot_template
from tests.projects import lock_and_admit
from tests.template_versions import AHEAD_CHECKOUT, NEW_CHECKOUT, OLD_CHECKOUT, release
from tests.validators import check_many_schemas, tool, zizmor_findings

COPIER = [sys.executable, "-m", "copier"]


@pytest.fixture(scope="module")
def versions(tmp_path_factory, env) -> Path:
    root = snapshot_template(tmp_path_factory.mktemp("versions"), env, tag="v1.0.0")
    release(root, "v1.1.0", env)
    release(root, "v1.2.0", env)
    return root


def copy_at(template: Path, dst: Path, answers: dict, tag: str) -> None:
    run_copy(str(template), dst, data=answers, defaults=True, unsafe=False, quiet=True, vcs_ref=tag)


def generate(
    versions: Path, dst: Path, env: dict[str, str], answers: dict | None = None, tag: str = "v1.0.0"
) -> Path:
    """A project generated at `tag`, committed: what a maintainer has before updating."""
    copy_at(versions, dst, {**SAMPLE_ANSWERS, **(answers or {})}, tag)
    run(["git", "init", "-q"], dst, env)
    commit(dst, env, "Generate from the template")
    return dst


def commit(project: Path, env: dict[str, str], message: str) -> None:
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-q", "-m", message], project, env)


def update(project: Path, env: dict[str, str], *args: str) -> None:
    """`copier update --defaults [--vcs-ref TAG] [--data KEY=VALUE ...]`, in-process."""
    options = dict(zip(args[::2], args[1::2], strict=True))
    data = dict(
        item.split("=", 1)
        for flag, item in zip(args[::2], args[1::2], strict=True)
        if flag == "--data"
    )
    run_update(
        project,
        data=data,
        defaults=True,
        overwrite=True,
        unsafe=False,
        quiet=True,
        vcs_ref=options.get("--vcs-ref"),
    )


def files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    )


def assert_identical(left: Path, right: Path) -> None:
    assert files(left) == files(right)
    _, mismatch, errors = filecmp.cmpfiles(left, right, files(left), shallow=False)
    assert (mismatch, errors) == ([], [])


def assert_clean_merge(project: Path, env: dict[str, str]) -> None:
    status = run(["git", "status", "--porcelain"], project, env).stdout
    assert not [line for line in status.splitlines() if line[:2] in {"UU", "AA", "DU", "UD"}]
    assert not list(project.rglob("*.rej"))
    for path in project.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert "<<<<<<< before updating" not in path.read_text(errors="replace"), path


def answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


# 1 -----------------------------------------------------------------------------------------
def test_an_untouched_project_becomes_a_fresh_copy_of_the_new_version(versions, env, tmp_path):
    project = generate(versions, tmp_path / "old" / "project", env)
    update(project, env, "--vcs-ref", "v1.1.0")
    fresh = tmp_path / "fresh" / "project"
    copy_at(versions, fresh, SAMPLE_ANSWERS, "v1.1.0")
    assert_identical(project, fresh)
    assert answers(project)["_commit"] == "v1.1.0"


# 2 -----------------------------------------------------------------------------------------
OWNED_EDITS = {
    "README.md": "\n## Our own section\n\nWritten by the maintainers.\n",
    "CHANGELOG.md": "\n## [0.2.0]\n\n- Something we did.\n",
    "src/acme_widgets/__init__.py": "\n\ndef farewell() -> str:\n    return 'bye'\n",
    "tests/test_acme_widgets.py": "\n\ndef test_more() -> None:\n    assert True\n",
    "audit-exceptions.toml": '\n[[exception]]\nid = "X"\nreason = "y"\nexpires = 2099-01-01\n',
    "cooldown-exemptions.toml": '\n[[exemption]]\npackage = "x"\nversion = "1.0.1"\n',
}


def test_edits_to_files_the_project_owns_are_kept_exactly(versions, env, tmp_path):
    project = generate(versions, tmp_path / "project", env)
    for name, addition in OWNED_EDITS.items():
        with (project / name).open("a") as file:
            file.write(addition)
    (project / "src" / "acme_widgets" / "extra.py").write_text("VALUE = 1\n")
    before = {
        name: (project / name).read_bytes() for name in [*OWNED_EDITS, "src/acme_widgets/extra.py"]
    }
    commit(project, env, "Our work")
    update(project, env)
    assert {name: (project / name).read_bytes() for name in before} == before
    assert_clean_merge(project, env)


def test_a_deleted_owned_file_stays_deleted(versions, env, tmp_path):
    project = generate(versions, tmp_path / "project", env)
    (project / "audit-exceptions.toml").unlink()
    commit(project, env, "We keep no exceptions file")
    update(project, env)
    assert not (project / "audit-exceptions.toml").exists()


# 3 -----------------------------------------------------------------------------------------
def test_edits_to_template_owned_files_merge_without_conflicts(versions, env, tmp_path):
    project = generate(versions, tmp_path / "project", env)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("dependencies = []", 'dependencies = ["requests>=2.32"]')
        + "\n[tool.coverage.run]\nbranch = true\n"
    )
    with (project / "Makefile").open("a") as file:
        file.write("\ndocs: ## Build our documentation\n\t@echo docs\n")
    commit(project, env, "Our dependency and our target")
    update(project, env, "--vcs-ref", "v1.1.0")
    assert_clean_merge(project, env)
    assert 'dependencies = ["requests>=2.32"]' in pyproject.read_text()
    assert "[tool.coverage.run]" in pyproject.read_text()
    makefile = (project / "Makefile").read_text()
    assert "docs: ## Build our documentation" in makefile
    assert "clean: ## Remove the environments and everything built" in makefile  # template's


def test_switching_the_publisher_keeps_the_projects_own_make_targets(versions, env, tmp_path):
    # Targets appended to the Makefile, and targets in project.mk (the project's own file),
    # both survive an update that changes the publisher: the Makefile's last lines do not
    # depend on any answer.
    project = generate(versions, tmp_path / "project", env)
    with (project / "Makefile").open("a") as file:
        # .PHONY: the project has a docs/ folder (docs/dependency-policy.md).
        file.write("\n.PHONY: docs\ndocs: ## Build our documentation\n\t@echo docs\n")
    with (project / "project.mk").open("a") as file:
        file.write("\nserve: ## Serve the documentation\n\t@echo serve\n")
    commit(project, env, "Our targets")
    update(project, env, "--vcs-ref", "v1.1.0", "--data", "publisher=google-cloud-build")
    assert_clean_merge(project, env)
    assert (project / "cloudbuild.yaml").exists()
    for target in ("docs", "serve"):
        assert run(["make", "--no-print-directory", target], project, env).stdout == f"{target}\n"


# 4 -----------------------------------------------------------------------------------------
def bump_workflows(project: Path, new: str) -> None:
    for path in (project / ".github" / "workflows").glob("*.yml"):
        path.write_text(path.read_text().replace(OLD_CHECKOUT, new))


def test_a_bot_bump_equal_to_the_new_pin_merges_cleanly(versions, env, tmp_path):
    project = generate(versions, tmp_path / "project", env)
    bump_workflows(project, NEW_CHECKOUT)
    commit(project, env, "Bump actions/checkout from 7.0.1 to 7.0.2 (Dependabot)")
    update(project, env, "--vcs-ref", "v1.1.0")
    assert_clean_merge(project, env)
    fresh = tmp_path / "fresh" / "project"
    copy_at(versions, fresh, SAMPLE_ANSWERS, "v1.1.0")
    assert_identical(project / ".github", fresh / ".github")


def test_a_bot_bump_ahead_of_the_template_is_never_silently_downgraded(versions, env, tmp_path):
    # The policy (README, "Bots and the template"): the newer pin wins, explicitly. The
    # update marks the line as a conflict; the pre-commit hook and CI refuse it until the
    # maintainer keeps the newer pin.
    project = generate(versions, tmp_path / "project", env)
    bump_workflows(project, AHEAD_CHECKOUT)
    commit(project, env, "Bump actions/checkout from 7.0.1 to 7.0.3 (Dependabot)")
    update(project, env, "--vcs-ref", "v1.1.0")
    ci = (project / ".github" / "workflows" / "ci.yml").read_text()
    assert "<<<<<<< before updating" in ci and AHEAD_CHECKOUT in ci and NEW_CHECKOUT in ci
    hook = run(
        [tool("pre-commit"), "run", "no-conflict-markers", "--all-files"],
        project,
        env,
        check=False,
    )
    assert hook.returncode != 0
    # Keeping the newer pin resolves it; the template then catching up merges cleanly.
    for path in (project / ".github" / "workflows").glob("*.yml"):
        text = path.read_text()
        resolved = text.replace(
            f"<<<<<<< before updating\n        uses: actions/checkout@{AHEAD_CHECKOUT}\n"
            f"=======\n        uses: actions/checkout@{NEW_CHECKOUT}\n>>>>>>> after updating\n",
            f"        uses: actions/checkout@{AHEAD_CHECKOUT}\n",
        )
        path.write_text(resolved)
        assert "<<<<<<<" not in resolved and "=======" not in resolved
    commit(project, env, "Update from the template, keeping actions/checkout 7.0.3")
    assert AHEAD_CHECKOUT in (project / ".github" / "workflows" / "ci.yml").read_text()


# 5 -----------------------------------------------------------------------------------------
def test_answers_carry_over_renamed_added_and_removed_questions(versions, env, tmp_path):
    project = generate(
        versions,
        tmp_path / "project",
        env,
        {
            "security_contact": "psirt@acme.example",
            "license": "BSD-2-Clause",
            "python_min": "3.11",
        },
    )
    update(project, env)  # to v1.2.0, --defaults: no question is asked
    result = answers(project)
    assert result["_commit"] == "v1.2.0"
    assert result["response_days"] == "10"  # new question: its default
    assert result["security_email"] == "psirt@acme.example"  # renamed: the old answer
    assert "security_contact" not in result
    assert result["license"] == "BSD-3-Clause"  # removed choice: its successor
    assert result["python_min"] == "3.12"  # end of life: the next release
    assert "psirt@acme.example" in (project / "SECURITY.md").read_text()
    assert 'requires-python = ">=3.12"' in (project / "pyproject.toml").read_text()


# 6 -----------------------------------------------------------------------------------------
def test_one_update_crosses_several_releases(versions, env, tmp_path):
    project = generate(versions, tmp_path / "project", env)
    with (project / "README.md").open("a") as file:
        file.write("\nOurs.\n")
    commit(project, env, "Our README")
    update(project, env)  # v1.0.0 -> v1.2.0 in one step
    assert answers(project)["_commit"] == "v1.2.0"
    assert_clean_merge(project, env)
    fresh = tmp_path / "fresh" / "project"
    copy_at(versions, fresh, {**SAMPLE_ANSWERS, "python_min": "3.12"}, "v1.2.0")
    (project / "README.md").write_text((fresh / "README.md").read_text())  # ours, by design
    assert_identical(project, fresh)


# 7 -----------------------------------------------------------------------------------------
def test_switching_the_lock_tool_leaves_nothing_of_the_old_one(versions, env, tmp_path):
    project = generate(versions, tmp_path / "project", env, {"lock_tool": "pip-tools"})
    assert (project / "requirements" / "dev.in").exists()
    update(project, env, "--vcs-ref", "v1.1.0", "--data", "lock_tool=pdm")
    assert_clean_merge(project, env)
    fresh = tmp_path / "fresh" / "project"
    copy_at(versions, fresh, {**SAMPLE_ANSWERS, "lock_tool": "pdm"}, "v1.1.0")
    assert_identical(project, fresh)
    assert not (project / "requirements").exists()
    assert not (project / ".github" / "dependabot.yml").exists()  # PDM: Renovate
    assert answers(project)["dependency_bot"] == "renovate"


# check-update --------------------------------------------------------------------------------
def check_update(project: Path, env: dict[str, str]) -> dict:
    out = run([*COPIER, "check-update", "--output-format", "json"], project, env).stdout
    return json.loads(out)


def test_check_update_reports_behind_and_current(versions, env, tmp_path):
    project = generate(versions, tmp_path / "project", env)
    assert check_update(project, env) == {
        "update_available": True,
        "current_version": "1.0.0",
        "latest_version": "1.2.0",
    }
    update(project, env)
    commit(project, env, "Update from the template")
    assert check_update(project, env)["update_available"] is False


@pytest.mark.slow
def test_the_make_targets_behind_the_scheduled_checks_report_drift(versions, project_env, tmp_path):
    project = generate(versions, tmp_path / "project", project_env)
    behind = run(
        ["make", "--no-print-directory", "template-current"], project, project_env, check=False
    )
    assert behind.returncode != 0 and "A newer project template is out" in behind.stderr
    report = json.loads((project / ".audit" / "template.json").read_text())
    assert report["update_available"] is True and report["latest_version"] == "1.2.0"
    update(project, project_env)
    commit(project, project_env, "Update from the template")
    run(["make", "--no-print-directory", "template-current"], project, project_env)


# adopting an existing repository -------------------------------------------------------------
def test_an_existing_repository_adopts_the_template(versions, env, tmp_path):
    project = tmp_path / "legacy"
    (project / "src" / "acme_widgets").mkdir(parents=True)
    (project / "src" / "acme_widgets" / "__init__.py").write_text(
        "def legacy() -> int:\n    return 1\n"
    )
    (project / "README.md").write_text("# Acme Widgets\n\nOur long-standing README.\n")
    (project / "pyproject.toml").write_text('[project]\nname = "acme-widgets"\nversion = "3.1.0"\n')
    run(["git", "init", "-q"], project, env)
    commit(project, env, "Years of history")
    # The documented procedure (README, "Adopting the template in an existing repository").
    run_copy(
        str(versions),
        project,
        data=SAMPLE_ANSWERS,
        defaults=True,
        overwrite=True,
        unsafe=False,
        quiet=True,
        vcs_ref="v1.0.0",
    )
    run(["git", "checkout", "--", "README.md", "src/"], project, env)  # what we own, we keep
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.1.0"', 'version = "3.1.0"'))
    commit(project, env, "Adopt the secure Python template")
    assert (project / ".copier-answers.yml").exists()
    assert "legacy" in (project / "src" / "acme_widgets" / "__init__.py").read_text()
    update(project, env)
    assert_clean_merge(project, env)
    assert "Our long-standing README." in (project / "README.md").read_text()
    assert 'version = "3.1.0"' in pyproject.read_text()
    assert answers(project)["_commit"] == "v1.2.0"


def updated_projects(versions: Path, env: dict[str, str], tmp_path: Path, tag: str) -> list[Path]:
    """A uv and a PDM project generated at v1.0.0 and updated to `tag`."""
    projects = []
    for lock_tool in ("uv", "pdm"):
        project = generate(
            versions, tmp_path / tag / lock_tool / "project", env, {"lock_tool": lock_tool}
        )
        update(project, env, "--vcs-ref", tag)
        projects.append(project)
    return projects


def test_updated_projects_pass_the_same_validators(versions, env, tmp_path):
    projects = [
        project
        for tag in ("v1.1.0", "v1.2.0")
        for project in updated_projects(versions, env, tmp_path, tag)
    ]
    # Each validator once over every updated project, as the static bar runs them.
    assert zizmor_findings(tmp_path, [str(project) for project in projects], env) == []
    checked = check_many_schemas(projects, env)
    for project in projects:
        assert project / ".github" / "workflows" / "ci.yml" in checked
    run([tool("validate-pyproject"), *(str(p / "pyproject.toml") for p in projects)], tmp_path, env)


@pytest.mark.slow
def test_updated_projects_still_pass_every_ci_target(
    versions, project_env, package_index, tmp_path
):
    # v1.1.0: v1.2.0 needs Python 3.12, which this test machine does not have.
    for project in updated_projects(versions, project_env, tmp_path, "v1.1.0"):
        lock_and_admit(project, project_env, package_index)
        commit(project, project_env, "Lock and admit")
        run(["make", "--no-print-directory", "install", "check", "build"], project, project_env)


@pytest.mark.slow
def test_after_switching_lock_tools_the_printed_steps_remove_the_old_lock(
    versions, project_env, package_index, tmp_path
):
    project = generate(versions, tmp_path / "project", project_env)
    lock_and_admit(project, project_env, package_index)
    commit(project, project_env, "Lock with uv")
    update(project, project_env, "--data", "lock_tool=pdm")
    commit(project, project_env, "Switch to PDM")
    result = run(["make", "--no-print-directory", "lock-check"], project, project_env, check=False)
    assert result.returncode != 0 and "Run 'make lock'" in result.stderr
    lock_and_admit(project, project_env, package_index)  # as the update says
    assert not (project / "uv.lock").exists() and (project / "pdm.lock").exists()
    shutil.rmtree(project / ".venv")
    run(["make", "--no-print-directory", "install", "test"], project, project_env)
