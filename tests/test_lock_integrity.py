"""What a generated project audits, describes and installs is exactly what its lock holds,
for every lock tool: every extra, group and platform is locked and audited; the SBOM is
the lock's runtime set; installs build the project only with a hash-locked backend; and no
dependency code runs where a release's files are made.

pip-audit talks to a local OSV service with real advisories (tests/osv_server.py); installs
that may fetch only locked files go through tests/locked_index.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.locked_index import run_locked
from tests.projects import admit, make, per_lock_tool, run, set_dependencies

pytestmark = pytest.mark.slow

# Known-vulnerable pins from the advisory snapshot.
EXTRA = {"web": ["jinja2==2.10"]}  # PYSEC-2019-217
WINDOWS_ONLY = "requests==2.19.0; sys_platform == 'win32'"  # PYSEC-2018-28


@per_lock_tool
def test_extras_and_other_platforms_are_locked_and_audited(
    tool, lock_project, project_copy, project_env, package_index
) -> None:
    project = project_copy(lock_project(tool))
    if tool == "pip-tools":
        # pip-compile locks for the platform it runs on: it would drop the requirement
        # silently, so `make lock` refuses it and says why.
        set_dependencies(project, [WINDOWS_ONLY])
        refused = make(project, project_env, "lock", check=False)
        assert refused.returncode != 0
        assert "requests applies only where" in refused.stderr, refused.stderr
        assert "pip-tools locks for one platform and Python only" in refused.stderr
        set_dependencies(project, [], EXTRA)
        make(project, project_env, "lock")
        audited = make(project, project_env, "audit", check=False)
        assert audited.returncode != 0
        assert "PYSEC-2019-217" in audited.stdout
        return
    set_dependencies(project, [WINDOWS_ONLY], EXTRA)
    if tool == "pdm":
        # A lock made without the extra's group (a bare `pdm lock`) fails the lock check.
        run([".tools/bin/python", "-I", "-m", "pdm", "lock"], project, project_env)
        stale = make(project, project_env, "lock-check", check=False)
        assert stale.returncode != 0
        assert "pdm.lock does not lock the groups web" in stale.stderr, stale.stderr
    make(project, project_env, "lock")
    admit(project, project_env, package_index)  # the lock check also wants them admitted
    make(project, project_env, "lock-check")
    audited = make(project, project_env, "audit", check=False)
    assert audited.returncode != 0
    assert "PYSEC-2019-217" in audited.stdout, audited.stdout  # the extra
    assert "PYSEC-2018-28" in audited.stdout  # Windows only


# The runtime set each lock holds for `requests==2.19.0; sys_platform == 'win32'` and the
# extra `jinja2==2.10` (pip-tools: the extra only, see above).
RUNTIME = {"requests", "certifi", "chardet", "idna", "urllib3", "jinja2", "markupsafe"}
RUNTIME_PIP_TOOLS = {"jinja2", "markupsafe"}
VALIDATE = """\
import json, sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
text = open(sys.argv[1], encoding="utf-8").read()
version = SchemaVersion.from_version(json.loads(text)["specVersion"])
error = JsonStrictValidator(version).validate_str(text)
sys.exit(f"invalid CycloneDX {version.to_version()}: {error}" if error else 0)
"""


def locked_hashes(export: Path) -> dict[tuple[str, str], set[str]]:
    """(name, version) -> sha256 digests, from a hashed requirements export (a lock may
    hold two versions of one package, for different Pythons or platforms)."""
    found: dict[tuple[str, str], set[str]] = {}
    for block in export.read_text().replace("\\\n", " ").splitlines():
        if match := re.match(r"([A-Za-z0-9._-]+)==([^\s;]+)", block.strip()):
            key = (re.sub(r"[-_.]+", "-", match[1]).lower(), match[2])
            found.setdefault(key, set()).update(re.findall(r"--hash=sha256:(\w+)", block))
    return found


@per_lock_tool
def test_the_sbom_is_the_locks_runtime_set_with_hashes_and_validates(
    tool, lock_project, project_copy, project_env
) -> None:
    project = project_copy(lock_project(tool))
    if tool == "pip-tools":
        set_dependencies(project, [], EXTRA)
    else:
        set_dependencies(project, [WINDOWS_ONLY], EXTRA)
    make(project, project_env, "lock")
    shutil.rmtree(project / ".venv", ignore_errors=True)
    make(project, project_env, "sbom")
    sbom_file = project / ".audit" / "sbom.cdx.json"
    sbom = json.loads(sbom_file.read_text())
    assert sbom["bomFormat"] == "CycloneDX" and sbom["specVersion"] == "1.6"
    root = sbom["metadata"]["component"]
    assert (root["name"], root["version"]) == ("my-project", "0.1.0")
    components = sbom.get("components", [])
    names = {c["name"].lower() for c in components}
    assert names == (RUNTIME_PIP_TOOLS if tool == "pip-tools" else RUNTIME)
    locked = locked_hashes(project / ".audit" / "runtime.txt")
    assert {(c["name"].lower(), c["version"]) for c in components} == set(locked)
    for component in components:
        name = component["name"].lower()
        assert component["purl"] == f"pkg:pypi/{name}@{component['version']}"
        digests = {
            h["content"]
            for reference in component.get("externalReferences", [])
            for h in reference.get("hashes", [])
            if h["alg"] == "SHA-256"
        }
        assert digests and digests == locked[(name, component["version"])], name
    run([".tools/bin/python", "-I", "-c", VALIDATE, str(sbom_file)], project, project_env)
    assert not (project / ".venv").exists(), "make sbom made an environment"


def evil_wheel(directory: Path) -> Path:
    """A wheel whose .pth file runs at every start of an interpreter it is installed in:
    it logs the start to $EVIL_LOG and overwrites the first bytes of every dist/*.whl
    below the working folder, as an attacker would between `make build` and the upload."""
    payload = (
        "import os, glob, sys; "
        "open(os.environ['EVIL_LOG'], 'a').write(f'{sys.executable} {sys.argv!r}\\n'); "
        "[open(p, 'r+b').write(b'PWNED') for p in glob.glob(os.path.join(os.getcwd(), 'dist', '*.whl'))]\n"
    )
    files = {
        "evil_pth.pth": payload,
        "evil_pth-1.0.dist-info/METADATA": "Metadata-Version: 2.4\nName: evil-pth\nVersion: 1.0\n",
        "evil_pth-1.0.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }

    def record(path: str, data: bytes) -> str:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        return f"{path},sha256={digest.decode()},{len(data)}"

    lines = [record(path, text.encode()) for path, text in files.items()]
    files["evil_pth-1.0.dist-info/RECORD"] = "\n".join([*lines, "evil_pth-1.0.dist-info/RECORD,,"])
    wheel = directory / "evil_pth-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@per_lock_tool
def test_building_and_describing_a_release_runs_no_dependency_code(
    tool, lock_project, project_copy, project_env, tmp_path
) -> None:
    project = project_copy(lock_project(tool))
    # A fresh checkout has no environment, and neither target makes one.
    shutil.rmtree(project / ".venv", ignore_errors=True)
    (project / ".pdm-python").unlink(missing_ok=True)
    make(project, project_env, "build", "sbom")
    assert not (project / ".venv").exists() and not (project / ".pdm-python").exists()
    # Now an environment whose every interpreter start runs a hostile .pth file, as a
    # compromised development dependency would ship.
    make(project, project_env, "install")
    evil = evil_wheel(tmp_path)
    uv_pip = [".tools/bin/uv", "pip", "install", "--quiet", "--no-deps", "--offline"]
    run([*uv_pip, "--python", ".venv/bin/python", str(evil)], project, project_env)
    log = tmp_path / "evil.log"
    env = {**project_env, "EVIL_LOG": str(log)}
    run([".venv/bin/python", "-c", "pass"], project, env)
    assert log.read_text(), "the payload is armed"
    log.unlink()
    make(project, env, "build")
    built = digests(project / "dist")
    make(project, env, "sbom")
    assert digests(project / "dist") == built
    assert not log.exists(), f"dependency code ran: {log.read_text()}"


@pytest.fixture(scope="session")
def locked_store(tmp_path_factory) -> Path:
    """Locked files fetched from PyPI once per session, each checked against its hash."""
    return tmp_path_factory.mktemp("locked-files")


@per_lock_tool
def test_install_needs_nothing_but_what_the_locks_name(
    tool, lock_project, project_copy, project_env, locked_store, tmp_path
) -> None:
    # Empty caches, and an index that serves only the locked files: an install that
    # builds this project with a backend fetched unpinned (uv's and PDM's build isolation)
    # asks for a page or a file it does not list, and the request is refused.
    project = project_copy(lock_project(tool))
    shutil.rmtree(project / ".venv", ignore_errors=True)
    (project / ".pdm-python").unlink(missing_ok=True)
    work = tmp_path / "locked-index"
    work.mkdir()
    report = run_locked(project, ["install"], store=locked_store, work=work, env=project_env)
    refused = [f"{r['method']} {r['url']} ({r['note']})" for r in report["refused"]]
    assert report["ok"], (
        f"refused: {refused}\n--- stdout\n{report['stdout']}\n--- stderr\n{report['stderr']}"
    )
    assert report["requests"], "nothing was installed through the locked index"
    assert (project / ".venv").exists()
