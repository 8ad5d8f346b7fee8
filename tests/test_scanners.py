"""A second vulnerability scanner, Grype or Trivy, scans the SBOM of the locked
environment: in CI on either host, and locally with `make scan`. Its image is pinned by
digest from includes/data/images.yml."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.conftest import ROOT
from tests.variants import GITLAB

IMAGES = yaml.safe_load((ROOT / "includes" / "data" / "images.yml").read_text())


def pinned(name: str) -> str:
    return f"{IMAGES[name]['image']}@{IMAGES[name]['digest']}"


@pytest.mark.parametrize("scanner", ["grype", "trivy"])
def test_github_ci_scans_the_sbom_with_the_pinned_image(scanner, render) -> None:
    project = render(vulnerability_scanner=scanner)
    ci = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    assert [step["run"] for step in ci["jobs"]["scan"]["steps"] if "run" in step] == ["make scan"]
    dry_run = subprocess.run(
        ["make", "-n", "scan"], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    assert "docker run --rm --volume" in dry_run and pinned(scanner) in dry_run
    assert "sbom.cdx.json" in dry_run


@pytest.mark.parametrize("scanner", ["grype", "trivy"])
def test_gitlab_scans_the_sbom_of_the_security_job(scanner, render) -> None:
    project = render(**GITLAB, vulnerability_scanner=scanner)
    pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
    assert pipeline["security"]["artifacts"]["paths"] == [".audit/sbom.cdx.json"]
    scan = pipeline["scan"]
    assert scan["needs"] == ["security"]
    assert scan["image"]["name"] == pinned(scanner)
    assert "sbom" in scan["script"][0] and ".audit/sbom.cdx.json" in scan["script"][0]


def test_no_scanner_means_no_scan_job(render) -> None:
    project = render()
    ci = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    assert "scan" not in ci["jobs"]
    assert "scan:" not in (project / "Makefile").read_text()
