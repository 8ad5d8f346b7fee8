"""After publishing: check that the index serves exactly the files built here, with provenance.

Usage (`make verify-published`, with the toolchain, where pypi-attestations is installed):
  python -I tools/verify_published.py --dist dist [--index https://pypi.org/simple/] \
      --publisher github --repository OWNER/REPO --workflow release.yml [--environment pypi]
  ...  --publisher gitlab --repository NAMESPACE/PROJECT [--workflow-file .gitlab-ci.yml]
  ...  --publisher google --service-account NAME@PROJECT.iam.gserviceaccount.com
  [--attempts 10] [--delay 30] [--offline]

For the project and version of the files in --dist, it reads the index's JSON simple API
(PEP 691: GET INDEX/<name>/, Accept: application/vnd.pypi.simple.v1+json) and fails unless:

1. the release on the index has exactly the files in --dist (none missing, none extra);
2. each file the index serves (downloaded from its `url`) has the sha256 of the local file,
   and the index declares that same sha256;
3. each file has a PEP 740 provenance object (the file's `provenance` URL; on an index
   that predates it, PyPI's Integrity API: INDEX_ROOT/integrity/NAME/VERSION/FILE/provenance),
   every attestation bundle in it names the expected Trusted Publisher, and each of its
   attestations verifies (Sigstore certificate chain, transparency log, signature,
   subject name and digest) against that publisher: the identity given here, not the one
   the provenance object claims. At least one publish attestation must be present.

A new release can take a little while to appear: the index is read again, up to --attempts
times, --delay seconds apart, until every file is listed. --offline verifies against the
Sigstore trust root bundled with sigstore-python instead of refreshing it (tests).

`pypi-attestations verify pypi --repository` is not enough here: it takes the workflow from
the provenance it checks, so any workflow of the repository would pass. This script gives
the verifier the publisher it expects, workflow (or pipeline file, or account) included.
If anything fails, the release on the index is not what this pipeline built: the message
says so and points to RELEASING.md's steps for yanking it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from pypi_attestations import (
    AttestationError,
    Distribution,
    GitHubPublisher,
    GitLabPublisher,
    GooglePublisher,
    Provenance,
)

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
PUBLISH_PREDICATE = "https://docs.pypi.org/attestations/publish/v1"


class Refused(Exception):
    pass


def parse(filename: str) -> tuple[str, str]:
    if filename.endswith(".whl"):
        name, version, _, _ = parse_wheel_filename(filename)
    elif filename.endswith(".tar.gz"):
        name, version = parse_sdist_filename(filename)
    else:
        raise Refused(f"{filename} is not a wheel or an sdist")
    return str(name), str(version)


def get(url: str, accept: str | None = None) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise Refused(f"{url} is not an http(s) URL")
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (index URLs)
        return response.read()


def expected_publisher(args: argparse.Namespace):
    if args.publisher == "github":
        return GitHubPublisher(
            repository=args.repository, workflow=args.workflow, environment=args.environment
        )
    if args.publisher == "gitlab":
        return GitLabPublisher(
            repository=args.repository,
            workflow_filepath=args.workflow_file,
            environment=args.environment,
        )
    return GooglePublisher(email=args.service_account)


def same_identity(claimed, expected) -> bool:
    """The provenance's publisher names the expected one (environment only if one was given)."""
    if claimed.kind != expected.kind:
        return False
    if expected.kind == "GitHub":
        return (
            claimed.repository == expected.repository
            and claimed.workflow == expected.workflow
            and (expected.environment is None or claimed.environment == expected.environment)
        )
    if expected.kind == "GitLab":
        return (
            claimed.repository == expected.repository
            and claimed.workflow_filepath == expected.workflow_filepath
            and (expected.environment is None or claimed.environment == expected.environment)
        )
    return claimed.email == expected.email


def describe(publisher) -> str:
    return json.dumps(publisher.model_dump(exclude_none=True), sort_keys=True)


def local_files(dist: Path) -> tuple[str, str, dict[str, str]]:
    files = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(dist.iterdir())
        if p.name.endswith((".whl", ".tar.gz"))
    }
    if not files:
        raise Refused(f"{dist} holds no distributions")
    releases = {parse(name) for name in files}
    if len(releases) != 1:
        raise Refused(f"{dist} mixes releases: {sorted(releases)}")
    name, version = releases.pop()
    return name, version, files


def index_files(
    index: str, name: str, version: str, expected: set[str], attempts: int, delay: float
) -> tuple[str, dict]:
    project_url = urllib.parse.urljoin(
        index if index.endswith("/") else index + "/", f"{canonicalize_name(name)}/"
    )
    for attempt in range(1, attempts + 1):
        try:
            page = json.loads(get(project_url, SIMPLE_JSON))
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise Refused(f"{project_url} answered {error.code}") from None
            page = {"files": []}
        files = {
            f["filename"]: f for f in page.get("files", []) if parse(f["filename"])[1] == version
        }
        if expected <= set(files):
            return project_url, files
        missing = ", ".join(sorted(expected - set(files)))
        if attempt < attempts:
            print(
                f"Not on the index yet ({missing}); "
                f"reading it again in {delay:g} s ({attempt}/{attempts})",
                flush=True,
            )
            time.sleep(delay)
    raise Refused(
        f"the index does not list {missing} for {name} {version} after {attempts} attempts"
    )


