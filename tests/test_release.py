"""A generated project's release steps run for real, through their make verbs, in one locked
project: the tag check refuses a commit that is not on the default branch and, once
.allowed_signers lists a key, an unsigned tag or one signed by another key; the rebuild
catches a build that records its own time; the post-publish check catches a tampered file
on a local index and accepts only the publisher that signed the real PEP 740 data; the VEX
lists the exceptions in force and validates, with the SBOM, against the CycloneDX schema;
and a locked dependency whose .pth file rewrites dist/ cannot touch what the build job
uploads."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import run
from tests.github_output import output_of
from tests.index_server import PROVENANCE, IndexServer
from tests.projects import lock_and_admit
from tests.variants import Variant, adapt_for_this_machine

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("release")]

TAG = "v0.1.0"


def make(project: Path, env: dict[str, str], *args: str, check: bool = True):
    return run(["make", "--no-print-directory", *args], project, env, check=check)


def git(project: Path, env: dict[str, str], *args: str, check: bool = True):
    return run(["git", *args], project, env, check=check)


@pytest.fixture(scope="module")
def project(tmp_path_factory, render, project_env, package_index) -> Path:
    """The default project, locked, admitted, committed and tagged, with `origin` holding
    main and the tag, and its toolchain installed."""
    root = tmp_path_factory.mktemp("release")
    project = root / "project"
    shutil.copytree(render(), project)
    adapt_for_this_machine(project, Variant("uv", {}))
    git(project, project_env, "init", "-q")
    lock_and_admit(project, project_env, package_index)
    git(project, project_env, "add", "-A")
    git(project, project_env, "commit", "-q", "-m", "first commit")
    git(project, project_env, "tag", "-a", TAG, "-m", TAG)
    git(root, project_env, "init", "-q", "--bare", "origin.git")
    git(project, project_env, "remote", "add", "origin", str(root / "origin.git"))
    git(project, project_env, "push", "-q", "origin", "main", TAG)
    return project


def release_check(project: Path, env: dict[str, str], check: bool = False):
    return make(
        project, {**env, "TAG": TAG, "DEFAULT_BRANCH": "main"}, "release-check", check=check
    )


def test_a_commit_not_on_the_default_branch_is_refused(project, project_env) -> None:
    assert release_check(project, project_env).returncode == 0
    git(project, project_env, "checkout", "-q", "-b", "feature")
    (project / "README.md").write_text("Unreviewed change\n")
    git(project, project_env, "commit", "-q", "-am", "not reviewed")
    git(project, project_env, "tag", "-f", "-a", TAG, "-m", TAG)
    try:
        refused = release_check(project, project_env)
        assert refused.returncode != 0
        assert "is not on the default branch 'main'" in refused.stderr
    finally:
        git(project, project_env, "checkout", "-q", "main")
        git(project, project_env, "branch", "-q", "-D", "feature")
        git(project, project_env, "tag", "-f", "-a", TAG, "-m", TAG)
    ok = release_check(project, project_env)
    assert ok.returncode == 0, ok.stderr
    assert "on the default branch main" in ok.stdout and "unsigned:" in ok.stdout


def test_with_allowed_signers_only_a_tag_signed_by_a_listed_key_passes(
    project, project_env, tmp_path
) -> None:
    keys = {}
    for name in ("alice", "mallory"):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(tmp_path / name)],
            tmp_path, project_env)  # fmt: skip
        keys[name] = tmp_path / name
    public = (tmp_path / "alice.pub").read_text().strip()
    (project / ".allowed_signers").write_text(f'alice@example.org namespaces="git" {public}\n')
    git(project, project_env, "add", ".allowed_signers")
    git(project, project_env, "commit", "-q", "-m", "Release tags must be signed")
    git(project, project_env, "push", "-q", "origin", "main", f":refs/tags/{TAG}")

    def tag(*how: str) -> subprocess.CompletedProcess[str]:
        git(project, project_env, "tag", "-d", TAG, check=False)
        git(project, project_env, *how)
        return release_check(project, project_env)

    def signed_by(name: str) -> list[str]:
        signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={keys[name]}"]
        return [*signing, "tag", "-s", TAG, "-m", TAG]

    unsigned = tag("tag", "-a", TAG, "-m", TAG)
    assert (
        unsigned.returncode != 0 and "is not signed by a key in .allowed_signers" in unsigned.stderr
    )
    lightweight = tag("tag", TAG)
    assert lightweight.returncode != 0 and "lightweight tag" in lightweight.stderr
    unknown = tag(*signed_by("mallory"))
    assert (
        unknown.returncode != 0 and "is not signed by a key in .allowed_signers" in unknown.stderr
    )
    good = tag(*signed_by("alice"))
    assert good.returncode == 0, good.stderr
    assert 'signed: Good "git" signature for alice@example.org' in good.stdout
    # Back to unsigned releases for the tests that follow.
    git(project, project_env, "rm", "-q", ".allowed_signers")
    git(project, project_env, "commit", "-q", "-m", "Release tags need no signature")
    tag("tag", "-a", TAG, "-m", TAG)


def test_the_rebuild_catches_a_build_that_records_its_own_time(project, project_env) -> None:
    make(project, project_env, "build")
    same = make(project, project_env, "rebuild-check")
    assert "Reproducible: 2 files rebuilt bit for bit" in same.stdout
    # A build hook that writes the clock into the wheel, committed as a maintainer would.
    (project / "hatch_build.py").write_text(
        "import pathlib, tempfile, time\n"
        "from hatchling.builders.hooks.plugin.interface import BuildHookInterface\n\n\n"
        "class CustomBuildHook(BuildHookInterface):\n"
        "    def initialize(self, version, build_data):\n"
        "        stamp = pathlib.Path(tempfile.mkdtemp()) / 'built'\n"
        "        stamp.write_text(str(time.time_ns()))\n"
        "        build_data['force_include'][str(stamp)] = 'my_project/built.txt'\n"
    )
    pyproject = project / "pyproject.toml"
    original = pyproject.read_text()
    pyproject.write_text(original + "\n[tool.hatch.build.targets.wheel.hooks.custom]\n")
    git(project, project_env, "add", "-A")
    git(project, project_env, "commit", "-q", "-m", "a build hook that records the time")
    try:
        make(project, project_env, "build")
        caught = make(project, project_env, "rebuild-check", check=False)
        assert caught.returncode != 0
        assert re.search(r"MISMATCH my_project-0\.1\.0-py3-none-any\.whl", caught.stdout)
        assert "my_project/built.txt: content" in caught.stdout
        assert "not reproducible" in caught.stderr
    finally:
        git(project, project_env, "reset", "-q", "--hard", "HEAD~1")
        make(project, project_env, "build")


def verify_published(project, env, index: IndexServer, *overrides: str):
    flags = "VERIFY_FLAGS=--offline --attempts 1 --delay 0"
    return make(
        project, env, "verify-published", f"PUBLISHED_INDEX={index.simple_url}/", flags,
        *overrides, check=False,
    )  # fmt: skip


def test_verify_published_catches_a_tampered_file_on_the_index(project, project_env) -> None:
    make(project, project_env, "build")
    built = {p.name: p.read_bytes() for p in (project / "dist").iterdir()}
    with IndexServer() as index:
        index.publish("my-project", "0.1.0", built)
        sdist = next(name for name in built if name.endswith(".tar.gz"))
        index.served[sdist] = built[sdist][:-1] + bytes([built[sdist][-1] ^ 1])
        tampered = verify_published(project, project_env, index)
    assert tampered.returncode != 0
    assert f"{sdist}: the index serves a file with sha256" in tampered.stderr
    assert "Yank the release now" in tampered.stderr


def test_verify_published_accepts_only_the_publisher_of_the_real_attestations(
    project, project_env, tmp_path
) -> None:
    filename = "pypi_attestations-0.0.19.tar.gz"
    dist = tmp_path / "dist"
    dist.mkdir()
    shutil.copy(PROVENANCE / filename, dist / filename)
    real = "PUBLISHER=--publisher github --repository trailofbits/pypi-attestations --workflow release.yml"
    with IndexServer() as index:
        index.served[filename] = (PROVENANCE / filename).read_bytes()
        index.hidden.add("pypi_attestations-0.0.19-py3-none-any.whl")
        saved = project / "dist.saved"
        (project / "dist").rename(saved)
        shutil.copytree(dist, project / "dist")
        try:
            accepted = verify_published(project, project_env, index, real)
            mine = verify_published(project, project_env, index)  # this project's identity
        finally:
            shutil.rmtree(project / "dist")
            saved.rename(project / "dist")
    assert accepted.returncode == 0, accepted.stderr
    assert f"OK {filename}" in accepted.stdout
    assert mine.returncode != 0
    assert '"repository":"my-org/my-project"' in mine.stderr.replace(" ", "")


def test_the_vex_lists_the_exceptions_in_force_and_validates_with_the_sbom(
    project, project_env
) -> None:
    pyproject = project / "pyproject.toml"
    original = pyproject.read_text()
    pyproject.write_text(original.replace("dependencies = []", 'dependencies = ["jinja2==2.10"]'))
    expires = datetime.date.today() + datetime.timedelta(days=30)
    (project / "audit-exceptions.toml").write_text(
        f'[[exception]]\nid = "PYSEC-2019-217"\nreason = "Test: only trusted templates"\n'
        f"expires = {expires}\n"
    )
    make(project, project_env, "lock", "vex")
    audit = project / ".audit"
    check = (
        "import json, sys\n"
        "from cyclonedx.schema import SchemaVersion\n"
        "from cyclonedx.validation.json import JsonStrictValidator\n"
        "validator = JsonStrictValidator(SchemaVersion.V1_6)\n"
        "for path in sys.argv[1:]:\n"
        "    error = validator.validate_str(open(path).read())\n"
        "    assert error is None, (path, error)\n"
    )
    # The schemas that cyclonedx-python-lib ships, offline, from the project's own toolchain.
    run([".tools/bin/python", "-I", "-c", check, str(audit / "vex.cdx.json"),
         str(audit / "sbom.cdx.json")], project, project_env)  # fmt: skip
    vex = json.loads((audit / "vex.cdx.json").read_text())
    stated = {
        prop["value"]
        for vuln in vex["vulnerabilities"]
        for prop in vuln["properties"]
        if prop["name"] == "audit-exceptions:id"
    }
    assert stated == {"PYSEC-2019-217"}
    ids = {vuln["id"] for vuln in vex["vulnerabilities"]}
    assert {"PYSEC-2019-217", "CVE-2019-10906"} <= ids
    serial = json.loads((audit / "sbom.cdx.json").read_text())["serialNumber"]
    assert all(
        ref["ref"].startswith(f"urn:cdx:{serial.removeprefix('urn:uuid:')}/")
        for vuln in vex["vulnerabilities"]
        for ref in vuln["affects"]
    )
    assert json.loads((audit / "vex.openvex.json").read_text())["statements"]


def pth_wheel(directory: Path) -> Path:
    """A wheel whose .pth file appends to every file in ./dist when Python starts."""
    payload = (
        "import glob, os; [open(p, 'ab').write(b'tampered') "
        "for p in glob.glob(os.path.join(os.getcwd(), 'dist', '*'))]\n"
    )
    files = {
        "evil.pth": payload,
        "evil-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: evil\nVersion: 0.1\n",
        "evil-0.1.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "evil-0.1.dist-info/RECORD,,\n"
    wheel = directory / "evil-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in {**files, "evil-0.1.dist-info/RECORD": record}.items():
            archive.writestr(name, text)
    return wheel


def digests(dist: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(dist.iterdir())}


def test_a_dependency_with_a_pth_file_cannot_touch_the_uploaded_files(
    project, project_env, tmp_path
) -> None:
    wheel = pth_wheel(tmp_path)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    text = re.sub(r"(?m)^dev = \[", f'dev = [\n    "evil @ {wheel.as_uri()}",', text, count=1)
    pyproject.write_text(text)
    make(project, project_env, "lock")
    git(project, project_env, "add", "-A")
    git(project, project_env, "commit", "-q", "-m", "a dev dependency with a .pth file")
    git(project, project_env, "tag", "-f", "-a", TAG, "-m", TAG)
    git(project, project_env, "push", "-q", "-f", "origin", "main", TAG)

    def clone(name: str) -> Path:
        path = tmp_path / name
        git(tmp_path, project_env, "clone", "-q", str(project.parent / "origin.git"), str(path))
        shutil.copytree(project / ".tools", path / ".tools", symlinks=True)  # same lock
        for stamp in (path / ".tools").glob(".toolchain-*"):
            stamp.touch()  # newer than the fresh checkout's tools/toolchain.txt
        return path

    reference = clone("reference")
    make(reference, project_env, "build")
    expected = digests(reference / "dist")

    # The build job's steps, in a fresh clone, as the runner runs them.
    workflow = yaml.safe_load((project / ".github" / "workflows" / "release.yml").read_text())
    job = clone("build-job")
    outputs = tmp_path / "build-job.outputs"  # the job's $GITHUB_OUTPUT
    outputs.write_text("")
    for step in workflow["jobs"]["build"]["steps"]:
        if "run" in step:
            env = {**project_env, **step.get("env", {}), "TAG": TAG, "GITHUB_OUTPUT": str(outputs)}
            run(["bash", "-e", "-c", step["run"]], job, env)
    assert digests(job / "dist") == expected, "the uploaded files are what make build made"
    recorded = [line.split() for line in output_of(outputs)["sha256"].splitlines()]
    assert {name: digest for digest, name in recorded} == expected, "and what later jobs check"

    # Admission stops it: a local wheel is on no index, so `make install` refuses the lock.
    refused = make(job, project_env, "install", check=False)
    assert refused.returncode != 0 and "not a pinned requirement: file:" in refused.stderr
    assert "evil-0.1-py3-none-any.whl" in refused.stderr
    assert not (job / ".venv").exists()
    # The attack is real: once the project's environment runs, the .pth file rewrites dist/.
    run([".tools/bin/uv", "sync", "--locked", "--all-extras"], job, project_env)
    run([".venv/bin/python", "-c", "pass"], job, project_env)
    assert digests(job / "dist") != expected
