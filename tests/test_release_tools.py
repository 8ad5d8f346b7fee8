"""The release tools every project ships, run as the pipelines run them: the post-publish check
against a local index serving the real PEP 740 data that pypi-attestations ships, the SLSA
provenance check against a real GitLab signature, the VEX validated by the CycloneDX
schema, the GitLab protection check on ID-token claims, and the GitLab Release against a
stand-in for GitLab's API that accepts nothing but the job token."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tests.index_server import PROVENANCE, IndexServer
from tests.rendering import ROOT

TOOLS = ROOT / "template" / "tools"


def tool(name: str) -> Path:
    """template/tools/NAME.py, whatever condition its file name carries."""
    (found,) = [p for p in TOOLS.iterdir() if re.search(rf"(^|\}}){name}\.py({{%|$)", p.name)]
    return found


def run_tool(name: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-I", str(tool(name)), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
        check=False,
    )


# Post-publish verification ------------------------------------------------------------------
GITHUB = ["--publisher", "github", "--repository", "trailofbits/pypi-attestations"]
GITLAB = ["--publisher", "gitlab", "--repository", "facutuesca/gitlab-oidc-project"]
GOOGLE = ["--publisher", "google", "--service-account"]
GCB_ACCOUNT = "919436158236-compute@developer.gserviceaccount.com"
REAL = {
    "github": ("pypi_attestations-0.0.19.tar.gz", [*GITHUB, "--workflow", "release.yml"]),
    "gitlab": ("gitlab_oidc_project-0.0.3.tar.gz", [*GITLAB, "--workflow-file", ".gitlab-ci.yml"]),
    "google": ("gcb_attestation_test-0.0.0.tar.gz", [*GOOGLE, GCB_ACCOUNT]),
}


@pytest.fixture(scope="module")
def index() -> Iterator[IndexServer]:
    with IndexServer() as server:
        # The real files, served as PyPI serves them; the release 0.0.19 of pypi-attestations
        # lists its sdist only, the one file whose bytes ship with pypi-attestations.
        for filename, _ in REAL.values():
            server.served[filename] = (PROVENANCE / filename).read_bytes()
        server.hidden.add("pypi_attestations-0.0.19-py3-none-any.whl")
        yield server


def verify(index: IndexServer, dist: Path, identity: list[str]):
    return run_tool(
        "verify_published",
        *["--dist", str(dist), "--index", index.simple_url + "/", *identity],
        *["--offline", "--attempts", "1", "--delay", "0"],
    )


def dist_of(tmp_path: Path, filename: str, data: bytes | None = None) -> Path:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / filename).write_bytes(
        data if data is not None else (PROVENANCE / filename).read_bytes()
    )
    return dist


@pytest.mark.parametrize("publisher", sorted(REAL))
def test_real_attestations_verify_offline_against_their_publisher(index, tmp_path, publisher):
    filename, identity = REAL[publisher]
    result = verify(index, dist_of(tmp_path, filename), identity)
    assert result.returncode == 0, result.stderr
    assert f"OK {filename}" in result.stdout
    assert "the index serves exactly the 1 files built here" in result.stdout


@pytest.mark.parametrize(
    ("publisher", "identity", "said"),
    [
        # Another workflow of the same repository: `verify pypi --repository` would pass it.
        ("github", [*GITHUB, "--workflow", "ci.yml"], "expected"),
        ("github", ["--publisher", "github", "--repository", "evil/pypi-attestations"], "expected"),
        ("gitlab", ["--publisher", "gitlab", "--repository", "facutuesca/other"], "expected"),
        ("google", [*GOOGLE, "other@acme.iam.gserviceaccount.com"], "expected"),
        ("google", REAL["github"][1], "attested by"),
    ],
)
def test_a_mismatched_identity_is_refused(index, tmp_path, publisher, identity, said) -> None:
    filename, _ = REAL[publisher]
    result = verify(index, dist_of(tmp_path, filename), identity)
    assert result.returncode == 1
    assert said in result.stderr and "Yank the release now" in result.stderr


def test_a_file_the_index_serves_tampered_is_caught(tmp_path) -> None:
    filename, identity = REAL["google"]
    with IndexServer() as server:
        original = (PROVENANCE / filename).read_bytes()
        server.served[filename] = original + b"\0"  # listed with the right sha256
        result = verify(server, dist_of(tmp_path, filename), identity)
    assert result.returncode == 1
    assert "the index serves a file with sha256" in result.stderr


def test_a_file_that_differs_from_the_build_is_caught(index, tmp_path) -> None:
    filename, identity = REAL["gitlab"]
    result = verify(index, dist_of(tmp_path, filename, b"rebuilt differently"), identity)
    assert result.returncode == 1
    assert "the index declares sha256" in result.stderr


def test_a_file_on_the_index_that_was_not_built_here_is_caught(tmp_path) -> None:
    filename, identity = REAL["github"]
    with IndexServer() as server:  # the wheel of that release is listed too
        server.served[filename] = (PROVENANCE / filename).read_bytes()
        result = verify(server, dist_of(tmp_path, filename), identity)
    assert result.returncode == 1
    assert "pypi_attestations-0.0.19-py3-none-any.whl" in result.stderr


def test_a_release_without_provenance_is_refused(tmp_path) -> None:
    filename, identity = REAL["google"]
    with IndexServer() as server:
        server.served[filename] = (PROVENANCE / filename).read_bytes()
        server.withheld.add(filename)
        result = verify(server, dist_of(tmp_path, filename), identity)
    assert result.returncode == 1
    assert "has no provenance" in result.stderr


# SLSA provenance ----------------------------------------------------------------------------
GITLAB_IDENTITY = (
    "https://gitlab.com/facutuesca/gitlab-oidc-project//.gitlab-ci.yml@refs/heads/main"
)


@pytest.fixture(scope="module")
def gitlab_bundle(tmp_path_factory) -> Path:
    """dist/ and provenance/ as `make provenance` leaves them, from a real GitLab signature:
    the attestation shipped with pypi-attestations, as the Sigstore bundle it is."""
    from pypi_attestations import Attestation

    root = tmp_path_factory.mktemp("provenance")
    filename = REAL["gitlab"][0]
    dist_of(root, filename)
    attestation = Attestation.model_validate_json(
        (PROVENANCE / f"{filename}.publish.attestation").read_text()
    )
    (root / "provenance").mkdir()
    bundle = json.dumps(json.loads(attestation.to_bundle().to_json()), separators=(",", ":"))
    (root / "provenance" / f"{filename}.intoto.jsonl").write_text(bundle + "\n")
    return root


def test_provenance_verifies_against_the_identity_that_signed_it(gitlab_bundle) -> None:
    args = ["verify", "--issuer", "https://gitlab.com", "--offline"]
    good = run_tool("provenance", *args, "--identity", GITLAB_IDENTITY, cwd=gitlab_bundle)
    assert good.returncode == 0, good.stderr
    other_ref = GITLAB_IDENTITY.replace("refs/heads/main", "refs/tags/v0.0.3")
    bad = run_tool("provenance", *args, "--identity", other_ref, cwd=gitlab_bundle)
    assert bad.returncode == 1 and "does not verify" in bad.stderr


@pytest.mark.parametrize("provider", ["gitlab", "cloudbuild"])
def test_the_provenance_predicate_is_valid_slsa_v1(tmp_path, provider) -> None:
    from sigstore.dsse._predicate import SLSAPredicateV1_0

    env = {
        "gitlab": {
            "CI_PROJECT_URL": "https://gitlab.com/acme/python/my-project",
            "CI_COMMIT_TAG": "v0.1.0",
            "CI_COMMIT_SHA": "a" * 40,
            "CI_PROJECT_ID": "42",
            "CI_PIPELINE_ID": "7",
            "CI_PIPELINE_SOURCE": "push",
            "CI_SERVER_URL": "https://gitlab.com",
            "CI_PROJECT_PATH": "acme/python/my-project",
            "CI_RUNNER_ID": "12",
            "CI_PIPELINE_URL": "https://gitlab.com/acme/python/my-project/-/pipelines/7",
            "CI_JOB_IMAGE": "python:3.13-bookworm@sha256:" + "b" * 64,
        },
        "cloudbuild": {
            "PROJECT_ID": "acme-releases",
            "BUILD_ID": "1234",
            "LOCATION": "europe-west1",
            "REPOSITORY_URL": "https://github.com/acme/my-project",
            "TAG_NAME": "v0.1.0",
            "COMMIT_SHA": "a" * 40,
            "SERVICE_ACCOUNT": "pypi@acme-releases.iam.gserviceaccount.com",
        },
    }[provider]
    output = tmp_path / "predicate.json"
    build_type = "https://github.com/acme/my-project/blob/main/RELEASING.md"
    written = run_tool(
        "provenance", "predicate", provider, str(output), "--build-type", build_type,
        env={**env, "SOURCE_DATE_EPOCH": "1700000000"},
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    # The model `sigstore attest` validates the predicate with before it signs anything.
    predicate = SLSAPredicateV1_0.model_validate_json(output.read_text())
    assert predicate.build_definition.build_type == build_type
    assert output.read_text().count("a" * 40) == 2  # the source and its commit, twice
    missing = run_tool(
        "provenance", "predicate", provider, str(tmp_path / "none.json"), "--build-type", "x",
        env={key: "" for key in env},
    )  # fmt: skip
    assert missing.returncode == 1 and "is not set" in missing.stderr
    assert not (tmp_path / "none.json").exists()


# VEX ----------------------------------------------------------------------------------------
SBOM = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
    "version": 1,
    "metadata": {
        "component": {
            "type": "library",
            "bom-ref": "my-project==0.1.0",
            "name": "my-project",
            "version": "0.1.0",
        }
    },
    "components": [
        {
            "type": "library",
            "bom-ref": "jinja2==2.10",
            "name": "Jinja2",
            "version": "2.10",
            "purl": "pkg:pypi/jinja2@2.10",
        },
        {
            "type": "library",
            "bom-ref": "markupsafe==3.0.3",
            "name": "MarkupSafe",
            "version": "3.0.3",
            "purl": "pkg:pypi/markupsafe@3.0.3",
        },
    ],
}
FINDINGS = {
    "exceptions": [
        {
            "id": "PYSEC-2019-217",
            "reason": "Only renders our own trusted templates",
            "expires": "2027-01-31",
            "findings": [
                {
                    "name": "jinja2",
                    "version": "2.10",
                    "ids": ["PYSEC-2019-217", "CVE-2019-10906", "GHSA-462w-v97r-4m45"],
                }
            ],
        },
        {
            "id": "GHSA-h5c8-rqwp-cp95",
            "reason": "No locked package has it any more, still in force",
            "expires": "2027-02-01",
            "findings": [],
        },
    ]
}


def write_vex(
    tmp_path: Path, findings: dict = FINDINGS
) -> tuple[subprocess.CompletedProcess, Path]:
    sbom = tmp_path / "sbom.cdx.json"
    if not sbom.exists():
        sbom.write_text(json.dumps(SBOM))
    (tmp_path / "findings.json").write_text(json.dumps(findings))
    result = run_tool(
        "vex", "--sbom", str(sbom), "--findings", str(tmp_path / "findings.json"),
        "--cyclonedx", str(tmp_path / "vex.cdx.json"), "--openvex", str(tmp_path / "vex.openvex.json"),
        env={"SOURCE_DATE_EPOCH": "1700000000"},
    )  # fmt: skip
    return result, sbom


def test_the_vex_lists_exactly_the_exceptions_in_force_and_validates(tmp_path) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    result, sbom = write_vex(tmp_path)
    assert result.returncode == 0, result.stderr
    vex = json.loads((tmp_path / "vex.cdx.json").read_text())
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    for document in (vex, json.loads(sbom.read_text())):
        assert validator.validate_str(json.dumps(document)) is None
    exceptions = {
        prop["value"]
        for vuln in vex["vulnerabilities"]
        for prop in vuln["properties"]
        if prop["name"] == "audit-exceptions:id"
    }
    assert exceptions == {"PYSEC-2019-217", "GHSA-h5c8-rqwp-cp95"}
    by_id = {vuln["id"]: vuln for vuln in vex["vulnerabilities"]}
    assert set(by_id) == {
        "PYSEC-2019-217", "CVE-2019-10906", "GHSA-462w-v97r-4m45", "GHSA-h5c8-rqwp-cp95",
    }  # fmt: skip
    serial = json.loads(sbom.read_text())["serialNumber"].removeprefix("urn:uuid:")
    assert by_id["CVE-2019-10906"]["affects"] == [{"ref": f"urn:cdx:{serial}/1#jinja2==2.10"}]
    assert by_id["CVE-2019-10906"]["analysis"]["state"] == "in_triage"
    assert by_id["CVE-2019-10906"]["analysis"]["detail"] == "Only renders our own trusted templates"
    openvex = json.loads((tmp_path / "vex.openvex.json").read_text())
    assert openvex["@context"] == "https://openvex.dev/ns/v0.2.0"
    statement = openvex["statements"][0]
    assert statement["status"] == "under_investigation"
    assert statement["products"] == [
        {"@id": "pkg:pypi/my-project@0.1.0", "subcomponents": [{"@id": "pkg:pypi/jinja2@2.10"}]}
    ]
    assert len(openvex["statements"]) == 2


def test_the_vex_is_reproducible(tmp_path) -> None:
    first, _ = write_vex(tmp_path)
    digests = [hashlib.sha256((tmp_path / n).read_bytes()).digest() for n in ("vex.cdx.json",)]
    second, _ = write_vex(tmp_path)  # the SBOM now has its serial: kept as it is
    assert first.returncode == second.returncode == 0
    assert digests == [hashlib.sha256((tmp_path / "vex.cdx.json").read_bytes()).digest()]


def test_no_exceptions_give_an_empty_valid_vex_and_no_openvex(tmp_path) -> None:
    result, _ = write_vex(tmp_path, {"exceptions": []})
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "vex.cdx.json").read_text())["vulnerabilities"] == []
    assert not (tmp_path / "vex.openvex.json").exists()


def test_a_finding_the_sbom_does_not_have_is_an_error(tmp_path) -> None:
    findings = json.loads(json.dumps(FINDINGS))
    findings["exceptions"][0]["findings"][0]["version"] = "2.9"
    result, _ = write_vex(tmp_path, findings)
    assert result.returncode == 1
    assert "jinja2 2.9 is locked but not in the SBOM" in result.stderr
    assert not (tmp_path / "vex.cdx.json").exists()


# GitLab: the protection check ---------------------------------------------------------------
def token(**claims: str) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.signature"


PROTECTED = {
    "ref_type": "tag",
    "ref_path": "refs/tags/v0.1.0",
    "ref_protected": "true",
    "environment": "pypi",
    "environment_protected": "true",
}


@pytest.mark.parametrize(
    ("claims", "opt_out", "said"),
    [
        (PROTECTED, "", None),
        ({**PROTECTED, "ref_protected": "false"}, "true", "is not a protected tag"),
        ({**PROTECTED, "ref_type": "branch"}, "", "is not a protected tag"),
        ({**PROTECTED, "environment_protected": "false"}, "", "ALLOW_UNPROTECTED_ENVIRONMENT"),
        ({**PROTECTED, "environment_protected": "false"}, "true", None),
        ({k: v for k, v in PROTECTED.items() if k != "environment"}, "true", "no environment"),
    ],
)
def test_publishing_needs_a_protected_tag_and_environment(claims, opt_out, said) -> None:
    env = {"PYPI_ID_TOKEN": token(**claims), "ALLOW_UNPROTECTED_ENVIRONMENT": opt_out}
    result = run_tool("gitlab_protection", env=env)
    if said is None:
        assert result.returncode == 0, result.stderr
        if opt_out:
            assert "anyone who can push to this project can publish" in result.stdout
    else:
        assert result.returncode == 1
        assert said in result.stderr


def test_the_protection_check_needs_the_id_token() -> None:
    assert "is not set" in run_tool("gitlab_protection", env={"PYPI_ID_TOKEN": ""}).stderr
    assert "not a JWT" in run_tool("gitlab_protection", env={"PYPI_ID_TOKEN": "x"}).stderr


# GitLab: the Release ------------------------------------------------------------------------
JOB_TOKEN = "job-token-for-this-job"  # noqa: S105 (a stand-in)


class FakeGitLab(BaseHTTPRequestHandler):
    """The endpoints gitlab_release.py calls, for project 42; only JOB-TOKEN is accepted."""

    packages: ClassVar[dict] = {}
    releases: ClassVar[dict] = {}
    headers_seen: ClassVar[set] = set()

    def log_message(self, *args) -> None:
        pass

    def reply(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def allowed(self) -> bool:
        self.headers_seen.update(k.lower() for k in self.headers if "token" in k.lower())
        if self.headers.get("JOB-TOKEN") != JOB_TOKEN:
            self.reply(401, {"message": "401 Unauthorized"})
            return False
        return True

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def page(self, items: list) -> list:
        """One page of a list, as GitLab pages them (per_page at most 100, 20 if not given)."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        size = min(int(query.get("per_page", ["20"])[0]), 100)
        number = int(query.get("page", ["1"])[0])
        return items[(number - 1) * size : number * size]

    def do_PUT(self) -> None:
        if not self.allowed():
            return
        pattern = (
            r"/api/v4/projects/42/packages/generic/([^/]+)/([^/]+)/([^/?]+)\?select=package_file"
        )
        match = re.fullmatch(pattern, self.path)
        if not match:
            return self.reply(404, {"message": "404 Not found"})
        data = self.body()
        package = self.packages.setdefault(
            (match[1], match[2]), {"id": len(self.packages) + 1, "files": []}
        )
        entry = {"file_name": match[3], "file_sha256": hashlib.sha256(data).hexdigest()}
        package["files"].append(entry)
        self.reply(201, entry)

    def do_GET(self) -> None:
        if not self.allowed():
            return
        if self.path.startswith("/api/v4/projects/42/packages?"):
            listing = [
                {"id": p["id"], "name": k[0], "version": k[1]} for k, p in self.packages.items()
            ]
            return self.reply(200, self.page(listing))
        if match := re.fullmatch(
            r"/api/v4/projects/42/packages/(\d+)/package_files\?.*", self.path
        ):
            for package in self.packages.values():
                if package["id"] == int(match[1]):
                    return self.reply(200, self.page(package["files"]))
        match = re.fullmatch(r"/api/v4/projects/42/releases/([^/]+)", self.path)
        if match and match[1] in self.releases:
            return self.reply(200, self.releases[match[1]])
        self.reply(404, {"message": "404 Not found"})

    def do_POST(self) -> None:
        if not self.allowed():
            return
        if self.path == "/api/v4/projects/42/releases":
            body = json.loads(self.body())
            if body["tag_name"] in self.releases:
                return self.reply(409, {"message": "Release already exists"})
            self.releases[body["tag_name"]] = body
            return self.reply(201, body)
        if match := re.fullmatch(r"/api/v4/projects/42/releases/([^/]+)/assets/links", self.path):
            link = json.loads(self.body())
            self.releases[match[1]]["assets"]["links"].append(link)
            return self.reply(201, link)
        self.reply(404, {"message": "404 Not found"})


