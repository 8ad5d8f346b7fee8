"""SLSA build provenance for dist/*, signed with the CI job's own identity: `make provenance`.

Usage (from the hash-locked release tools in .publish/, where sigstore is installed):
  python -I tools/provenance.py predicate {gitlab|cloudbuild} OUTPUT --build-type URL
  python -I tools/provenance.py sign {gitlab|cloudbuild} --build-type URL [--dist dist]
                                     [--out provenance]
  python -I tools/provenance.py verify --identity IDENTITY --issuer URL [--dist dist]
                                       [--out provenance] [--offline]

`predicate` writes the SLSA v1 provenance predicate: what was built (the tag and its
commit), how (`make build`, the pipeline file), with what (the hash-locked toolchain and the
CI image pinned by digest) and where (the pipeline or build that ran). Everything comes from
the variables the CI platform sets (GitLab: CI_*; Cloud Build: the substitutions the step
passes on: PROJECT_ID, BUILD_ID, LOCATION, REPOSITORY_URL, TAG_NAME, COMMIT_SHA,
SERVICE_ACCOUNT); one that is missing is an error naming it, and nothing is written.

`sign` writes the predicate, then signs one in-toto statement per distribution (subject:
the file's name and sha256) with Sigstore (`sigstore attest`, the job's OIDC identity:
GitLab's SIGSTORE_ID_TOKEN, Cloud Build's service account), into OUT/FILE.intoto.jsonl: one
Sigstore bundle on one line, the form Scorecard's Signed-Releases check counts as provenance.

`verify` checks every bundle against the identity that must have signed it, before anything
is published: GitLab's `SERVER/PROJECT//PIPELINE-FILE@refs/tags/TAG` and issuer SERVER, or
the service account's email and https://accounts.google.com.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PREDICATE_TYPE = "https://slsa.dev/provenance/v1"


class Missing(Exception):
    pass


def env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise Missing(name)
    return value


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_date_epoch() -> int:
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        return int(os.environ["SOURCE_DATE_EPOCH"])
    git = shutil.which("git") or "git"
    result = subprocess.run(  # noqa: S603 (git, fixed arguments)
        [git, "log", "-1", "--format=%ct"], capture_output=True, text=True, check=False
    )
    return int(result.stdout.strip()) if result.stdout.strip().isdigit() else 315532800


def started() -> str:
    moment = datetime.datetime.fromtimestamp(source_date_epoch(), datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def locked_inputs(image: str) -> list[dict]:
    """The hash-locked toolchains and the CI image: what ran the build."""
    inputs = [
        {"name": lock, "digest": {"sha256": sha256(Path(lock))}}
        for lock in ("tools/toolchain.txt", "tools/publish.txt")
        if Path(lock).is_file()
    ]
    if "@sha256:" in image:
        repository, digest = image.split("@sha256:", 1)
        name = (
            repository.rsplit(":", 1)[0] if "/" not in repository.rsplit(":", 1)[-1] else repository
        )
        inputs.append({"uri": f"pkg:docker/{name}@sha256:{digest}", "digest": {"sha256": digest}})
    return inputs


def gitlab(build_type: str) -> dict:
    project = env("CI_PROJECT_URL")
    tag = env("CI_COMMIT_TAG")
    commit = env("CI_COMMIT_SHA")
    source = {"uri": f"git+{project}@refs/tags/{tag}", "digest": {"gitCommit": commit}}
    return {
        "buildDefinition": {
            "buildType": build_type,
            "externalParameters": {
                "source": source,
                "configFile": os.environ.get("CI_CONFIG_PATH") or ".gitlab-ci.yml",
                "target": "make build",
            },
            "internalParameters": {
                "gitlab": {
                    "projectId": env("CI_PROJECT_ID"),
                    "pipelineId": env("CI_PIPELINE_ID"),
                    "pipelineSource": env("CI_PIPELINE_SOURCE"),
                    "refProtected": os.environ.get("CI_COMMIT_REF_PROTECTED", "false"),
                },
                "SOURCE_DATE_EPOCH": str(source_date_epoch()),
            },
            "resolvedDependencies": [source, *locked_inputs(os.environ.get("CI_JOB_IMAGE", ""))],
        },
        "runDetails": {
            "builder": {
                "id": "/".join(
                    (env("CI_SERVER_URL"), env("CI_PROJECT_PATH"), "-/runners", env("CI_RUNNER_ID"))
                ),
                "version": {
                    "gitlab": os.environ.get("CI_SERVER_VERSION", ""),
                    "gitlab-runner": os.environ.get("CI_RUNNER_VERSION", ""),
                },
            },
            "metadata": {"invocationId": env("CI_PIPELINE_URL"), "startedOn": started()},
        },
    }


def cloudbuild(build_type: str) -> dict:
    project_id = env("PROJECT_ID")
    build_id = env("BUILD_ID")
    location = os.environ.get("LOCATION") or "global"
    tag = env("TAG_NAME")
    source = {
        "uri": f"git+{env('REPOSITORY_URL')}@refs/tags/{tag}",
        "digest": {"gitCommit": env("COMMIT_SHA")},
    }
    return {
        "buildDefinition": {
            "buildType": build_type,
            "externalParameters": {
                "source": source,
                "configFile": "cloudbuild.yaml",
                "target": "make build",
            },
            "internalParameters": {
                "cloudbuild": {
                    "projectId": project_id,
                    "location": location,
                    "serviceAccount": env("SERVICE_ACCOUNT"),
                },
                "SOURCE_DATE_EPOCH": str(source_date_epoch()),
            },
            "resolvedDependencies": [source, *locked_inputs(os.environ.get("BUILD_IMAGE", ""))],
        },
        "runDetails": {
            "builder": {"id": "https://cloudbuild.googleapis.com/GoogleHostedWorker"},
            "metadata": {
                "invocationId": (
                    "https://console.cloud.google.com/cloud-build/builds;"
                    f"region={location}/{build_id}?project={project_id}"
                ),
                "startedOn": started(),
            },
        },
    }


def write_predicate(provider: str, output: Path, build_type: str) -> dict:
    predicate = gitlab(build_type) if provider == "gitlab" else cloudbuild(build_type)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    partial.write_text(json.dumps(predicate, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(output)
    return predicate


def distributions(dist: Path) -> list[Path]:
    files = sorted(p for p in dist.glob("*") if p.name.endswith((".whl", ".tar.gz")))
    if not files:
        raise SystemExit(f"error: {dist} holds no distributions: run make build")
    return files


def sigstore(*args: str) -> subprocess.CompletedProcess[str]:
    # This interpreter's sigstore (the hash-locked .publish/ environment), fixed arguments.
    return subprocess.run(  # noqa: S603
        [sys.executable, "-I", "-m", "sigstore", *args], capture_output=True, text=True, check=False
    )


def sign(args: argparse.Namespace) -> int:
    files = distributions(args.dist)
    with tempfile.TemporaryDirectory() as tmp:
        predicate = Path(tmp) / "predicate.json"
        write_predicate(args.provider, predicate, args.build_type)
        shutil.rmtree(args.out, ignore_errors=True)
        args.out.mkdir(parents=True)
        for path in files:
            bundle = Path(tmp) / f"{path.name}.sigstore.json"
            result = sigstore(
                "attest", "--predicate", str(predicate), "--predicate-type", PREDICATE_TYPE,
                "--rekor-version", "1", "--bundle", str(bundle), str(path),
            )  # fmt: skip
            if result.returncode != 0:
                shutil.rmtree(args.out, ignore_errors=True)
                print(result.stderr.strip(), file=sys.stderr)
                print(f"error: signing the provenance of {path.name} failed", file=sys.stderr)
                return 1
            # One bundle, one line: JSON Lines, which the .intoto.jsonl name promises.
            line = json.dumps(json.loads(bundle.read_text(encoding="utf-8")), separators=(",", ":"))
            (args.out / f"{path.name}.intoto.jsonl").write_text(line + "\n", encoding="utf-8")
            print(f"Signed SLSA provenance for {path.name}: {args.out}/{path.name}.intoto.jsonl")
    return 0


def verify(args: argparse.Namespace) -> int:
    failed = False
    for path in distributions(args.dist):
        bundle = args.out / f"{path.name}.intoto.jsonl"
        if not bundle.is_file():
            print(f"error: {path.name} has no provenance ({bundle} is missing)", file=sys.stderr)
            failed = True
            continue
        result = sigstore(
            "verify", "identity", "--bundle", str(bundle), "--cert-identity", args.identity,
            "--cert-oidc-issuer", args.issuer, *(["--offline"] if args.offline else []), str(path),
        )  # fmt: skip
        if result.returncode != 0:
            said = " ".join(result.stderr.split())
            print(f"error: the provenance of {path.name} does not verify: {said}", file=sys.stderr)
            failed = True
        else:
            print(f"Verified the provenance of {path.name}: signed by {args.identity}")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description="SLSA provenance for dist/*")
    commands = parser.add_subparsers(dest="command", required=True)
    predicate = commands.add_parser("predicate")
    predicate.add_argument("provider", choices=["gitlab", "cloudbuild"])
    predicate.add_argument("output", type=Path)
    predicate.add_argument("--build-type", required=True)
    signing = commands.add_parser("sign")
    signing.add_argument("provider", choices=["gitlab", "cloudbuild"])
    signing.add_argument("--build-type", required=True)
    checking = commands.add_parser("verify")
    checking.add_argument("--identity", required=True)
    checking.add_argument("--issuer", required=True)
    checking.add_argument("--offline", action="store_true")
    for sub in (signing, checking):
        sub.add_argument("--dist", type=Path, default=Path("dist"))
        sub.add_argument("--out", type=Path, default=Path("provenance"))
    args = parser.parse_args()
    try:
        if args.command == "predicate":
            write_predicate(args.provider, args.output, args.build_type)
            print(f"Wrote {args.output}: SLSA v1 provenance predicate ({args.provider})")
            return 0
        return sign(args) if args.command == "sign" else verify(args)
    except Missing as missing:
        print(f"error: {missing} is not set: cannot describe the build", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
