"""Admit locked dependencies on evidence, before anything new is installed.

Usage (the Makefile exports the lock first; run from the project's root):

    python -I tools/admit.py admit LOCK... --runtime RUNTIME    # `make admit`
    python -I tools/admit.py check LOCK... [--runtime RUNTIME]  # before installing; CI
    python -I tools/admit.py recheck                            # weekly, scheduled CI
    python -I tools/admit.py review-config                      # the review config only

LOCK is the lock exported as hashed requirements covering every group, extra and platform
(for pip-tools: all its requirements files); RUNTIME is the same without development
groups (only those reach users, so only they are held to the runtime licences).
Common options: --policy (dependency-policy.toml), --record (dependency-admissions.toml),
--legacy-policy (license-policy.toml), --review-config (a dependency-review-action config
to keep in step), --index-url, --now.

`admit` compares the lock with the record (the committed list of admitted distributions).
For every distribution that is new or changed (version, file hashes or scope), it fetches
the package index's metadata: the JSON API for licence, upload time and yanked status, the
simple API (PEP 691) for the project's history and status (PEP 792), and the integrity API
for PEP 740 provenance, which it verifies (signature, certificate identity, file hash)
with pypi-attestations and sigstore from the hash-locked toolchain, offline against the
Sigstore trust root that sigstore ships. It never downloads a distribution, installs or
builds anything. It applies dependency-policy.toml and records each distribution that
passes, or refuses it with one line per problem: package, rule, evidence, and how to ask
for an exception. A version whose provenance is missing while the admitted one had some,
or whose publisher (repository or workflow) differs, is refused: trust on first use.

`check` is offline and fast: it fails when the lock holds a distribution (name, version,
file hashes) that the record does not admit, or when the review config is stale.
`recheck` fetches every admitted distribution again and fails on yanked releases, lost or
changed provenance, archived or quarantined projects, and expired exceptions.

The index is, first found: --index-url, [index] url in the policy, UV_DEFAULT_INDEX,
UV_INDEX_URL, PIP_INDEX_URL, the lock tool's default index in pyproject.toml, PyPI. Its
JSON and integrity APIs are the index URL without `/simple` (or [index] api-url).
Credentials in the URL are sent to that host only and never printed.

Exit status: 0 admitted, 1 refused (or not admitted, for check), 2 bad input or an index
that cannot be read. Nothing is written unless it is complete; files are replaced whole.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime
import hashlib
import importlib.util
import json
import os
import re
import sys
import tempfile
import threading
import tomllib
import urllib.error
import urllib.parse
from pathlib import Path
from types import ModuleType
from typing import Any

PYPI = "https://pypi.org/simple"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
WORKERS = 8

# Rules a reviewed exception may accept. Others (a locked hash the index does not publish,
# a distribution the index does not have, provenance that fails verification) never pass.
RULES = {
    "denied": "the package is on the policy's deny list",
    "license": "its licence is not allowed for its scope",
    "yanked": "the release is yanked",
    "release-age": "the release is younger than [age] min-release-days (the cooldown)",
    "project-age": "the project is younger than [age] min-project-days",
    "last-release": "the project has not released for [age] max-days-since-release",
    "project-status": "the index marks the project archived or quarantined (PEP 792)",
    "provenance": "no verified PEP 740 provenance, and [provenance] new-dependencies is require",
    "provenance-lost": "the admitted version had provenance, this one has none",
    "publisher-changed": "the publisher (repository or workflow) differs from the admitted one",
    "publisher-mixed": "the locked files were published by different publishers",
}
FATAL = {
    "hash": "the lock and the index disagree about a file's hash",
    "not-found": "the index does not have this release",
    "provenance-invalid": "the provenance does not verify",
}

# Trove classifiers (PEP 639 deprecates them; many packages still use only them) and the
# SPDX licences each may mean.
CLASSIFIERS = {
    "Apache Software License": ["Apache-2.0"],
    "BSD License": ["BSD-3-Clause", "BSD-2-Clause", "0BSD"],
    "GNU Affero General Public License v3": ["AGPL-3.0-only"],
    "GNU Affero General Public License v3 or later (AGPLv3+)": ["AGPL-3.0-or-later"],
    "GNU General Public License v2 (GPLv2)": ["GPL-2.0-only"],
    "GNU General Public License v2 or later (GPLv2+)": ["GPL-2.0-or-later"],
    "GNU General Public License v3 (GPLv3)": ["GPL-3.0-only"],
    "GNU General Public License v3 or later (GPLv3+)": ["GPL-3.0-or-later"],
    "GNU Lesser General Public License v2 (LGPLv2)": ["LGPL-2.1-only"],
    "GNU Lesser General Public License v2 or later (LGPLv2+)": ["LGPL-2.1-or-later"],
    "GNU Lesser General Public License v3 (LGPLv3)": ["LGPL-3.0-only"],
    "GNU Lesser General Public License v3 or later (LGPLv3+)": ["LGPL-3.0-or-later"],
    "Historical Permission Notice and Disclaimer (HPND)": ["HPND"],
    "ISC License (ISCL)": ["ISC"],
    "MIT License": ["MIT"],
    "MIT No Attribution License (MIT-0)": ["MIT-0"],
    "Mozilla Public License 2.0 (MPL 2.0)": ["MPL-2.0"],
    "Python Software Foundation License": ["PSF-2.0"],
    "The Unlicense (Unlicense)": ["Unlicense"],
    "Universal Permissive License (UPL)": ["UPL-1.0"],
    "Zero-Clause BSD (0BSD)": ["0BSD"],
    "zlib/libpng License": ["Zlib"],
}
# SPDX identifiers without a digit; any other identifier in a `License` field must have
# one, so that free text ("GPL", "BSD", "Dual License") is not taken for an expression.
DIGITLESS_SPDX = {"mit", "isc", "unlicense", "zlib", "hpnd", "wtfpl", "postgresql", "ntp", "x11"}
SYMBOL = re.compile(r"\(|\)|[A-Za-z0-9.+:-]+")
OPERATORS = ("OR", "AND")
REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>[^\s;\\]+)"
)
HASH = re.compile(r"--hash=(\S+)")
SEVERITIES = ("low", "moderate", "high", "critical")


class Failure(Exception):
    """Bad input or an unreadable index: printed as one `error:` line, exit status 2."""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def utc(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC).replace(microsecond=0)


# -- licences ---------------------------------------------------------------------------
def satisfied(expression: str, allowed: set[str]) -> bool:
    """Evaluate an SPDX expression: OR needs one allowed side, AND needs all."""
    symbols = SYMBOL.findall(expression)
    position = 0

    def parse(level: int = 0) -> bool:
        nonlocal position
        if level == len(OPERATORS):
            return parse_term()
        operands = [parse(level + 1)]
        while position < len(symbols) and symbols[position].upper() == OPERATORS[level]:
            position += 1
            operands.append(parse(level + 1))
        return any(operands) if OPERATORS[level] == "OR" else all(operands)

    def parse_term() -> bool:
        nonlocal position
        if position >= len(symbols):
            return False
        symbol = symbols[position]
        position += 1
        if symbol == "(":
            result = parse()
            position += 1  # ")"
        else:
            result = symbol.removesuffix("+").lower() in allowed
        if position < len(symbols) and symbols[position].upper() == "WITH":
            position += 2  # an exception (e.g. LLVM-exception) only ever grants more
        return result

    return parse()


def spdx_like(text: str) -> bool:
    if not text or "\n" in text or len(text) > 200:
        return False
    for symbol in SYMBOL.findall(text):
        if symbol in "()" or symbol.upper() in (*OPERATORS, "WITH"):
            continue
        if not (re.search(r"\d", symbol) or symbol.lower() in DIGITLESS_SPDX):
            return False
    return SYMBOL.sub("", text).strip() == ""


def declared_license(info: dict[str, Any]) -> tuple[str, str]:
    """(SPDX expression, where it came from); ("", reason) when none can be read."""
    expression = (info.get("license_expression") or "").strip()
    if expression:
        return expression, "License-Expression"
    text = (info.get("license") or "").strip()
    if spdx_like(text):
        return text, "License"
    found = []
    for classifier in info.get("classifiers") or []:
        if not classifier.startswith("License :: "):
            continue
        name = classifier.removeprefix("License :: ").removeprefix("OSI Approved :: ")
        for spdx in CLASSIFIERS.get(name, []):
            if spdx not in found:
                found.append(spdx)
    if found:
        return " OR ".join(found), "classifiers"
    return "", f"no readable licence (License: {text[:40]!r})" if text else "no licence metadata"


# -- the policy -------------------------------------------------------------------------
@dataclasses.dataclass
class Exception_:
    number: int
    package: str
    rule: str
    reason: str
    approver: str
    expires: datetime.date | None  # None: a license-policy.toml exception (no expiry there)
    version: str | None
    source: str

    def label(self) -> str:
        return f"{self.source}: exception #{self.number} ({self.package}, {self.rule})"


@dataclasses.dataclass
class Policy:
    runtime: list[str]
    dev: list[str]
    min_release_days: int = 7
    min_project_days: int = 90
    max_days_since_release: int = 1825
    provenance: str = "warn"
    max_exception_days: int = 365
    index_url: str = ""
    api_url: str = ""
    fail_on_severity: str = "low"
    scorecard_level: int = 3
    deny: dict[str, str] = dataclasses.field(default_factory=dict)
    imports: list[dict[str, str]] = dataclasses.field(default_factory=list)
    exceptions: list[Exception_] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)  # expired exceptions
    notices: list[str] = dataclasses.field(default_factory=list)
    sources: list[Path] = dataclasses.field(default_factory=list)  # for the review config
    # The cooldown's fast lane (cooldown-exemptions.toml): (package, version) -> entry.
    fast_lane: dict[tuple[str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)

    def exception(
        self, package: str, version: str, rule: str, today: datetime.date
    ) -> tuple[Exception_ | None, Exception_ | None]:
        """(a valid exception for this problem, or None; an expired one, or None)."""
        expired = None
        for entry in self.exceptions:
            if canonical(entry.package) != package or entry.rule != rule:
                continue
            if entry.version not in (None, version):
                continue
            if entry.expires is not None and entry.expires <= today:
                expired = entry
                continue
            return entry, None
        return None, expired


SCHEMA: dict[str, Any] = {
    "extends": {"path": str, "url": str, "sha256": str},
    "index": {"url": str, "api-url": str},
    "licenses": {"runtime": list, "dev": list},
    "age": {"min-release-days": int, "min-project-days": int, "max-days-since-release": int},
    "provenance": {"new-dependencies": str},
    "exceptions": {"max-days": int},
    "review": {"fail-on-severity": str, "warn-on-openssf-scorecard-level": int},
    "deny": [{"package": str, "reason": str}],
    "import": [{"name": str, "path": str, "url": str, "sha256": str}],
    "exception": [
        {
            "package": str,
            "rule": str,
            "reason": str,
            "approver": str,
            "expires": datetime.date,
            "version": str,
        }
    ],
}


def validate(data: dict[str, Any], where: str) -> None:
    """Unknown keys and wrong types are errors: a typo must not silently weaken a policy."""
    for key, value in data.items():
        if key not in SCHEMA:
            raise Failure(f"{where}: unknown key {key!r} (known: {', '.join(SCHEMA)})")
        shape = SCHEMA[key]
        if isinstance(shape, list):
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise Failure(f"{where}: {key} must be a list of [[{key}]] tables")
            tables = [(f"[[{key}]] #{n}", v) for n, v in enumerate(value, start=1)]
            fields = shape[0]
        else:
            if not isinstance(value, dict):
                raise Failure(f"{where}: {key} must be a table ([{key}])")
            tables, fields = [(f"[{key}]", value)], shape
        for label, table in tables:
            for field, item in table.items():
                if field not in fields:
                    raise Failure(
                        f"{where}: {label}: unknown key {field!r} (known: {', '.join(fields)})"
                    )
                expected = fields[field]
                if expected is datetime.date and isinstance(item, str):
                    continue  # checked with the exception
                if (expected is int and isinstance(item, bool)) or not isinstance(item, expected):
                    raise Failure(f"{where}: {label}: {field} must be a {expected.__name__}")
                if expected is list and not all(isinstance(v, str) and v.strip() for v in item):
                    raise Failure(f"{where}: {label}: {field} must list non-empty strings")


def read_pinned(source: dict[str, str], base: Path, what: str, offline: bool) -> bytes:
    """The bytes of a `path` or `url`, which must match `sha256`."""
    if not source.get("sha256") or not re.fullmatch(r"[0-9a-f]{64}", source["sha256"]):
        raise Failure(f"{what}: needs sha256 = the 64 hex digits of the file's SHA-256")
    if bool(source.get("path")) == bool(source.get("url")):
        raise Failure(f"{what}: needs exactly one of path or url")
    if source.get("path"):
        path = base / source["path"]
        if not path.is_file():
            raise Failure(f"{what}: {path} does not exist")
        data = path.read_bytes()
    else:
        if offline:
            raise Failure(f"{what}: {source['url']} is not available offline")
        data = fetch_url(source["url"])
    digest = hashlib.sha256(data).hexdigest()
    if digest != source["sha256"]:
        raise Failure(
            f"{what}: sha256 is {digest}, the policy pins {source['sha256']}: "
            "review the new file, then pin its hash"
        )
    return data


def parse_toml(data: bytes | str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise Failure(f"{where}: not valid TOML: {error}") from None


def load_policy(path: Path, legacy: Path, today: datetime.date, *, offline: bool) -> Policy:
    if not path.is_file():
        raise Failure(
            f"{path} does not exist: the dependency policy is needed (`copier update` creates it)"
        )
    data = parse_toml(path.read_bytes(), str(path))
    validate(data, str(path))
    layers = [(path, data)]
    if "extends" in data:
        where = f"{path}: [extends]"
        base = parse_toml(read_pinned(data["extends"], path.parent, where, offline), where)
        validate(base, where)
        if "extends" in base:
            raise Failure(f"{where}: an extended policy cannot extend another one")
        extends = data["extends"]
        origin = path.parent / extends["path"] if extends.get("path") else Path(extends["url"])
        layers.insert(0, (origin, base))
    merged: dict[str, Any] = {}
    tables: dict[str, list[tuple[Path, dict[str, Any]]]] = {
        "deny": [],
        "import": [],
        "exception": [],
    }
    for source, layer in layers:
        for key, value in layer.items():
            if key in tables:
                tables[key] += [(source, v) for v in value]
            elif key != "extends":
                merged.setdefault(key, {}).update(value)
    licenses = merged.get("licenses", {})
    if "runtime" not in licenses or "dev" not in licenses:
        raise Failure(f"{path}: [licenses] needs runtime and dev (lists of SPDX identifiers)")
    age, review = merged.get("age", {}), merged.get("review", {})
    policy = Policy(
        runtime=list(licenses["runtime"]),
        dev=list(licenses["dev"]),
        min_release_days=age.get("min-release-days", 7),
        min_project_days=age.get("min-project-days", 90),
        max_days_since_release=age.get("max-days-since-release", 1825),
        provenance=merged.get("provenance", {}).get("new-dependencies", "warn"),
        max_exception_days=merged.get("exceptions", {}).get("max-days", 365),
        index_url=merged.get("index", {}).get("url", ""),
        api_url=merged.get("index", {}).get("api-url", ""),
        fail_on_severity=review.get("fail-on-severity", "low"),
        scorecard_level=review.get("warn-on-openssf-scorecard-level", 3),
        sources=[path],
    )
    if policy.provenance not in ("off", "warn", "require"):
        raise Failure(f"{path}: [provenance] new-dependencies must be off, warn or require")
    if policy.fail_on_severity not in SEVERITIES:
        raise Failure(f"{path}: [review] fail-on-severity must be one of {', '.join(SEVERITIES)}")
    for key in (
        "min_release_days",
        "min_project_days",
        "max_days_since_release",
        "max_exception_days",
    ):
        if getattr(policy, key) < 0:
            raise Failure(f"{path}: {key.replace('_', '-')} must not be negative")
    for number, (source, entry) in enumerate(tables["deny"], start=1):
        if not entry.get("package") or not (entry.get("reason") or "").strip():
            raise Failure(f"{source}: [[deny]] #{number} needs a package and a reason")
        policy.deny[canonical(entry["package"])] = entry["reason"].strip()
    for number, (source, entry) in enumerate(tables["import"], start=1):
        if not entry.get("name"):
            raise Failure(f"{source}: [[import]] #{number} needs a name")
        policy.imports.append({**entry, "base": str(source.parent)})
    for number, (source, entry) in enumerate(tables["exception"], start=1):
        policy.exceptions.append(parse_exception(entry, number, source, policy, today))
    if legacy.is_file():
        load_legacy(legacy, policy)
    return policy


def sibling(name: str) -> ModuleType:
    """Import tools/NAME.py: `python -I` does not put the script's folder on sys.path."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    if spec is None or spec.loader is None:
        raise Failure(f"cannot load {name}.py next to {__file__}")
    module = importlib.util.module_from_spec(spec)
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no tools/__pycache__
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes
    return module


