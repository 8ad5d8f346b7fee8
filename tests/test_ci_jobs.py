"""The generated CI runs for real: every `run:` step of the GitHub workflows, executed line
by line in a fresh clone of the project's first commit, as the runner would (the GitLab
jobs run with gitlab-ci-local: tests/test_real_clients.py). Jobs that need an OIDC
identity (attest, publish) cannot run off their platform; their make targets are checked
with `make -n` and their tools are installed for real."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import run
from tests.github_output import output_of
from tests.projects import clone, lock_and_admit
from tests.variants import GITLAB, Variant, adapt_for_this_machine

pytestmark = pytest.mark.slow

TAG = "v0.1.0"


def first_commit(project: Path, variant: Variant, env: dict[str, str], index) -> Path:
    """The maintainer's first commit: the generated project, locked and admitted."""
    adapt_for_this_machine(project, variant)
    run(["git", "init", "-q"], project, env)
    lock_and_admit(project, env, index)
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-q", "-m", "first commit"], project, env)
    run(["git", "tag", "-a", TAG, "-m", TAG], project, env)  # what the release jobs check
    return project


def fresh_checkout(repository: Path, name: str, env: dict[str, str]) -> Path:
    clone = repository.parent / "jobs" / name
    run(["git", "clone", "-q", str(repository), str(clone)], repository.parent, env)
    return clone


def run_lines(lines: list[str], cwd: Path, env: dict[str, str], name: str) -> None:
    script = "set -e\n" + "\n".join(lines)
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, (
        f"job {name} failed\n--- stdout\n{result.stdout[-5000:]}\n--- stderr\n{result.stderr[-5000:]}"
    )


def test_gitlab_jobs_that_need_gitlab_have_their_targets_and_tools(
    render, fresh_copy, project_env, package_index
):
    variant = Variant("gitlab-uv", {**GITLAB, "lock_tool": "uv"})
    repository = first_commit(
        fresh_copy(render(**variant.answers)), variant, project_env, package_index
    )
    pipeline = yaml.safe_load((repository / ".gitlab-ci.yml").read_text())
    jobs = {
        name: job for name, job in pipeline.items() if isinstance(job, dict) and "id_tokens" in job
    }
    # Jobs that need GitLab itself: the OIDC identity (publish), the published release
    # (verify-published; tests/test_release.py runs its target), GitLab's API (release).
    # The other jobs run for real with gitlab-ci-local (tests/test_real_clients.py).
    assert set(jobs) == {"publish"}
    on_gitlab = {"publish", "verify-published", "release"}
    every = {
        name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job
    }
    for name in sorted(on_gitlab):
        clone = fresh_checkout(repository, name, project_env)
        targets = [
            target for line in every[name]["script"] for target in line.split("#")[0].split()[1:]
        ]
        run(["make", "-n", *targets], clone, project_env)
    run(["make", "--no-print-directory", ".publish/.installed"], clone, project_env)


def workflow_steps(workflow: dict, job: str) -> list[dict]:
    return [step for step in workflow["jobs"][job]["steps"] if "run" in step]


@pytest.mark.parametrize(
    "lock_tool",
    [
        pytest.param(tool, marks=pytest.mark.xdist_group(f"lock-{tool}"))
        for tool in ("uv", "pip-tools")
    ],
)
def test_every_github_run_step_passes(lock_tool, lock_project, project_env, tmp_path) -> None:
    # The maintainer's first commit (the default project, locked and admitted, shared with
    # the other tests of this lock tool: tests/projects.py), tagged for the release job.
    repository = clone(lock_project(lock_tool), tmp_path / "repository")
    run(["git", "tag", "-a", TAG, "-m", TAG], repository, project_env)
    workflows = {
        path.stem: yaml.safe_load(path.read_text())
        for path in (repository / ".github" / "workflows").glob("*.yml")
    }
    jobs = [("ci", job) for job in workflows["ci"]["jobs"]] + [("release", "build")]
    for workflow, job in jobs:
        steps = workflow_steps(workflows[workflow], job)
        assert steps, f"{workflow}/{job} runs nothing"
        checkout = fresh_checkout(repository, f"{workflow}-{job}", project_env)
        outputs = tmp_path / f"{workflow}-{job}.outputs"  # the job's $GITHUB_OUTPUT
        outputs.write_text("")
        for step in steps:  # each step in its own shell, with its own env, as on GitHub
            env = {
                **project_env,
                "GITHUB_OUTPUT": str(outputs),
                **{
                    k: re.sub(r"\$\{\{ github.ref_name \}\}", TAG, str(v))
                    for k, v in step.get("env", {}).items()
                },
            }
            if env.get("ZIZMOR_ONLINE") == "1":
                # The online audits ask GitHub, which this machine cannot reach: the job
                # passes its own read-only token, and the same target runs here offline.
                assert step["env"]["GH_TOKEN"] == "${{ github.token }}"  # noqa: S105 (an expression)
                del env["ZIZMOR_ONLINE"], env["GH_TOKEN"]
                no_token = {**env, "ZIZMOR_ONLINE": "1"}
                refused = run(["make", "zizmor"], checkout, no_token, check=False)
                assert refused.returncode != 0 and "needs a GitHub token" in refused.stderr
            run_lines([step["run"]], checkout, env, f"{workflow}/{job}: {step['name']}")
    # The publish job's first check, on what the build job made: the sha256 it recorded.
    publish = workflows["release"]["jobs"]["publish"]["steps"]
    assert publish[1]["env"] == {"SHA256": "${{ needs.build.outputs.sha256 }}"}
    built = repository.parent / "jobs" / "release-build"
    sha256 = output_of(tmp_path / "release-build.outputs")["sha256"]
    assert len(sha256.splitlines()) == 2, sha256
    run_lines([publish[1]["run"]], built, {**project_env, "SHA256": sha256}, "publish: check")
