"""The promise that the template runs no code on a user's machine, proven with the real
`copier` CLI and without `--trust`: the in-process suite cannot prove it, because
pytest-copie passes `unsafe=True` (docs/decisions/0001-no-trust.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT, SAMPLE_ANSWERS, copier_copy, run

COPIER = [sys.executable, "-m", "copier"]


def test_the_template_uses_no_feature_that_needs_trust() -> None:
    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    assert not {"_tasks", "_jinja_extensions", "_migrations"} & set(config)


def test_the_cli_needs_no_trust_and_prints_the_next_steps(template, env, tmp_path) -> None:
    # Interactive use, as in the README: no --quiet, no --trust, exit code 0.
    command = [sys.executable, "-m", "copier", "copy", "--defaults", "--vcs-ref", "HEAD"]
    result = run([*command, str(template), str(tmp_path / "p")], tmp_path, env)
    assert "unsafe" not in result.stderr.lower()
    for step in ("make lock", "make install", "make check", "RELEASING.md"):
        assert step in result.stderr


def test_the_answers_file_records_every_answer_for_updates(template, env, tmp_path) -> None:
    copier_copy(template, tmp_path / "project", SAMPLE_ANSWERS, env)
    answers = yaml.safe_load((tmp_path / "project" / ".copier-answers.yml").read_text())
    assert answers["_commit"]
    assert answers["project_name"] == "Acme Widgets"
    assert answers["distribution_name"] == "acme-widgets"
    assert answers["package_name"] == "acme_widgets"
    assert answers["lock_tool"] == "uv"
    assert answers["publisher"] == "github-actions"


def test_a_bad_answer_exits_non_zero_naming_the_question(template, env, tmp_path) -> None:
    dst = tmp_path / "project"
    result = copier_copy(template, dst, {"package_name": "Bad-Name"}, env, check=False)
    assert result.returncode != 0
    assert "'package_name'" in result.stderr.strip().splitlines()[-1]
    assert not dst.exists(), "a failed copy must not leave a half-written project"


def test_an_organisation_settings_file_supplies_defaults(template, env, tmp_path) -> None:
    settings = tmp_path / "org-settings.yml"
    settings.write_text(
        yaml.safe_dump(
            {
                "defaults": {
                    "repository_owner": "acme",
                    "author_name": "Acme Open Source",
                    "author_email": "opensource@acme.example",
                    "security_contact": "psirt@acme.example",
                    "license": "Apache-2.0",
                    "publisher": "google-cloud-build",
                    "gcp_project_id": "acme-releases",
                }
            }
        )
    )
    org_env = {**env, "COPIER_SETTINGS_PATH": str(settings)}

    def copy(dst: Path, answer: str) -> dict:
        command = [*COPIER, "copy", "--defaults", "--quiet", "--vcs-ref", "HEAD"]
        run([*command, "--data", answer, str(template), str(dst)], tmp_path, org_env)
        return yaml.safe_load((dst / ".copier-answers.yml").read_text())

    result = copy(tmp_path / "project", "project_name=Acme Widgets")
    assert result["repository_owner"] == "acme"
    assert result["security_contact"] == "psirt@acme.example"
    assert result["license"] == "Apache-2.0"
    assert result["publisher"] == "google-cloud-build"
    assert result["gcp_service_account"] == "pypi-publisher@acme-releases.iam.gserviceaccount.com"
    assert "Apache License" in (tmp_path / "project" / "LICENSE").read_text()
    # An explicit answer still beats the organisation's default.
    assert copy(tmp_path / "other", "license=MIT")["license"] == "MIT"


def test_the_cli_updates_a_project_without_trust(env, tmp_path) -> None:
    from tests.conftest import snapshot_template
    from tests.template_versions import release

    versions = snapshot_template(tmp_path / "versions", env, tag="v1.0.0")
    release(versions, "v1.1.0", env)
    project = tmp_path / "project"
    copier_copy(versions, project, SAMPLE_ANSWERS, env, vcs_ref="v1.0.0")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "generated"]):
        run(["git", *args], project, env)
    result = run([*COPIER, "update", "--defaults"], project, env)
    assert "unsafe" not in result.stderr.lower()
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v1.1.0"
