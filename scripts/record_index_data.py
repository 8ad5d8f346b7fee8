"""Record the package-index data that tests/index_server.py serves to tools/admit.py tests.

Run from the repository root, with network access to PyPI only:

    python3 -m uv run --locked python scripts/record_index_data.py

It writes, under tests/data/:

- pypi/<name>.json.gz: the bytes PyPI answered for https://pypi.org/pypi/<name>/json (the
  latest version's metadata plus the `releases` map of every version's files), gzipped,
  unchanged, for every distribution of the example lock below and a few chosen ones;
- pypi/RECORDED_AT: when;
- locks/example-all.txt, locks/example-runtime.txt: the example project's lock exported by
  uv as hashed requirements (all groups / runtime only), resolved as of EXCLUDE_NEWER;
- provenance/: the real PEP 740 attestations and provenance that the pypi-attestations sdist
  (0.0.30, downloaded from PyPI and checked against PyPI's sha256) ships as test assets,
  plus the derived files described in tests/data/README.md.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
PYPI = "https://pypi.org"
EXCLUDE_NEWER = "2026-11-18T00:00:00Z"  # a week before the recording: the cooldown

# A realistic project: these runtime dependencies, pytest and ruff as dev tools, and
# pypi-attestations 0.0.19, whose sdist has real PEP 740 provenance in the assets below.
EXAMPLE_PYPROJECT = """\
[project]
name = "acme-widgets"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["requests", "jinja2", "rich", "httpx", "attrs", "click", "packaging",
                "pypi-attestations==0.0.19"]
[dependency-groups]
dev = ["pytest", "ruff"]
[tool.uv]
package = false
"""
# Recorded besides the example lock: a GPL-only package, and the other projects whose
# files have real provenance among the assets.
EXTRA = ["unidecode", "pypi-attestation-models", "gcb-attestation-test"]

ATTESTATIONS_SDIST = ("pypi-attestations", "0.0.30")
# Files of the sdist's test/assets/ copied unchanged into tests/data/provenance/.
ASSETS = [
    "pypi_attestations-0.0.19.tar.gz.provenance",  # GitHub, real PyPI provenance
    "gcb_attestation_test-0.0.0.tar.gz.provenance",  # Google Cloud, real PyPI provenance
    "gitlab_oidc_project-0.0.3.tar.gz.publish.attestation",  # GitLab
    "pypi_attestation_models-0.0.4a2.tar.gz.sigstore",  # GitHub, a Sigstore bundle
]


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (https only)
        return response.read()


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(f"wrote {path.relative_to(ROOT)} ({len(data)} bytes)")


def export_example_lock() -> list[str]:
    """Lock the example project with uv and export it; return the locked names."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "pyproject.toml").write_text(EXAMPLE_PYPROJECT)
        uv = [sys.executable, "-m", "uv"]
        common = ["--no-config", "--project", str(project)]
        subprocess.run(
            [
                *uv,
                "lock",
                *common,
                "--exclude-newer",
                EXCLUDE_NEWER,
                "--index-url",
                f"{PYPI}/simple",
                "--python",
                sys.executable,
            ],
            check=True,
        )
        exports = {}
        for name, flags in {"all": ["--all-groups"], "runtime": ["--no-dev"]}.items():
            exports[name] = subprocess.run(
                [
                    *uv,
                    "export",
                    *common,
                    "--frozen",
                    "--no-header",
                    "--format",
                    "requirements.txt",
                    *flags,
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            write(DATA / "locks" / f"example-{name}.txt", exports[name].encode())
    return re.findall(r"^([a-z0-9][a-z0-9._-]*)==", exports["all"], re.MULTILINE)


def record_json(names: list[str]) -> None:
    for name in names:
        write(
            DATA / "pypi" / f"{name}.json.gz",
            gzip.compress(get(f"{PYPI}/pypi/{name}/json"), mtime=0),
        )
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    write(DATA / "pypi" / "RECORDED_AT", f"{now}\n".encode())


def extract_assets() -> None:
    name, version = ATTESTATIONS_SDIST
    release = json.loads(get(f"{PYPI}/pypi/{name}/json"))["releases"][version]
    (sdist,) = [f for f in release if f["packagetype"] == "sdist"]
    data = get(sdist["url"])
    if hashlib.sha256(data).hexdigest() != sdist["digests"]["sha256"]:
        raise SystemExit(f"error: {sdist['filename']} does not match PyPI's sha256")
    root = sdist["filename"].removesuffix(".tar.gz")
    out = DATA / "provenance"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for asset in ASSETS:
            member = tar.extractfile(f"{root}/test/assets/{asset}")
            assert member is not None
            write(out / asset, member.read())
        licence = tar.extractfile(f"{root}/LICENSE")
        assert licence is not None
        write(out / "pypi-attestations.LICENSE", licence.read())
        gitlab = tar.extractfile(f"{root}/test/assets/gitlab_oidc_project-0.0.3.tar.gz")
        assert gitlab is not None
        gitlab_sha256 = hashlib.sha256(gitlab.read()).hexdigest()

    # Derived: the GitHub-signed Sigstore bundle of pypi-attestation-models 0.0.4a2,
    # converted to a PEP 740 attestation by pypi-attestations itself.
    from pypi_attestations import Attestation
    from sigstore.models import Bundle

    bundle = Bundle.from_json(
        (out / "pypi_attestation_models-0.0.4a2.tar.gz.sigstore").read_bytes()
    )
    attestation = Attestation.from_bundle(bundle)
    write(
        out / "pypi_attestation_models-0.0.4a2.tar.gz.publish.attestation",
        attestation.model_dump_json().encode(),
    )
    # The GitLab example project is not on PyPI: its sdist's real sha256 is kept here.
    write(out / "gitlab_oidc_project-0.0.3.tar.gz.sha256", f"{gitlab_sha256}\n".encode())


def main() -> int:
    names = export_example_lock()
    record_json(sorted(set(names) | set(EXTRA)))
    extract_assets()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