def load_fast_lane(path: Path, days: int, today: datetime.date) -> dict[tuple[str, str], Any]:
    """The releases `make lock FAST_LANE=...` took before the cooldown ended, read by
    tools/cooldown.py's own reader (strict: a malformed or expired entry is an error, as in
    `make lock-check`): {(package, version): entry}. The release-age rule accepts each
    until its entry expires; the record names the advisory as the basis."""
    if not path.is_file():
        return {}
    entries, problems = sibling("cooldown").load(today, days, path)
    if problems:
        raise Failure("; ".join(problems))
    return {(canonical(str(e["package"])), str(e["version"])): e for e in entries}


def parse_exception(
    entry: dict[str, Any], number: int, source: Path, policy: Policy, today: datetime.date
) -> Exception_:
    where = f"{source}: exception #{number}"
    if entry.get("package"):
        where += f" ({entry['package']}, {entry.get('rule', '?')})"
    missing = [
        k
        for k in ("package", "rule", "reason", "approver", "expires")
        if not str(entry.get(k, "")).strip()
    ]
    if missing:
        raise Failure(
            f"{where} lacks {', '.join(missing)}: every exception needs a package, "
            "the rule it accepts, a reason, an approver and an expiry date"
        )
    if entry["rule"] not in RULES:
        hint = " (never accepted by exception)" if entry["rule"] in FATAL else ""
        raise Failure(f"{where}: rule {entry['rule']!r} is not one of {', '.join(RULES)}{hint}")
    expires = entry["expires"]
    if isinstance(expires, str):
        try:
            expires = datetime.date.fromisoformat(expires)
        except ValueError:
            raise Failure(f"{where}: expires must be a date, like 2027-01-31") from None
    if isinstance(expires, datetime.datetime) or not isinstance(expires, datetime.date):
        raise Failure(f"{where}: expires must be a date, like 2027-01-31")
    cap = today + datetime.timedelta(days=policy.max_exception_days)
    if expires > cap:
        raise Failure(
            f"{where}: expires {expires} is more than {policy.max_exception_days} days "
            f"ahead ([exceptions] max-days); choose {cap} or earlier"
        )
    exception = Exception_(
        number,
        entry["package"],
        entry["rule"],
        entry["reason"].strip(),
        entry["approver"].strip(),
        expires,
        entry.get("version"),
        str(source),
    )
    if expires <= today:
        policy.problems.append(
            f"{exception.label()} expired on {expires}: review it and give it a new expiry "
            f"date, or remove it (reason was: {exception.reason})"
        )
    return exception