@pytest.fixture
def gitlab() -> Iterator[tuple[dict[str, str], type[FakeGitLab]]]:
    FakeGitLab.packages, FakeGitLab.releases, FakeGitLab.headers_seen = {}, {}, set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitLab)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "CI_API_V4_URL": f"http://127.0.0.1:{server.server_address[1]}/api/v4",
        "CI_PROJECT_ID": "42",
        "CI_COMMIT_TAG": "v0.1.0",
        "CI_JOB_TOKEN": JOB_TOKEN,
    }
    yield env, FakeGitLab
    server.shutdown()
    server.server_close()


def test_the_gitlab_release_keeps_every_file_with_the_job_token_only(gitlab, tmp_path) -> None:
    env, api = gitlab
    files = {
        "my_project-0.1.0.tar.gz": b"sdist",
        "my_project-0.1.0-py3-none-any.whl": b"wheel",
        "my_project-0.1.0.tar.gz.intoto.jsonl": b"{}\n",
        "sbom.cdx.json": b"{}",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    args = [str(tmp_path / name) for name in list(files)[:3]]
    args.append(f"{tmp_path / 'sbom.cdx.json'}=v0.1.0.sbom.cdx.json")
    first = run_tool("gitlab_release", *args, env=env)
    assert first.returncode == 0, first.stderr
    links = {link["name"]: link for link in api.releases["v0.1.0"]["assets"]["links"]}
    assert set(links) == {*list(files)[:3], "v0.1.0.sbom.cdx.json"}
    assert links["my_project-0.1.0.tar.gz"]["direct_asset_path"] == "/dist/my_project-0.1.0.tar.gz"
    assert links["v0.1.0.sbom.cdx.json"]["direct_asset_path"] == "/evidence/v0.1.0.sbom.cdx.json"
    assert all(link["link_type"] == "package" for link in links.values())
    assert api.headers_seen == {"job-token"}, "the job token, and nothing else"
    # Again: nothing is uploaded twice; a file that changed is refused.
    again = run_tool("gitlab_release", *args, env=env)
    assert again.returncode == 0 and again.stdout.count("kept") == 4
    (tmp_path / "my_project-0.1.0.tar.gz").write_bytes(b"another sdist")
    changed = run_tool("gitlab_release", *args, env=env)
    assert changed.returncode == 1 and "a release's files never change" in changed.stderr
    wrong = run_tool("gitlab_release", *args, env={**env, "CI_JOB_TOKEN": "nope"})
    assert wrong.returncode == 1 and "401" in wrong.stderr
    outside = run_tool("gitlab_release", *args, env={**env, "CI_COMMIT_TAG": ""})
    assert outside.returncode == 1 and "CI_COMMIT_TAG is not set" in outside.stderr


def test_a_changed_file_is_refused_after_a_hundred_releases_too(gitlab, tmp_path) -> None:
    # The registry lists packages a page at a time: the release's own package may be on
    # page 2, and its files must still be found, or the sha256 guard would be silent.
    env, api = gitlab
    for number in range(150):
        api.packages["release-assets", f"0.0.{number}"] = {"id": number + 1, "files": []}
    api.packages["release-assets", "v0.1.0"] = {
        "id": 999,
        "files": [{"file_name": "my_project-0.1.0.tar.gz", "file_sha256": "0" * 64}],
    }
    (tmp_path / "my_project-0.1.0.tar.gz").write_bytes(b"another sdist")
    changed = run_tool("gitlab_release", str(tmp_path / "my_project-0.1.0.tar.gz"), env=env)
    assert changed.returncode == 1 and "a release's files never change" in changed.stderr