def provenance_url(project_url: str, entry: dict, name: str, version: str) -> str:
    value = entry.get("provenance", "absent")
    if value is None:
        raise Refused(
            f"the index says {entry['filename']} has no provenance (no attestations were uploaded)"
        )
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value
    root = project_url.split("/simple/")[0]
    return f"{root}/integrity/{canonicalize_name(name)}/{version}/{entry['filename']}/provenance"


def check_bytes(project_url: str, entry: dict, local_digest: str) -> None:
    """The index declares and serves exactly the bytes built here."""
    filename = entry["filename"]
    declared = entry.get("hashes", {}).get("sha256")
    if declared != local_digest:
        raise Refused(
            f"{filename}: the index declares sha256 {declared}, "
            f"the file built here has {local_digest}"
        )
    served = get(urllib.parse.urljoin(project_url, entry["url"]))
    digest = hashlib.sha256(served).hexdigest()
    if digest != local_digest:
        raise Refused(
            f"{filename}: the index serves a file with sha256 {digest}, "
            f"the file built here has {local_digest}"
        )


def check_file(
    project_url: str,
    entry: dict,
    local_digest: str,
    name: str,
    version: str,
    publisher,
    offline: bool,
) -> str:
    """The file's provenance names the expected publisher, and its attestations verify."""
    filename = entry["filename"]
    url = provenance_url(project_url, entry, name, version)
    try:
        provenance = Provenance.model_validate_json(get(url))
    except urllib.error.HTTPError as error:
        raise Refused(f"{filename}: no provenance at {url} ({error.code})") from None
    except ValueError as error:
        raise Refused(
            f"{filename}: the provenance at {url} is not a PEP 740 provenance object: {error}"
        ) from None
    dist = Distribution(name=filename, digest=local_digest)
    kinds = []
    for bundle in provenance.attestation_bundles:
        if not same_identity(bundle.publisher, publisher):
            raise Refused(
                f"{filename}: attested by {describe(bundle.publisher)}, "
                f"expected {describe(publisher)}"
            )
        for attestation in bundle.attestations:
            try:
                predicate_type, _ = attestation.verify(publisher, dist, offline=offline)
            except AttestationError as error:
                raise Refused(f"{filename}: {error}") from None
            kinds.append(predicate_type)
    if PUBLISH_PREDICATE not in kinds:
        raise Refused(f"{filename}: no publish attestation ({PUBLISH_PREDICATE}) in its provenance")
    return f"{filename}: sha256 {local_digest[:16]}..., {len(kinds)} attestation(s) verified"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=Path("dist"))
    parser.add_argument("--index", default="https://pypi.org/simple/")
    parser.add_argument("--publisher", choices=["github", "gitlab", "google"], required=True)
    parser.add_argument("--repository", help="OWNER/REPO on GitHub, NAMESPACE/PROJECT on GitLab")
    parser.add_argument("--workflow", default="release.yml", help="GitHub: the workflow file name")
    parser.add_argument(
        "--workflow-file", default=".gitlab-ci.yml", help="GitLab: the top-level pipeline file"
    )
    parser.add_argument(
        "--environment", help="the publisher's environment, if PyPI's publisher names one"
    )
    parser.add_argument("--service-account", help="Google: the service account's email")
    parser.add_argument("--attempts", type=int, default=10)
    parser.add_argument("--delay", type=float, default=30)
    parser.add_argument("--offline", action="store_true")
    args = parser.parse_args()
    if args.publisher in ("github", "gitlab") and not args.repository:
        parser.error("--repository is required for GitHub and GitLab")
    if args.publisher == "google" and not args.service_account:
        parser.error("--service-account is required for Google")
    try:
        name, version, files = local_files(args.dist)
        publisher = expected_publisher(args)
        project_url, served = index_files(
            args.index, name, version, set(files), args.attempts, args.delay
        )
        extra = sorted(set(served) - set(files))
        if extra:
            raise Refused(
                f"the index has files for {name} {version} that were not built here: "
                + ", ".join(extra)
            )
        for filename in sorted(files):  # every file's bytes first: the plainest evidence
            check_bytes(project_url, served[filename], files[filename])
        for filename in sorted(files):
            print(
                "OK "
                + check_file(
                    project_url,
                    served[filename],
                    files[filename],
                    name,
                    version,
                    publisher,
                    args.offline,
                ),
                flush=True,
            )
    except Refused as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        print(
            "error: what the index serves is not what this pipeline built and attested. "
            "Yank the release now (RELEASING.md, 'Yanking a release'), then find out why.",
            file=sys.stderr,
        )
        return 1
    print(
        f"{name} {version}: the index serves exactly the {len(files)} files built here, "
        f"each attested by {describe(publisher)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
