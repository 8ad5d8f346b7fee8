"""The real validators, as every test runs them: on generated projects after `copy`, after
`update`, and on this repository itself. Each takes many files at once where the tool
does, so the whole pairwise matrix costs one call per validator."""

from __future__ import annotations

import json
import shutil
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

import yaml

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


def parse_structured(path: Path) -> object:
    """Parse a generated YAML, TOML or JSON file (None for any other kind). YAML goes
    through libyaml, the reference C parser, ten times faster than PyYAML's pure-Python
    loader; what copier itself reads back (.copier-answers.yml) is checked with copier's
    loader where it matters."""
    text = path.read_text(encoding="utf-8")
    if path.suffix in {".yml", ".yaml"}:
        return yaml.load(text, Loader=yaml.CSafeLoader)
    if path.suffix == ".toml":
        return tomllib.loads(text)
    if path.suffix == ".json":
        return json.loads(text)
    return None


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN))
    assert path, f"{name} is not installed in the test environment"
    return path


def zizmor_findings(root: Path, target: str | Iterable[str], env: dict[str, str]) -> list:
    """zizmor, offline and pedantic, over one or many inputs; the findings (an error if it
    could not run)."""
    targets = [target] if isinstance(target, str) else list(target)
    result = run(
        [tool("zizmor"), "--offline", "--persona=pedantic", "--format=json", *targets],
        root,
        env,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings or result.returncode == 0, result.stderr
    return findings


def schema_files(projects: Iterable[Path]) -> dict[str, list[Path]]:
    """Every configuration file of these projects, by the schema it must match."""
    found: dict[str, list[Path]] = {}
    for project in projects:
        for pattern, schema in SCHEMAS.items():
            found.setdefault(schema, []).extend(sorted(project.glob(pattern)))
    return found


def check_schemas(project: Path, env: dict[str, str]) -> list[str]:
    """Validate every configuration file of one project against its schema; return the
    files checked."""
    return [path.relative_to(project).as_posix() for path in check_many_schemas([project], env)]


def check_many_schemas(projects: Iterable[Path], env: dict[str, str]) -> list[Path]:
    """One check-jsonschema call per schema, over every matching file of every project."""
    checked = []
    for schema, paths in schema_files(projects).items():
        if paths:
            run([tool("check-jsonschema"), "--builtin-schema", schema, *map(str, paths)], BIN, env)
            checked.extend(paths)
    return checked


def actionlint(paths: Iterable[Path], env: dict[str, str]):
    """actionlint, with shellcheck on every `run:` script, over many workflow files."""
    files = [str(path) for path in paths]
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is not installed (Debian package shellcheck)"
    return run(
        [tool("actionlint"), "-shellcheck", shellcheck, "-format", "{{json .}}", *files],
        BIN,
        env,
        check=False,
    )
