"""The real validators, as every test runs them: on generated projects after `copy`, after
`update`, and on this repository itself."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from tests.conftest import run

BIN = Path(sys.executable).parent

# Which JSON schema (check-jsonschema's built-in ones) each configuration file must match.
SCHEMAS = {
    ".github/workflows/*.yml": "vendor.github-workflows",
    ".github/dependabot.yml": "vendor.dependabot",
    "renovate.json": "vendor.renovate",
    ".gitlab-ci.yml": "vendor.gitlab-ci",
    "cloudbuild.yaml": "vendor.cloudbuild",
}


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN))
    assert path, f"{name} is not installed in the test environment"
    return path


def zizmor_findings(root: Path, target: str, env: dict[str, str]) -> list:
    """zizmor, offline and pedantic; the findings (an error if it could not run)."""
    result = run(
        [tool("zizmor"), "--offline", "--persona=pedantic", "--format=json", target],
        root,
        env,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings or result.returncode == 0, result.stderr
    return findings


def check_schemas(project: Path, env: dict[str, str]) -> list[str]:
    """Validate every configuration file of the project against its schema; return the
    files checked."""
    checked = []
    for pattern, schema in SCHEMAS.items():
        for path in sorted(project.glob(pattern)):
            run([tool("check-jsonschema"), "--builtin-schema", schema, str(path)], project, env)
            checked.append(path.relative_to(project).as_posix())
    return checked
