"""The rules every generated GitLab pipeline (and Cloud Build file) must keep, checked on the
parsed file. zizmor audits GitHub workflows only; these rules give .gitlab-ci.yml the same
kind of bar. `audit(path)` returns the findings, each naming the file, the job and the rule.

  GL001  Every image is pinned by digest (@sha256:<64 hex>): the default image, each job's
         image and services, and each Cloud Build step. A job with no image at all runs
         on the runner's default image, which nobody pinned.
  GL002  `id_tokens` only in jobs that run in protected-tag pipelines and nowhere else. A
         token for PyPI (`aud: pypi`/`testpypi`) only in the job whose environment has that
         name; a token for Sigstore (`aud: sigstore`, PEP 740 signing) needs no environment,
         because Sigstore cannot turn it into upload rights; no other audience. Cloud Build
         runs as a dedicated service account, never a default one.
  GL003  A job that holds an OIDC token, deploys to an environment or publishes is not
         interruptible: a cancelled upload can leave half a release.
  GL004  Nothing unpinned is fetched and run: no download piped into a shell or Python, no
         pip install without --require-hashes, no pipx, npx, npm install, apt, apk, gem, go
         install, uv tool or uvx. (`uv python install` is allowed: the hash-locked uv
         checks the checksums it ships with.)
  GL005  No job that can run merge-request code (merge-request pipelines, branch pipelines
         of unprotected branches) holds a token: `id_tokens`, `secrets`, an `environment`,
         or a variable that expands a *TOKEN, *SECRET, *PASSWORD or *KEY variable.
  GL006  A job whose rules mention the `schedule` pipeline source runs in scheduled
         pipelines only; jobs use `rules:`, never `only:`/`except:`.
  GL007  Includes are pinned: no `template:` (it changes with GitLab), `remote:` only with
         `integrity:`, `project:` only at a 40-hex `ref:`, `component:` only @<40 hex>.

Which pipelines a job runs in comes from evaluating `workflow:rules` and the job's `rules:`
(the first match decides, `when: never` excludes) in a fixed set of pipeline contexts, with
a small evaluator for GitLab's `if:` expressions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
# Top-level keys that are not jobs.
RESERVED = {
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
}
_BRANCH = {"CI_DEFAULT_BRANCH": "main", "CI_PIPELINE_SOURCE": "push"}
# The pipelines a project sees, by the variables GitLab sets in each.
CONTEXTS: dict[str, dict[str, str]] = {
    "merge_request": {
        **_BRANCH,
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": "7",
        "CI_COMMIT_REF_NAME": "feature",
        "CI_COMMIT_REF_PROTECTED": "false",
    },
    "branch_with_open_merge_request": {
        **_BRANCH,
        "CI_COMMIT_BRANCH": "feature",
        "CI_COMMIT_REF_NAME": "feature",
        "CI_OPEN_MERGE_REQUESTS": "group/project!7",
        "CI_COMMIT_REF_PROTECTED": "false",
    },
    "unprotected_branch": {
        **_BRANCH,
        "CI_COMMIT_BRANCH": "feature",
        "CI_COMMIT_REF_NAME": "feature",
        "CI_COMMIT_REF_PROTECTED": "false",
    },
    "default_branch": {
        **_BRANCH,
        "CI_COMMIT_BRANCH": "main",
        "CI_COMMIT_REF_NAME": "main",
        "CI_COMMIT_REF_PROTECTED": "true",
    },
    "protected_tag": {
        **_BRANCH,
        "CI_COMMIT_TAG": "v1.2.3",
        "CI_COMMIT_REF_NAME": "v1.2.3",
        "CI_COMMIT_REF_PROTECTED": "true",
    },
    "unprotected_tag": {
        **_BRANCH,
        "CI_COMMIT_TAG": "v1.2.3",
        "CI_COMMIT_REF_NAME": "v1.2.3",
        "CI_COMMIT_REF_PROTECTED": "false",
    },
    "schedule": {
        **_BRANCH,
        "CI_PIPELINE_SOURCE": "schedule",
        "CI_COMMIT_BRANCH": "main",
        "CI_COMMIT_REF_NAME": "main",
        "CI_COMMIT_REF_PROTECTED": "true",
    },
    "web": {
        **_BRANCH,
        "CI_PIPELINE_SOURCE": "web",
        "CI_COMMIT_BRANCH": "main",
        "CI_COMMIT_REF_NAME": "main",
        "CI_COMMIT_REF_PROTECTED": "true",
    },
}
# Pipelines that run code a merge request brought in.
MERGE_REQUEST_CODE = {"merge_request", "branch_with_open_merge_request", "unprotected_branch"}

SECRET_VARIABLE = re.compile(r"\$\{?[A-Z0-9_]*(TOKEN|SECRET|PASSWORD|PASSWD|KEY)\b\}?")
PUBLISHES = re.compile(
    r"\bmake\s+(?:[\w-]+\s+)*(publish|attest)\b|\btwine\s+upload\b|\b(uv|pdm|poetry)\s+publish\b"
    r"|\bpypi_attestations\s+sign\b"
)
UNPINNED = [
    (r"\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da)?sh\b", "pipes a download into a shell"),
    (r"\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?python[0-9.]*\b", "pipes a download into Python"),
    (r"\b(ba)?sh\s+<\(\s*(curl|wget)\b", "runs a downloaded script"),
    (r"\bpipx\s+(install|run)\b", "pipx installs without hashes"),
    (r"\bnpx\s", "npx runs an unpinned package"),
    (r"\bnpm\s+(i|install)\b", "npm install (npm ci installs from a lock file)"),
    (r"\b(apt-get|apt)\s+install\b", "apt installs unpinned packages"),
    (r"\bapk\s+add\b", "apk installs unpinned packages"),
    (r"\bgem\s+install\b", "gem install is not hash-checked"),
    (r"\bgo\s+install\b", "go install fetches what no lock file pins"),
    (r"\buv\s+tool\s+(install|run)\b|\buvx\s", "uv tool and uvx install without hashes"),
]
PIP_INSTALL = re.compile(r"\b(pip[0-9.]*|-m\s+pip|uv\s+pip)\s+install\b")


@dataclass(frozen=True)
class Finding:
    path: str
    job: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.job}: {self.rule}: {self.message}"


class Expression:
    """A GitLab `rules:if` expression, evaluated against one pipeline's variables."""

    TOKEN = re.compile(
        r"\s*(?:(?P<op>==|!=|=~|!~|&&|\|\||\(|\))|(?P<var>\$\{?[A-Za-z_]\w*\}?)"
        r"|(?P<str>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')|(?P<re>/(?:[^/\\]|\\.)*/[a-z]*)"
        r"|(?P<null>null))\s*"
    )

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        position, text = 0, text.strip()
        while position < len(text):
            match = self.TOKEN.match(text, position)
            if not match or match.end() == position:
                raise ValueError(f"cannot parse rules:if {self.text!r} at {text[position:]!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match[kind]))
            position = match.end()

    def evaluate(self, variables: dict[str, str]) -> bool:
        self.variables, self.index = variables, 0
        value = self._or()
        if self.index != len(self.tokens):
            raise ValueError(f"trailing tokens in {self.text!r}")
        return bool(value)

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == ("op", "||"):
            self.index += 1
            right = self._and()
            left = bool(left) or bool(right)
        return left

    def _and(self) -> Any:
        left = self._compare()
        while self._peek() == ("op", "&&"):
            self.index += 1
            right = self._compare()
            left = bool(left) and bool(right)
        return left

    def _compare(self) -> Any:
        left = self._atom()
        token = self._peek()
        if token and token[0] == "op" and token[1] in {"==", "!=", "=~", "!~"}:
            self.index += 1
            right = self._atom()
            if token[1] == "==":
                return left == right
            if token[1] == "!=":
                return left != right
            found = left is not None and right is not None and re.search(right, left) is not None
            return found if token[1] == "=~" else not found
        return left != "" if isinstance(left, str) else left  # a variable alone: set, not empty

    def _atom(self) -> Any:
        token = self._peek()
        if token is None:
            raise ValueError(f"unexpected end of {self.text!r}")
        self.index += 1
        kind, value = token
        if token == ("op", "("):
            inner = self._or()
            if self._peek() != ("op", ")"):
                raise ValueError(f"missing ) in {self.text!r}")
            self.index += 1
            return inner
        if kind == "var":
            return self.variables.get(value.strip("${}"))
        if kind == "str":
            return value[1:-1]
        if kind == "re":
            body, _, flags = value[1:].rpartition("/")
            return ("(?i)" if "i" in flags else "") + body
        if kind == "null":
            return None
        raise ValueError(f"unexpected {value!r} in {self.text!r}")


def runs(rules: list[dict[str, Any]] | None, variables: dict[str, str]) -> bool:
    """Whether `rules:` let a job (or `workflow:` a pipeline) run: the first match decides;
    no rules means always; no match means never."""
    if rules is None:
        return True
    for rule in rules:
        condition = rule.get("if")
        if condition is None or Expression(str(condition)).evaluate(variables):
            return rule.get("when", "on_success") != "never"
    return False


class _Loader(yaml.SafeLoader):
    """GitLab's YAML: `!reference [job, key]` becomes a list that names it."""


_Loader.add_constructor(
    "!reference",
    lambda loader, node: ["!reference", *loader.construct_sequence(node)],  # type: ignore[arg-type]
)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if key == "extends":
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _resolve(name: str, jobs: dict[str, Any], seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """A job with its `extends:` chain applied."""
    job = jobs[name]
    parents = job.get("extends", [])
    merged: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        if parent in seen:
            raise ValueError(f"extends cycle at {parent}")
        merged = _merge(merged, _resolve(parent, jobs, (*seen, name)))
    return _merge(merged, job)


def _script_lines(job: dict[str, Any], default: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key in ("before_script", "script", "after_script"):
        value = job.get(key, None if key == "script" else default.get(key))
        for item in [value] if isinstance(value, str) else value or []:
            lines.extend(map(str, item) if isinstance(item, list) else [str(item)])
    return lines


def _image(image: Any) -> str | None:
    if isinstance(image, dict):
        return str(image.get("name", ""))
    return None if image is None else str(image)


def _unpinned(line: str) -> list[str]:
    found = [why for pattern, why in UNPINNED if re.search(pattern, line)]
    if PIP_INSTALL.search(line) and "--require-hashes" not in line:
        found.append("pip install without --require-hashes")
    return [f"{why}: {line.strip()}" for why in found]


def _includes(document: dict[str, Any]) -> list[str]:
    includes = document.get("include") or []
    problems = []
    for include in [includes] if isinstance(includes, str | dict) else includes:
        if isinstance(include, str):
            include = {"remote" if include.startswith("http") else "local": include}
        if "template" in include:
            problems.append(f"template {include['template']!r} changes with GitLab: not pinned")
        if "remote" in include and "integrity" not in include:
            problems.append(f"remote {include['remote']!r} has no integrity: hash")
        if "project" in include and not COMMIT.match(str(include.get("ref", ""))):
            problems.append(f"project {include['project']!r} is not pinned to a commit (ref:)")
        if "component" in include and not re.search(r"@[0-9a-f]{40}$", str(include["component"])):
            problems.append(f"component {include['component']!r} is not pinned to a commit")
    return problems


def audit_gitlab_ci(path: Path) -> list[Finding]:
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}  # noqa: S506 (a SafeLoader)
    findings: list[Finding] = []

    def fail(job: str, rule: str, message: str) -> None:
        findings.append(Finding(str(path), job, rule, message))

    for problem in _includes(document):
        fail("include", "GL007", problem)
    default = dict(document.get("default") or {})
    for key in ("image", "services", "before_script", "after_script", "interruptible"):
        default.setdefault(key, document.get(key))  # the deprecated top-level globals
    workflow = (document.get("workflow") or {}).get("rules")
    pipelines = {name: env for name, env in CONTEXTS.items() if runs(workflow, env)}
    jobs = {k: v for k, v in document.items() if k not in RESERVED and isinstance(v, dict)}

    for name in jobs:
        if name.startswith("."):
            continue  # a hidden job: only a base for `extends`
        job = _resolve(name, jobs)
        if "trigger" in job:
            continue
        runs_in = {p for p, env in pipelines.items() if runs(job.get("rules"), env)}
        if "only" in job or "except" in job:
            fail(name, "GL006", "uses only:/except:; write rules: instead")

        image = _image(job.get("image", default.get("image")))
        if not image:
            fail(name, "GL001", "no image: the runner's default image is pinned by nobody")
        elif not DIGEST.search(image.split()[0]):
            fail(name, "GL001", f"image {image!r} is not pinned by digest")
        for service in job.get("services", default.get("services")) or []:
            if not DIGEST.search(_image(service) or ""):
                fail(name, "GL001", f"service {_image(service)!r} is not pinned by digest")

        tokens = job.get("id_tokens") or {}
        environment = job.get("environment")
        environment = environment.get("name") if isinstance(environment, dict) else environment
        secret_variables = sorted(
            key
            for key, value in (job.get("variables") or {}).items()
            if SECRET_VARIABLE.search(str(value.get("value") if isinstance(value, dict) else value))
        )
        holds = [f"id_tokens {', '.join(sorted(tokens))}"] if tokens else []
        holds += ["secrets"] if job.get("secrets") else []
        holds += [f"environment {environment}"] if environment else []
        holds += [f"variables {', '.join(secret_variables)}"] if secret_variables else []

        if tokens:
            elsewhere = sorted(runs_in - {"protected_tag"}) or ([] if runs_in else ["nowhere"])
            if elsewhere:
                fail(name, "GL002", f"id_tokens in a job that also runs in: {', '.join(elsewhere)}")
            for variable, spec in tokens.items():
                audience = spec.get("aud") if isinstance(spec, dict) else None
                for aud in audience if isinstance(audience, list) else [audience]:
                    if aud in {"pypi", "testpypi"} and environment != aud:
                        fail(name, "GL002", f"{variable} (aud {aud}) outside the {aud} environment")
                    elif aud not in {"pypi", "testpypi", "sigstore"}:
                        fail(name, "GL002", f"{variable} has audience {aud!r}")

        lines = _script_lines(job, default)
        sensitive = tokens or environment or any(PUBLISHES.search(line) for line in lines)
        if sensitive and job.get("interruptible", default.get("interruptible")) is not False:
            fail(name, "GL003", "holds a token or publishes: set interruptible: false")

        for line in lines:
            for problem in _unpinned(line):
                fail(name, "GL004", problem)

        if holds and runs_in & MERGE_REQUEST_CODE:
            fail(
                name,
                "GL005",
                f"holds {'; '.join(holds)} and runs merge-request code "
                f"({', '.join(sorted(runs_in & MERGE_REQUEST_CODE))})",
            )

        scheduled = any("schedule" in str(rule.get("if", "")) for rule in job.get("rules") or [])
        if scheduled and runs_in != {"schedule"}:
            also = ", ".join(sorted(runs_in - {"schedule"}))
            fail(
                name,
                "GL006",
                f"mentions schedules but {f'also runs in: {also}' if also else 'never runs'}",
            )
    return findings


def audit_cloud_build(path: Path) -> list[Finding]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    findings = []
    for index, step in enumerate(document.get("steps") or []):
        job = f"step {step.get('id', index)}"
        if not DIGEST.search(str(step.get("name", ""))):
            message = f"image {step.get('name')!r} is not pinned by digest"
            findings.append(Finding(str(path), job, "GL001", message))
        for line in [str(step.get("entrypoint", "")), *map(str, step.get("args") or [])]:
            findings += [Finding(str(path), job, "GL004", p) for p in _unpinned(line)]
    account = str(document.get("serviceAccount", ""))
    default_account = r"(-compute@developer|@appspot|@cloudbuild)\.gserviceaccount\.com$"
    if not account or re.search(default_account, account):
        message = "no dedicated, user-specified service account"
        findings.append(Finding(str(path), "serviceAccount", "GL002", message))
    return findings


def audit(path: Path) -> list[Finding]:
    """The findings for one .gitlab-ci.yml or cloudbuild.yaml."""
    return audit_cloud_build(path) if path.name == "cloudbuild.yaml" else audit_gitlab_ci(path)
