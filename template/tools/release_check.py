"""Check that the tag may be released: `make release-check`.

Usage: TAG=vX.Y.Z [DEFAULT_BRANCH=main] python -I tools/release_check.py [--signers FILE]

Checks, in order, and stops at the first failure with a message naming what is wrong:

1. TAG is `v` + the version in pyproject.toml.
2. The tag exists here (it is fetched from `origin` if not) and points at the checked-out
   commit (HEAD).
3. When DEFAULT_BRANCH is set (the release pipelines set it): the commit is on that branch
   of `origin`, so only reviewed, merged code is released. The branch is fetched first;
   a shallow clone is deepened, as `git merge-base --is-ancestor` needs the history.
4. When the allowed-signers file (--signers, default .allowed_signers) names at least one
   key in the tagged commit: the tag is an annotated tag with a valid SSH signature by one
   of those keys (`git verify-tag` with gpg.ssh.allowedSignersFile). The file is read from
   the tagged commit, not the working tree, so a change to it goes through the same review
   as the code. Without the file, signing is optional and the check says so.

Some CI checkouts (GitHub's actions/checkout) turn an annotated tag into a lightweight one;
the tag object is fetched again from `origin` before the signature is checked.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

GIT = shutil.which("git") or "git"


class Refused(Exception):
    pass


def git(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603 (git with arguments from this script)
        [GIT, *args], capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise Refused(f"git {' '.join(args)} failed: {' '.join(result.stderr.split())}")
    return result


def check_version(tag: str) -> str:
    version = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"
    ]
    if not tag:
        raise Refused(f"TAG is not set: run make release-check TAG=v{version}")
    if tag != f"v{version}":
        raise Refused(
            f"tag '{tag}' does not match version {version} in pyproject.toml; "
            f"tag the release v{version}"
        )
    return version


def fetch_tag(tag: str) -> bool:
    """Fetch the tag (its object, annotated or not) from origin; True if that worked."""
    refspec = f"refs/tags/{tag}:refs/tags/{tag}"
    return (
        git("fetch", "--quiet", "--force", "--no-tags", "origin", refspec, check=False).returncode
        == 0
    )


def tagged_commit(tag: str) -> str:
    found = git("rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}", check=False)
    if found.returncode != 0 and fetch_tag(tag):
        found = git("rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}", check=False)
    if found.returncode != 0:
        raise Refused(f"there is no tag {tag} here or on origin; create it: git tag -s {tag}")
    commit = found.stdout.strip()
    head = git("rev-parse", "HEAD").stdout.strip()
    if commit != head:
        raise Refused(f"tag {tag} points at {commit[:12]}, but the checkout is at {head[:12]}")
    return commit


def check_on_default_branch(commit: str, branch: str) -> None:
    remote_ref = f"refs/remotes/origin/{branch}"
    shallow = git("rev-parse", "--is-shallow-repository").stdout.strip() == "true"
    deepen = ["--unshallow"] if shallow else []
    fetched = git(
        "fetch", "--quiet", "--no-tags", *deepen, "origin", f"+refs/heads/{branch}:{remote_ref}",
        check=False,
    )  # fmt: skip
    if fetched.returncode != 0:
        raise Refused(
            f"cannot fetch the default branch '{branch}' from origin to check the tag against "
            f"it ({' '.join(fetched.stderr.split())})"
        )
    if git("merge-base", "--is-ancestor", commit, remote_ref, check=False).returncode != 0:
        raise Refused(
            f"commit {commit[:12]} is not on the default branch '{branch}': release only "
            "commits that were merged there through review"
        )


def keys_in(text: str) -> int:
    return sum(
        1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )


def check_signature(tag: str, commit: str, signers_path: str) -> str:
    shown = git("show", f"{commit}:{signers_path}", check=False)
    if shown.returncode != 0 or keys_in(shown.stdout) == 0:
        return (
            f"unsigned: {signers_path} names no keys in this commit, so tags need no "
            "signature (RELEASING.md: signed tags)"
        )
    if git("cat-file", "-t", f"refs/tags/{tag}").stdout.strip() != "tag":
        fetch_tag(tag)  # a checkout may have replaced the tag object with a bare pointer
    if git("cat-file", "-t", f"refs/tags/{tag}").stdout.strip() != "tag":
        raise Refused(
            f"tag {tag} is a lightweight tag, which cannot carry a signature, but "
            f"{signers_path} requires signed tags: delete it and create it with "
            f"git tag -s {tag} -m {tag}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        signers = Path(tmp) / "allowed_signers"  # as committed at the tag
        signers.write_text(shown.stdout, encoding="utf-8")
        result = git(
            "-c", f"gpg.ssh.allowedSignersFile={signers}", "verify-tag", tag, check=False
        )  # fmt: skip
    said = " ".join(result.stderr.split())
    if result.returncode != 0:
        raise Refused(
            f"tag {tag} is not signed by a key in {signers_path} ({said}); sign it with an "
            f"allowed key: git tag -s {tag} -m {tag} (RELEASING.md: signed tags)"
        )
    first = result.stderr.strip().splitlines()[0] if result.stderr.strip() else "good signature"
    return f"signed: {first}"


def main() -> int:
    parser = argparse.ArgumentParser(description="Check that the tag may be released.")
    parser.add_argument("--signers", default=".allowed_signers")
    args = parser.parse_args()
    tag = os.environ.get("TAG", "")
    branch = os.environ.get("DEFAULT_BRANCH", "")
    try:
        version = check_version(tag)
        commit = tagged_commit(tag)
        if branch:
            check_on_default_branch(commit, branch)
            where = f"on the default branch {branch}"
        else:
            where = "not checked against the default branch (DEFAULT_BRANCH is not set)"
        signature = check_signature(tag, commit, args.signers)
    except Refused as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 1
    print(f"Tag {tag} matches version {version}: commit {commit[:12]}, {where}; {signature}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
