"""Refuse to publish unless GitLab says this job runs for a protected tag, in a protected
environment: `make protection-check`, the publish job's first step.

Usage: python -I tools/gitlab_protection.py [TOKEN_VARIABLE]      (default: PYPI_ID_TOKEN)

PyPI's GitLab Trusted Publisher checks the project, the pipeline file and the environment's
name; it does not check whether the tag or the environment is protected. The job token
cannot read the project's protected environments either. The job's own ID token can: GitLab
signs into it `ref_type`, `ref_protected`, `environment` and `environment_protected`. This
script reads those claims (it only decodes the token GitLab gave the job; it does not send
it anywhere) and fails closed on a project whose release path is not protected.

Protected environments are a GitLab Premium feature: on GitLab Free `environment_protected`
is always "false". A maintainer then sets the CI/CD variable ALLOW_UNPROTECTED_ENVIRONMENT
to "true" to publish anyway, knowingly: RELEASING.md says what that leaves open. The tag
must be protected on every tier.
"""

from __future__ import annotations

import base64
import json
import os
import sys

OPT_OUT = "ALLOW_UNPROTECTED_ENVIRONMENT"


def claims(token: str) -> dict:
    try:
        payload = token.split(".")[1]
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as error:
        raise SystemExit(f"error: the ID token is not a JWT ({error.__class__.__name__})") from None
    if not isinstance(decoded, dict):
        raise SystemExit("error: the ID token's payload is not a JSON object")
    return decoded


def problems_with(found: dict, allow_unprotected: bool) -> tuple[list[str], list[str]]:
    """(problems, warnings) for the claims of the publish job's ID token."""
    problems, warnings = [], []
    ref = found.get("ref_path") or found.get("ref")
    if found.get("ref_type") != "tag" or found.get("ref_protected") != "true":
        problems.append(
            f"ref {ref!r} is not a protected tag: protect v* tags "
            "(Settings > Repository > Protected tags)"
        )
    environment = found.get("environment")
    if not environment:
        problems.append("the job names no environment: it must deploy to `pypi`")
    elif found.get("environment_protected") != "true":
        if allow_unprotected:
            warnings.append(
                f"environment {environment!r} is not protected; publishing anyway because "
                f"{OPT_OUT}=true (GitLab Free): anyone who can push to this project can publish"
            )
        else:
            problems.append(
                f"environment {environment!r} is not protected: protect it, with approvals "
                "(GitLab Premium: Settings > CI/CD > Protected environments), or, on GitLab "
                f"Free, set the CI/CD variable {OPT_OUT}=true to publish without (RELEASING.md)"
            )
    return problems, warnings


def main() -> int:
    variable = sys.argv[1] if len(sys.argv) > 1 else "PYPI_ID_TOKEN"
    token = os.environ.get(variable, "")
    if not token:
        print(
            f"error: {variable} is not set: the job needs `id_tokens: {variable}`", file=sys.stderr
        )
        return 1
    found = claims(token)
    problems, warnings = problems_with(found, os.environ.get(OPT_OUT) == "true")
    for warning in warnings:
        print(f"warning: {warning}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(
        f"Publishing {found.get('ref_path')} ({str(found.get('sha', ''))[:12]}) from environment "
        f"{found.get('environment')!r}: tag protected, environment protected: "
        f"{found.get('environment_protected')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