def load_legacy(path: Path, policy: Policy) -> None:
    """Honour license-policy.toml (`allowed` and [[exception]] package/reason), with a
    notice: its contents belong in dependency-policy.toml now."""
    data = parse_toml(path.read_bytes(), str(path))
    unknown = set(data) - {"allowed", "exception"}
    if unknown:
        raise Failure(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    allowed = data.get("allowed", [])
    if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
        raise Failure(f"{path}: allowed must be a list of SPDX identifiers")
    added = [a for a in allowed if a.lower() not in {r.lower() for r in policy.runtime}]
    policy.runtime += added
    for number, entry in enumerate(data.get("exception", []), start=1):
        if (
            not isinstance(entry, dict)
            or not entry.get("package")
            or not str(entry.get("reason", "")).strip()
        ):
            raise Failure(f"{path}: exception #{number} needs a package and a reason")
        policy.exceptions.append(
            Exception_(
                number,
                entry["package"],
                "license",
                str(entry["reason"]).strip(),
                str(path),
                None,
                None,
                str(path),
            )
        )
    policy.sources.append(path)
    moved = f"{len(added)} licence(s) ({', '.join(added)})" if added else "no extra licences"
    policy.notices.append(
        f"{path} is honoured ({moved}, {len(data.get('exception', []))} exception(s)); move "
        f"them into {policy.sources[0]} ([licenses] runtime, and [[exception]] with "
        f'rule = "license", an approver and an expiry), then delete {path}'
    )


# -- the lock ---------------------------------------------------------------------------
@dataclasses.dataclass
class Locked:
    name: str
    version: str
    hashes: set[str]
    scope: str = "dev"

    @property
    def key(self) -> tuple[str, str]:
        return canonical(self.name), self.version


def read_lock(path: Path) -> dict[tuple[str, str], Locked]:
    """Each pinned (name, version) with its hashes; markers dropped, duplicates merged."""
    if not path.is_file():
        raise Failure(f"{path} does not exist: export the lock first (the Makefile does)")
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    locked: dict[tuple[str, str], Locked] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-e ", "--", "./", "-r ", "-c ")):
            continue
        match = REQUIREMENT.match(line)
        if not match and " @ " in line.split(";")[0]:
            raise Failure(
                f"{path}: {line.split(' @ ')[0].strip()[:80]} comes from a URL, not a package "
                "index: admission needs the index's metadata and provenance, so it cannot be "
                "admitted; publish it to an index (docs/dependency-policy.md)"
            )
        if not match:
            raise Failure(f"{path}: not a pinned requirement: {line[:120]}")
        hashes = set(HASH.findall(line))
        if not hashes:
            raise Failure(f"{path}: {match['name']}=={match['version']} has no --hash")
        for item in hashes:
            if not re.fullmatch(r"sha256:[0-9a-f]{64}", item):
                raise Failure(f"{path}: {match['name']}: only sha256 hashes are supported ({item})")
        entry = Locked(canonical(match["name"]), match["version"], hashes)
        if entry.key in locked:
            locked[entry.key].hashes |= hashes
        else:
            locked[entry.key] = entry
    return locked


def read_locks(locks: list[Path], runtime: Path | None) -> dict[tuple[str, str], Locked]:
    """Every locked distribution of the lock files (pip-tools has two), scoped runtime
    when the runtime export has it."""
    locked: dict[tuple[str, str], Locked] = {}
    for lock in locks:
        for key, entry in read_lock(lock).items():
            if key in locked:
                locked[key].hashes |= entry.hashes
            else:
                locked[key] = entry
    if runtime is not None:
        for key, entry in read_lock(runtime).items():
            if key not in locked:
                raise Failure(
                    f"{runtime}: {entry.name} {entry.version} is not in "
                    f"{', '.join(map(str, locks))}: export them from the same lock"
                )
            locked[key].scope = "runtime"
    return locked


# -- the record -------------------------------------------------------------------------
RECORD_HEADER = """\
# Dependency admission record: every locked distribution that passed dependency-policy.toml,
# with the facts it passed on. Written by `make admit` (tools/admit.py); do not edit it by
# hand. Review its diff like code: it is the review of every new or changed dependency.
# `make install` and CI refuse a lock with a distribution that is not admitted here.
"""


def read_record(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    if not path.is_file():
        return {}
    data = parse_toml(path.read_bytes(), str(path))
    if data.get("version", 1) != 1:
        raise Failure(f"{path}: record version {data.get('version')} is not supported")
    entries = {}
    for number, entry in enumerate(data.get("distribution", []), start=1):
        missing = [k for k in ("name", "version", "hashes", "scope") if k not in entry]
        if missing:
            raise Failure(f"{path}: distribution #{number} lacks {', '.join(missing)}")
        entries[canonical(entry["name"]), entry["version"]] = entry
    return entries


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


ORDER = (
    "name",
    "version",
    "scope",
    "license",
    "license-source",
    "uploaded",
    "provenance",
    "publisher",
    "admitted",
    "basis",
    "exceptions",
    "hashes",
)


def render_record(entries: dict[tuple[str, str], dict[str, Any]]) -> str:
    out = [RECORD_HEADER, "version = 1\n"]
    for key in sorted(entries, key=lambda k: (k[0], k[1])):
        entry = entries[key]
        out.append("\n[[distribution]]\n")
        for field in ORDER:
            if field not in entry or (entry[field] in (None, "", []) and field != "license"):
                continue
            if field == "hashes":
                out.append("hashes = [\n")
                out += [f"    {toml_value(h)},\n" for h in sorted(entry["hashes"])]
                out.append("]\n")
            else:
                out.append(f"{field} = {toml_value(entry[field])}\n")
    return "".join(out)


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# -- the index --------------------------------------------------------------------------
def pyproject_index(path: Path = Path("pyproject.toml")) -> str:
    """The default index the lock tool is configured with in pyproject.toml, if any."""
    if not path.is_file():
        return ""
    tool = parse_toml(path.read_bytes(), str(path)).get("tool", {})
    for index in tool.get("uv", {}).get("index", []):
        if index.get("default"):
            return str(index.get("url", ""))
    for source in tool.get("pdm", {}).get("source", []):
        if source.get("name") == "pypi":
            return str(source.get("url", ""))
    for source in tool.get("poetry", {}).get("source", []):
        if source.get("priority") == "primary":
            return str(source.get("url", ""))
    return ""


class Client:
    """GET JSON from the index. Credentials in the index URL go to that host only."""

    def __init__(self, index_url: str, api_url: str = "") -> None:
        parts = urllib.parse.urlsplit(index_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise Failure(f"index URL {redact(index_url)!r} is not an http(s) URL")
        self.auth: dict[str, str] = {}
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            token = f"{user}:{urllib.parse.unquote(parts.password or '')}"
            self.auth[parts.netloc.rsplit("@", 1)[1]] = (
                "Basic " + base64.b64encode(token.encode()).decode()
            )
            parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
        self.simple = urllib.parse.urlunsplit(parts).rstrip("/")
        if api_url:
            api = urllib.parse.urlsplit(api_url)
            if api.username is not None:
                raise Failure(
                    "[index] api-url must not contain credentials; put them in the index URL"
                )
            self.api = api_url.rstrip("/")
        else:
            self.api = re.sub(r"/simple$", "", self.simple)
        self.requests = 0
        self._count = threading.Lock()

    def _open(self, url: str, accept: str) -> Any:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("https", "http"):
            raise Failure(f"refusing to fetch {redact(url)}: not an http(s) URL")
        headers = {"Accept": accept, "User-Agent": "admit.py (dependency admission)"}
        if parts.netloc in self.auth:
            headers["Authorization"] = self.auth[parts.netloc]
        with self._count:
            self.requests += 1
        from urllib.request import Request, urlopen  # here: `check` stays fast without it

        request = Request(url, headers=headers)  # noqa: S310 (http(s) only, checked above)
        return urlopen(request, timeout=60)  # noqa: S310

    def json(
        self, url: str, accept: str = "application/json", *, optional: bool = False
    ) -> dict[str, Any] | None:
        """The JSON document at url, or None when the index answers 404 (or, if optional,
        answers something that is not JSON: a mirror without PEP 691, say)."""
        for attempt in range(3):
            try:
                with self._open(url, accept) as response:
                    data = response.read()
                    if optional and "json" not in response.headers.get("Content-Type", ""):
                        return None
                    return json.loads(data)
            except urllib.error.HTTPError as error:
                if error.code == 404:
                    return None
                if error.code < 500 or attempt == 2:
                    raise Failure(f"cannot read {redact(url)}: HTTP {error.code}") from None
            except (urllib.error.URLError, OSError, ValueError) as error:
                if attempt == 2:
                    raise Failure(f"cannot read {redact(url)}: {error}") from None
        return None  # not reached


def fetch_url(url: str) -> bytes:
    """An organisation's policy or record, by URL (https only)."""
    if not url.startswith("https://"):
        raise Failure(f"{redact(url)}: only https URLs can be extended or imported")
    try:
        from urllib.request import Request, urlopen

        request = Request(url, headers={"User-Agent": "admit.py"})  # noqa: S310 (https only)
        with urlopen(request, timeout=60) as response:  # noqa: S310
            return response.read()
    except (urllib.error.URLError, OSError) as error:
        raise Failure(f"cannot read {redact(url)}: {error}") from None


def redact(url: str) -> str:
    return re.sub(r"//[^/@]*@", "//***@", url)


def choose_index(args: argparse.Namespace, policy: Policy | None) -> tuple[str, str]:
    candidates = [
        args.index_url,
        policy.index_url if policy else "",
        os.environ.get("UV_DEFAULT_INDEX", ""),
        os.environ.get("UV_INDEX_URL", ""),
        os.environ.get("PIP_INDEX_URL", ""),
        pyproject_index(),
        PYPI,
    ]
    return next(c for c in candidates if c), (policy.api_url if policy else "")


# -- facts about one distribution -------------------------------------------------------
@dataclasses.dataclass
class Problem:
    rule: str
    evidence: str


@dataclasses.dataclass
class Facts:
    locked: Locked
    license: str = ""
    license_source: str = ""
    uploaded: datetime.datetime | None = None
    first_upload: datetime.datetime | None = None
    last_upload: datetime.datetime | None = None
    status: str = ""
    status_reason: str = ""
    files: dict[str, str] = dataclasses.field(default_factory=dict)  # sha256 -> filename
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)  # filename -> JSON
    checked_provenance: bool = False
    publisher: dict[str, str] | None = None
    attestation: str = "none"  # verified | partial | none | not-checked
    problems: list[Problem] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    fast_lane: str = ""  # the advisory a fast-lane release fixes, when it was taken early


def gather(client: Client, locked: Locked, provenance: bool) -> Facts:
    """Fetch the index's metadata for one locked distribution (no verification yet)."""
    facts = Facts(locked)
    name, version = locked.key
    release = client.json(f"{client.api}/pypi/{name}/{urllib.parse.quote(version)}/json")
    if release is None:
        facts.problems.append(
            Problem(
                "not-found",
                f"{client.api} has no {name} {version} "
                "(a typo, a private name, or a removed release?)",
            )
        )
        return facts
    info = release.get("info", {})
    facts.license, facts.license_source = declared_license(info)
    by_hash = {
        f"sha256:{f['digests']['sha256']}": f
        for f in release.get("urls", [])
        if f.get("digests", {}).get("sha256")
    }
    uploads = []
    for item in sorted(locked.hashes):
        entry = by_hash.get(item)
        if entry is None:
            facts.problems.append(
                Problem(
                    "hash",
                    f"{item} is locked, but the index has no file "
                    f"of {name} {version} with that hash",
                )
            )
            continue
        facts.files[item] = entry["filename"]
        if entry.get("upload_time_iso_8601"):
            uploads.append(utc(entry["upload_time_iso_8601"]))
        if entry.get("yanked"):
            facts.problems.append(
                Problem(
                    "yanked",
                    f"{entry['filename']} is yanked"
                    f" ({entry.get('yanked_reason') or 'no reason given'})",
                )
            )
            break
    facts.uploaded = max(uploads) if uploads else None
    project = client.json(f"{client.simple}/{name}/", SIMPLE_JSON, optional=True)
    urls: dict[str, Any] = {}
    if project is not None:
        status = project.get("project-status") or {}
        facts.status, facts.status_reason = status.get("status", ""), status.get("reason") or ""
        times = [utc(f["upload-time"]) for f in project.get("files", []) if f.get("upload-time")]
        urls = {f["filename"]: f.get("provenance", ...) for f in project.get("files", [])}
    else:
        times = []
    if not times:  # an index without PEP 700 upload times: the JSON API's history
        history = client.json(f"{client.api}/pypi/{name}/json") or {}
        times = [
            utc(f["upload_time_iso_8601"])
            for files in history.get("releases", {}).values()
            for f in files
            if f.get("upload_time_iso_8601")
        ]
    if times:
        facts.first_upload, facts.last_upload = min(times), max(times)
    if provenance:
        facts.checked_provenance = True
        for filename in sorted(facts.files.values()):
            url = urls.get(filename, ...)
            if url is None:
                continue  # the simple API says: no provenance
            if url is ...:  # an index that does not say: ask the integrity API
                quoted = urllib.parse.quote(version)
                url = f"{client.api}/integrity/{name}/{quoted}/{filename}/provenance"
            found = client.json(urllib.parse.urljoin(f"{client.simple}/{name}/", url))
            if found is not None:
                facts.provenance[filename] = found
    return facts


def identity(publisher: Any) -> dict[str, str]:
    """The publisher's identity as recorded: kind, repository, workflow, environment."""
    data = publisher.model_dump() if hasattr(publisher, "model_dump") else dict(publisher)
    kind = data.get("kind", "")
    result = {"kind": kind}
    if kind == "Google":
        result["repository"] = data.get("email", "")  # the service account
    elif kind == "CircleCI":
        result["repository"] = data.get("vcs_origin") or data.get("project_id", "")
        result["workflow"] = data.get("pipeline_definition_id", "")
    else:
        result["repository"] = data.get("repository", "")
        result["workflow"] = data.get("workflow") or data.get("workflow_filepath", "")
    if data.get("environment"):
        result["environment"] = data["environment"]
    return {k: v for k, v in result.items() if v}


def same_publisher(a: dict[str, str], b: dict[str, str]) -> bool:
    """Kind, repository and workflow are in the signing certificate; the environment is
    only PyPI's claim, so a different environment is a warning, not a refusal."""
    return all(a.get(k, "") == b.get(k, "") for k in ("kind", "repository", "workflow"))


def verify(facts: Facts) -> None:
    """Verify every provenance found: signature, certificate identity and file hash."""
    if not facts.checked_provenance:
        facts.attestation = "not-checked"
        return
    if not facts.provenance:
        facts.attestation = "none"
        return
    try:
        import logging

        logging.getLogger("sigstore").setLevel(logging.ERROR)
        from pypi_attestations import Distribution, Provenance
    except ImportError:
        raise Failure(
            "verifying provenance needs pypi-attestations from the toolchain "
            '(run `make tools`), or [provenance] new-dependencies = "off"'
        ) from None
    identities = []
    by_file = {filename: item for item, filename in facts.files.items()}
    for filename, document in sorted(facts.provenance.items()):
        try:
            provenance = Provenance.model_validate(document)
            digest = by_file[filename].removeprefix("sha256:")
            for bundle in provenance.attestation_bundles:
                for attestation in bundle.attestations:
                    attestation.verify(
                        bundle.publisher, Distribution(name=filename, digest=digest), offline=True
                    )
                identities.append(identity(bundle.publisher))
        except Exception as error:  # pydantic, sigstore and verification errors alike
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            facts.problems.append(Problem("provenance-invalid", f"{filename}: {message}"))
            facts.attestation = "invalid"
            return
    unique = {json.dumps(i, sort_keys=True) for i in identities}
    if len(unique) > 1:
        facts.problems.append(
            Problem(
                "publisher-mixed",
                f"the locked files name different publishers: {'; '.join(sorted(unique))}",
            )
        )
    facts.publisher = identities[0] if identities else None
    facts.attestation = "verified" if len(facts.provenance) == len(facts.files) else "partial"


def describe(publisher: dict[str, str] | None) -> str:
    if not publisher:
        return "no provenance"
    parts = [publisher.get("kind", "?"), publisher.get("repository", "")]
    if publisher.get("workflow"):
        parts.append(publisher["workflow"])
    if publisher.get("environment"):
        parts.append(f"environment {publisher['environment']}")
    return " ".join(p for p in parts if p)


def evaluate(
    facts: Facts, policy: Policy, previous: dict[str, Any] | None, now: datetime.datetime
) -> None:
    """Apply the policy to the facts (adds problems and warnings)."""
    locked = facts.locked
    name = locked.key[0]
    if name in policy.deny:
        facts.problems.append(Problem("denied", policy.deny[name]))
    allowed = policy.runtime if locked.scope == "runtime" else policy.dev
    if not facts.license:
        facts.problems.append(Problem("license", f"{facts.license_source}; review its licence"))
    elif not satisfied(facts.license, {a.lower() for a in allowed}):
        facts.problems.append(
            Problem(
                "license",
                f"{facts.license} ({facts.license_source}) is not in [licenses] {locked.scope}",
            )
        )
    day = datetime.timedelta(days=1)
    young = facts.uploaded and now - facts.uploaded < policy.min_release_days * day
    fast_lane = policy.fast_lane.get((name, locked.key[1]))  # only unexpired entries
    if young and fast_lane is not None:
        facts.fast_lane = str(fast_lane["advisory"])
        facts.warnings.append(
            f"taken before the cooldown ended for {facts.fast_lane} "
            f"(cooldown-exemptions.toml, until {fast_lane['expires']})"
        )
    elif young:
        facts.problems.append(
            Problem(
                "release-age",
                f"uploaded {facts.uploaded:%Y-%m-%dT%H:%MZ}, "
                f"less than {policy.min_release_days} days ago",
            )
        )
    if facts.first_upload and now - facts.first_upload < policy.min_project_days * day:
        facts.problems.append(
            Problem(
                "project-age",
                f"first release {facts.first_upload:%Y-%m-%d}, "
                f"less than {policy.min_project_days} days ago",
            )
        )
    if facts.last_upload and now - facts.last_upload > policy.max_days_since_release * day:
        facts.problems.append(
            Problem(
                "last-release",
                f"last release {facts.last_upload:%Y-%m-%d}, "
                f"more than {policy.max_days_since_release} days ago",
            )
        )
    if facts.status in ("archived", "quarantined"):
        reason = f": {facts.status_reason}" if facts.status_reason else ""
        facts.problems.append(
            Problem("project-status", f"the index marks it {facts.status}{reason}")
        )
    elif facts.status == "deprecated":
        facts.warnings.append(f"the index marks it deprecated {facts.status_reason}".strip())
    if not facts.checked_provenance or facts.attestation == "invalid":
        return
    before = (previous or {}).get("publisher")
    if before:
        since = f"{previous['version']} was published by {describe(before)}" if previous else ""
        if facts.publisher is None:
            facts.problems.append(Problem("provenance-lost", f"no provenance, but {since}"))
        elif not same_publisher(facts.publisher, before):
            facts.problems.append(
                Problem(
                    "publisher-changed", f"published by {describe(facts.publisher)}, but {since}"
                )
            )
        elif facts.publisher.get("environment", "") != before.get("environment", ""):
            facts.warnings.append(f"publisher environment changed ({since})")
    elif facts.attestation != "verified" and policy.provenance == "require":
        facts.problems.append(
            Problem(
                "provenance",
                f"{facts.attestation} provenance "
                f"({len(facts.provenance)} of {len(facts.files)} files)",
            )
        )
    elif facts.attestation == "none" and policy.provenance == "warn":
        facts.warnings.append("no PEP 740 provenance on the index")
    if facts.attestation == "partial" and policy.provenance != "off":
        facts.warnings.append(
            f"provenance for {len(facts.provenance)} of {len(facts.files)} locked files only"
        )


def accept(facts: Facts, policy: Policy, today: datetime.date) -> tuple[list[str], list[str]]:
    """(rules accepted by exception, refusal lines)."""
    accepted, refusals = [], []
    name, version = facts.locked.key
    for problem in facts.problems:
        if problem.rule in RULES:
            exception, expired = policy.exception(name, version, problem.rule, today)
            if exception is not None:
                accepted.append(problem.rule)
                continue
            hint = f"; {expired.label()} expired on {expired.expires}" if expired else ""
            how = (
                f"to accept it, add an [[exception]] to {policy.sources[0]} with "
                f'package = "{name}", rule = "{problem.rule}", a reason, an approver and '
                f"expires{hint}"
            )
        else:
            how = f"not accepted by exception ({FATAL[problem.rule]})"
        refusals.append(f"{name} {version}: {problem.rule}: {problem.evidence}; {how}")
    return sorted(set(accepted)), refusals


def entry_for(
    facts: Facts, accepted: list[str], today: datetime.date, basis: str = ""
) -> dict[str, Any]:
    return {
        "name": facts.locked.name,
        "version": facts.locked.version,
        "scope": facts.locked.scope,
        "license": facts.license,
        "license-source": facts.license_source,
        "uploaded": facts.uploaded,
        "provenance": facts.attestation,
        "publisher": facts.publisher,
        "admitted": today,
        "basis": basis or ("exception" if accepted else "policy"),
        "exceptions": accepted,
        "hashes": sorted(facts.locked.hashes),
    }


def previous_entry(
    record: dict[tuple[str, str], dict[str, Any]], locked: Locked
) -> dict[str, Any] | None:
    """The admitted entry to compare publishers with: the same version's (if its hashes
    changed), else the highest-sorting other admitted version that had provenance."""
    same = record.get(locked.key)
    if same and same.get("publisher"):
        return same
    others = [e for (n, v), e in record.items() if n == locked.key[0] and v != locked.version]
    with_publisher = [e for e in others if e.get("publisher")]
    pool = with_publisher or others
    return max(pool, key=lambda e: str(e.get("admitted", ""))) if pool else same


def admitted(entry: dict[str, Any] | None, locked: Locked) -> bool:
    return (
        bool(entry)
        and locked.hashes <= set(entry["hashes"])
        and (locked.scope == entry["scope"] or locked.scope == "dev")
    )


# -- imports (an organisation's record, pinned by hash) ---------------------------------
def imported(policy: Policy) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    found: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for source in policy.imports:
        where = f"{policy.sources[0]}: [[import]] {source['name']}"
        data = parse_toml(read_pinned(source, Path(source["base"]), where, offline=False), where)
        for entry in data.get("distribution", []):
            if {"name", "version", "hashes", "scope"} <= set(entry):
                found.setdefault(
                    (canonical(entry["name"]), entry["version"]), (source["name"], entry)
                )
    return found


# -- the dependency-review-action config ------------------------------------------------
def review_config(
    policy: Policy, record: dict[tuple[str, str], dict[str, Any]], record_path: Path
) -> str:
    licence_exempt = {canonical(e.package) for e in policy.exceptions if e.rule == "license"}
    runtime = {r.lower() for r in policy.runtime}
    for (name, _), entry in record.items():
        if entry["scope"] == "dev" and not satisfied(entry.get("license") or "", runtime):
            licence_exempt.add(name)  # a dev tool, held to [licenses] dev by admit
    lines = [
        "# Configuration of actions/dependency-review-action, generated by `make admit`",
        f"# (tools/admit.py) from {', '.join(str(p) for p in policy.sources)}, {record_path}.",
        "# Do not edit: change the policy and run `make admit`; `make check` fails when stale.",
        f"fail-on-severity: {policy.fail_on_severity}",
        "fail-on-scopes: [runtime, development, unknown]",
        "allow-licenses:",
        *[f"  - {json.dumps(lic)}" for lic in sorted(set(policy.runtime), key=str.lower)],
    ]
    if licence_exempt:
        lines.append("# Admitted under [licenses] dev or a licence exception:")
        lines.append("allow-dependencies-licenses:")
        lines += [f"  - {json.dumps('pkg:pypi/' + n)}" for n in sorted(licence_exempt)]
    if policy.deny:
        lines.append("deny-packages:")
        lines += [f"  - {json.dumps('pkg:pypi/' + n)}" for n in sorted(policy.deny)]
    lines += [
        "show-openssf-scorecard: true",
        f"warn-on-openssf-scorecard-level: {policy.scorecard_level}",
    ]
    body = "\n".join(lines) + "\n"
    digest = hashlib.sha256(body.encode()).hexdigest()
    return body + f"# sha256 of the lines above: {digest}\n"


def review_config_stale(path: Path, expected: str | None) -> str:
    """Why the review config at path is stale, or ""."""
    if not path.is_file():
        return f"{path} is missing"
    text = path.read_text(encoding="utf-8")
    if expected is not None:
        return "" if text == expected else f"{path} does not match the policy and the record"
    body, _, footer = text.rpartition("# sha256 of the lines above: ")
    if hashlib.sha256(body.encode()).hexdigest() != footer.strip():
        return f"{path} was edited by hand"
    return ""


# -- commands ---------------------------------------------------------------------------
def today_of(now: datetime.datetime) -> datetime.date:
    return now.astimezone(datetime.UTC).date()


def print_lines(prefix: str, lines: list[str], stream: Any = None) -> None:
    for line in lines:
        print(f"{prefix}{line}", file=stream or sys.stderr)


def command_admit(args: argparse.Namespace, now: datetime.datetime) -> int:
    today = today_of(now)
    locked = read_locks(args.lock, args.runtime)
    record = read_record(args.record)
    policy = load_policy(args.policy, args.legacy_policy, today, offline=False)
    days = policy.min_release_days if args.cooldown_days is None else args.cooldown_days
    policy.fast_lane = load_fast_lane(args.fast_lane, days, today)
    client = Client(*choose_index(args, policy))
    print_lines("notice: ", policy.notices, sys.stdout)
    todo = [entry for key, entry in sorted(locked.items()) if not admitted(record.get(key), entry)]
    print(
        f"admit: {len(locked)} locked distributions, {len(locked) - len(todo)} already "
        f"admitted, {len(todo)} to check against {redact(client.simple)}",
        flush=True,
    )
    imports = imported(policy) if todo and policy.imports else {}
    results: list[tuple[Facts, list[str], str]] = []
    fetch = []
    for entry in todo:
        source = imports.get(entry.key)
        if source and entry.hashes <= set(source[1]["hashes"]):
            facts = Facts(
                entry,
                license=source[1].get("license", ""),
                license_source=source[1].get("license-source", ""),
                publisher=source[1].get("publisher"),
                attestation=source[1].get("provenance", "not-checked"),
            )
            up = source[1].get("uploaded")
            facts.uploaded = up if isinstance(up, datetime.datetime) else None
            evaluate(facts, policy, None, now)
            if not facts.problems:
                results.append((facts, [], f"import:{source[0]}"))
                continue
        fetch.append(entry)
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        gathered = list(pool.map(lambda e: gather(client, e, policy.provenance != "off"), fetch))
    refusals: list[str] = []
    warnings: list[str] = []
    refused_names: set[str] = set()
    for facts in gathered:
        if not any(p.rule in FATAL for p in facts.problems):
            verify(facts)
            evaluate(facts, policy, previous_entry(record, facts.locked), now)
        accepted, refused = accept(facts, policy, today)
        warnings += [f"{facts.locked.name} {facts.locked.version}: {w}" for w in facts.warnings]
        if refused:
            refusals += refused
            refused_names.add(facts.locked.key[0])
        else:
            basis = f"fast-lane:{facts.fast_lane}" if facts.fast_lane else ""
            results.append((facts, accepted, basis))
    locked_names = {key[0] for key in locked}
    new_record = {}
    for key, entry in record.items():
        if key[0] not in locked_names:
            continue  # no longer a dependency
        if (key in locked and admitted(entry, locked[key])) or key[0] in refused_names:
            # An entry of a refused package stays as the reference for trust on first use.
            new_record[key] = entry
    for facts, accepted, basis in results:
        new_record[facts.locked.key] = entry_for(facts, accepted, today, basis)
    text = render_record(new_record)
    if args.record.is_file():
        changed = args.record.read_text(encoding="utf-8") != text
    else:
        changed = bool(new_record)  # no record yet, and nothing to put in one
    if changed:
        write_atomic(args.record, text)
    if args.review_config:
        config = review_config(policy, new_record, args.record)
        if review_config_stale(args.review_config, config):
            write_atomic(args.review_config, config)
            print(f"admit: wrote {args.review_config}")
    print_lines("warning: ", warnings)
    if any(w.endswith("no PEP 740 provenance on the index") for w in warnings):
        print(
            "(PEP 740 provenance links a file to the repository and workflow that published "
            'it; [provenance] new-dependencies = "require" refuses dependencies without it)',
            file=sys.stderr,
        )
    print_lines("refused: ", refusals)
    print_lines("error: ", policy.problems)
    admitted_now = len(results)
    print(
        f"admit: {admitted_now} admitted, {len(refused_names)} refused; "
        f"{client.requests} index requests; {args.record} "
        f"{'updated' if changed else 'unchanged'}"
    )
    if refusals:
        print(
            "Refused distributions are not installed: `make install` and CI refuse the lock "
            "until they are admitted. Change the dependency, or ask for an exception as shown.",
            file=sys.stderr,
        )
    return 1 if refusals or policy.problems else 0


def _needs_network(policy_path: Path) -> bool:
    """Whether the policy extends or imports a file by URL."""
    data = parse_toml(policy_path.read_bytes(), str(policy_path))
    return "url" in data.get("extends", {}) or any("url" in i for i in data.get("import", []))


def command_check(args: argparse.Namespace, now: datetime.datetime) -> int:
    locked = read_locks(args.lock, args.runtime)
    record = read_record(args.record)
    problems = []
    for key, entry in sorted(locked.items()):
        have = record.get(key)
        if admitted(have, entry):
            continue
        if have is None:
            others = sorted(v for (n, v) in record if n == key[0])
            why = f"record has {', '.join(others)}" if others else "new"
        elif entry.scope != have["scope"] and entry.hashes <= set(have["hashes"]):
            why = f"admitted as a {have['scope']} dependency, locked as {entry.scope}"
        else:
            why = f"{len(entry.hashes - set(have['hashes']))} file hash(es) not admitted"
        problems.append(f"{entry.name} {entry.version}: not admitted ({why})")
    if args.review_config:
        if _needs_network(args.policy):
            stale = review_config_stale(args.review_config, None)
        else:
            policy = load_policy(args.policy, args.legacy_policy, today_of(now), offline=True)
            stale = review_config_stale(
                args.review_config, review_config(policy, record, args.record)
            )
        if stale:
            problems.append(f"{stale}: run `make admit` to regenerate it")
    print_lines("error: ", problems)
    if problems:
        print(
            f"The lock is not admitted by {args.record}: run `make admit`, review the "
            f"record's diff, and commit it.",
            file=sys.stderr,
        )
        return 1
    print(f"check: all {len(locked)} locked distributions are admitted by {args.record}")
    return 0


def command_recheck(args: argparse.Namespace, now: datetime.datetime) -> int:
    today = today_of(now)
    record = read_record(args.record)
    policy = load_policy(args.policy, args.legacy_policy, today, offline=False)
    client = Client(*choose_index(args, policy))
    entries = [
        Locked(canonical(e["name"]), e["version"], set(e["hashes"]), e["scope"])
        for _, e in sorted(record.items())
    ]
    print(
        f"recheck: {len(entries)} admitted distributions against {redact(client.simple)}",
        flush=True,
    )
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        # Provenance is fetched again for what was admitted with some (trust on first use).
        gathered = list(
            pool.map(lambda e: gather(client, e, bool(record[e.key].get("publisher"))), entries)
        )
    failures: list[str] = []
    for facts in gathered:
        entry = record[facts.locked.key]
        found: list[Problem] = [
            p for p in facts.problems if p.rule in ("hash", "not-found", "yanked")
        ]
        facts.problems = []
        verify(facts)
        found += [p for p in facts.problems if p.rule == "provenance-invalid"]
        if facts.status in ("archived", "quarantined"):
            reason = f": {facts.status_reason}" if facts.status_reason else ""
            found.append(Problem("project-status", f"the index marks it {facts.status}{reason}"))
        before = entry.get("publisher")
        if before and facts.attestation != "invalid":
            if facts.publisher is None:
                found.append(
                    Problem(
                        "provenance-lost",
                        f"admitted with provenance from {describe(before)}; the index has none now",
                    )
                )
            elif not same_publisher(facts.publisher, before):
                found.append(
                    Problem(
                        "publisher-changed",
                        f"admitted from {describe(before)}, now {describe(facts.publisher)}",
                    )
                )
        facts.problems = found
        _, refused = accept(facts, policy, today)
        failures += refused
        for rule in entry.get("exceptions", []):
            exception, expired = policy.exception(
                facts.locked.key[0], facts.locked.version, rule, today
            )
            if exception is None:
                what = (
                    f"{expired.label()} expired on {expired.expires}"
                    if expired
                    else "the exception is no longer in the policy"
                )
                failures.append(
                    f"{facts.locked.name} {facts.locked.version}: {rule}: admitted by "
                    f"exception, but {what}; renew it or change the dependency"
                )
    print_lines("failed: ", failures)
    print_lines("error: ", policy.problems)
    print(
        f"recheck: {len(failures)} problem(s), {len(policy.problems)} expired exception(s); "
        f"{client.requests} index requests"
    )
    return 1 if failures or policy.problems else 0


def command_review_config(args: argparse.Namespace, now: datetime.datetime) -> int:
    policy = load_policy(args.policy, args.legacy_policy, today_of(now), offline=False)
    output = args.review_config or Path(".github/dependency-review-config.yml")
    write_atomic(output, review_config(policy, read_record(args.record), args.record))
    print(f"review-config: wrote {output}")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--policy", type=Path, default=Path("dependency-policy.toml"))
    common.add_argument("--record", type=Path, default=Path("dependency-admissions.toml"))
    common.add_argument(
        "--legacy-policy",
        type=Path,
        default=Path("license-policy.toml"),
        help="the old licence policy, honoured until it is moved",
    )
    common.add_argument(
        "--review-config",
        type=Path,
        help="a dependency-review-action config to write (admit) or check",
    )
    common.add_argument("--index-url", default="", help="the package index (a simple API URL)")
    common.add_argument("--now", help="the current time (ISO 8601), for reproducible runs")
    parser = argparse.ArgumentParser(description="Admit locked dependencies on evidence.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("admit", "check"):
        sub = commands.add_parser(name, parents=[common])
        if name == "admit":
            sub.add_argument(
                "--fast-lane",
                type=Path,
                default=Path("cooldown-exemptions.toml"),
                help="the cooldown's exemptions (tools/cooldown.py): releases taken early",
            )
            sub.add_argument(
                "--cooldown-days",
                type=int,
                help="the lock tools' cooldown, which caps an exemption's expiry "
                "(default: [age] min-release-days)",
            )
        sub.add_argument(
            "lock", type=Path, nargs="+", help="the lock exported as hashed requirements"
        )
        sub.add_argument("--runtime", type=Path, help="the same, without development groups")
    commands.add_parser("recheck", parents=[common])
    commands.add_parser("review-config", parents=[common])
    args = parser.parse_args(argv)
    if args.command == "admit" and args.runtime is None:
        parser.error("admit needs --runtime: the runtime dependencies' licences are checked apart")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        now = (
            utc(args.now)
            if args.now
            else datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        )
    except ValueError:
        print(f"error: --now {args.now!r} is not an ISO 8601 time", file=sys.stderr)
        return 2
    commands = {
        "admit": command_admit,
        "check": command_check,
        "recheck": command_recheck,
        "review-config": command_review_config,
    }
    try:
        return commands[args.command](args, now)
    except Failure as failure:
        print(f"error: {failure}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
