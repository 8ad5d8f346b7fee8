"""The cooldown's fast lane: take a security fix before the cooldown ends.

Usage (the Makefile runs it as $(COOLDOWN) = `python -I tools/cooldown.py --lock-tool TOOL
--cooldown-days DAYS`, TOOL being uv, pdm, poetry or pip-tools and DAYS the cooldown):

    $(COOLDOWN) add       # `make lock FAST_LANE=... ADVISORY=... [REASON=...]`: add, then sync
    $(COOLDOWN) sync      # `make lock`: write the lock tool's settings from the file
    $(COOLDOWN) check     # `make lock-check`: expired, stale or unsynced entries fail
    $(COOLDOWN) upgrades  # pip-tools: the second pass's --upgrade-package options

`--now TIME` (ISO 8601; `make ... AS_OF=TIME`) judges the entries as of that moment. Exit
status: 0 fine, 1 `check` found a problem, 2 a bad request or a bad
cooldown-exemptions.toml (an expired entry included); nothing is written then. The lock
tool resolves only releases at least DAYS old. A release that fixes a known vulnerability
may be taken earlier, one exact version at a time, with an entry in
cooldown-exemptions.toml (read by tools/expiring.py, the format of audit-exceptions.toml):

    [[exemption]]
    package = "jinja2"
    version = "2.10.1"           # the one release admitted before its cooldown ends
    advisory = "PYSEC-2019-217"  # the vulnerability it fixes
    reason = "Fixes a sandbox escape we are exposed to"
    expires = 2019-04-15         # at most DAYS + 1 away: by then the cooldown admits it anyway

`make lock FAST_LANE=jinja2==2.10.1 ADVISORY=PYSEC-2019-217` adds the entry (expiring
after the cooldown and a day) and locks. `sync` turns the entries into the lock tool's own
settings, between the `# BEGIN fast lane` and `# END fast lane` lines the template puts in
pyproject.toml (and poetry.toml): the package is exempt from the cooldown and pinned to
the fixed version, so nothing newer slips in with it. pip-tools has no such settings: the
Makefile compiles a second time without the cut-off, upgrading only the exempt packages
(`upgrades`), and pip-compile keeps every other pin. `check` (part of
`make lock-check`) fails when an entry has expired (the cooldown admits the release now:
delete the entry and run `make lock`), when the package is no longer locked at that
version, when uv.lock shows the release is past the cooldown already, or when the settings
differ from the file. Removing an entry before it expires could lock the vulnerable
release again: the lock tools go back to what the cooldown allows.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import NoReturn

FILE = Path("cooldown-exemptions.toml")
BEGIN = "# BEGIN fast lane: tools/cooldown.py writes these lines from cooldown-exemptions.toml"
END = "# END fast lane"
VERSION = re.compile(r"[0-9]+(\.[0-9]+)*((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?")
HEADER = """\
# Releases this project takes before the cooldown ends, because they fix a known
# vulnerability. `make lock FAST_LANE=NAME==VERSION ADVISORY=ID` adds an entry; delete it
# when `make check` says it has expired, and run `make lock`.
"""


def sibling(name: str) -> ModuleType:
    """Import tools/NAME.py: `python -I` does not put the script's folder on sys.path."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    if spec is None or spec.loader is None:
        raise SystemExit(f"error: cannot load {name}.py next to {__file__}")
    module = importlib.util.module_from_spec(spec)
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no tools/__pycache__
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes
    return module


expiring = sibling("expiring")


def version_problem(value: object) -> str | None:
    if problem := expiring.text(value):
        return problem
    if VERSION.fullmatch(str(value)):
        return None
    return f"{value!r} is not an exact release version such as 2.10.1"


def load(
    today: datetime.date, days: int, path: Path = FILE
) -> tuple[list[dict[str, object]], list[str]]:
    """The entries in force and the problems; tools/admit.py reads the file through this."""
    return expiring.load(
        path,
        table="exemption",
        keys={
            "package": expiring.package_name,
            "version": version_problem,
            "advisory": expiring.advisory_id,
        },
        today=today,
        renew="the cooldown admits that release by now: delete this entry and run `make lock`",
        max_days=days + 1,
    )


# What each lock tool reads, as (file, table the block sits in, {key: value}) from the entries.
def settings(tool: str, entries: list[dict[str, object]]) -> list[tuple[Path, str, dict]]:
    names = [expiring.canonical(str(e["package"])) for e in entries]
    pins = [f"{n}=={e['version']}" for n, e in zip(names, entries, strict=True)]
    pyproject = Path("pyproject.toml")
    if tool == "uv":
        keys = {"exclude-newer-package": dict.fromkeys(names, False)}
        keys["constraint-dependencies"] = pins
        return [(pyproject, "tool.uv", keys if entries else {})]
    if tool == "pdm":
        keys = {"exclude-newer-override": dict.fromkeys(names, False)}
        keys["overrides"] = {n: f"=={e['version']}" for n, e in zip(names, entries, strict=True)}
        return [(pyproject, "tool.pdm.resolution", keys if entries else {})]
    if tool == "poetry":
        return [
            (Path("poetry.toml"), "solver", {"min-release-age-exclude": names} if entries else {}),
            (pyproject, "dependency-groups", {"fast-lane": pins} if entries else {}),
        ]
    return []  # pip-tools: the Makefile's second pass (`upgrades`)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # JSON's escapes are TOML's; TOML also wants DEL escaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def table(document: dict, dotted: str) -> dict:
    for part in dotted.split("."):
        document = document.get(part, {}) if isinstance(document, dict) else {}
    return document if isinstance(document, dict) else {}


def block(text: str, path: Path) -> tuple[int, int]:
    """The line numbers of the BEGIN and END markers in the file's lines."""
    lines = text.splitlines()
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        fail(
            [
                f"{path} needs exactly one fast-lane block: the lines\n  {BEGIN}\n  {END}\n"
                "in the table the lock tool reads (the template puts them there; restore them)"
            ]
        )
    return begins[0], ends[0]


def rendered(path: Path, where: str, keys: dict) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        fail([f"{path}: cannot read it: {error}"])
    begin, end = block(text, path)
    lines = text.splitlines(keepends=True)
    new = [f"{key} = {toml_value(value)}\n" for key, value in keys.items()]
    result = "".join(lines[: begin + 1] + new + lines[end:])
    try:
        document = tomllib.loads(result)
    except tomllib.TOMLDecodeError as error:
        fail([f"{path} would not be valid TOML with the fast lane: {error}"])
    found = {key: table(document, where).get(key) for key in keys}
    if found != keys:
        fail([f"the fast-lane block in {path} must sit inside [{where}]"])
    return result


def sync(tool: str, entries: list[dict[str, object]], writes: dict[Path, str]) -> None:
    """Write every file first to memory, then all of them: nothing half-written."""
    for path, where, keys in settings(tool, entries):
        writes[path] = rendered(path, where, keys)
    for path, text in writes.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            temporary = path.with_name(path.name + ".tmp")
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(path)
            print(f"Fast lane: wrote {path}")


def locked_versions(tool: str) -> dict[str, dict[str, list[str]]]:
    """{package: {version: [upload times, where the lock records them]}}."""
    found: dict[str, dict[str, list[str]]] = {}
    if tool == "pip-tools":
        for path in (Path("requirements/main.txt"), Path("requirements/dev.txt")):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                fail([f"{path}: cannot read it: {error}: run `make lock`"])
            for match in re.finditer(r"(?m)^([A-Za-z0-9._-]+)==(\S+)", text):
                found.setdefault(expiring.canonical(match[1]), {})[match[2]] = []
        return found
    lock = Path({"uv": "uv.lock", "pdm": "pdm.lock", "poetry": "poetry.lock"}[tool])
    try:
        packages = tomllib.loads(lock.read_text(encoding="utf-8")).get("package", [])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        fail([f"{lock}: cannot read it: {error}: run `make lock`"])
    for package in packages:
        files = [package.get("sdist") or {}, *package.get("wheels", [])]
        times = [f["upload-time"] for f in files if "upload-time" in f]
        found.setdefault(expiring.canonical(package["name"]), {})[str(package["version"])] = times
    return found


def check(
    tool: str, entries: list[dict[str, object]], now: datetime.datetime, days: int
) -> list[str]:
    problems = []
    for path, where, keys in settings(tool, entries):
        if rendered(path, where, keys) != path.read_text(encoding="utf-8"):
            problems.append(f"{path}: the fast lane differs from {FILE}: run `make lock`")
    locked = locked_versions(tool)
    cutoff = now - datetime.timedelta(days=days)
    for entry in entries:
        name, version = expiring.canonical(str(entry["package"])), str(entry["version"])
        where = f"{FILE}: exemption #{entry['number']} ({entry['package']})"
        versions = locked.get(name, {})
        if version not in versions:
            locked_at = ", ".join(sorted(versions)) or "nothing"
            problems.append(
                f"{where}: the lock has {name} at {locked_at}, not {version}: "
                "delete this entry if it is no longer needed, and run `make lock`"
            )
        elif (times := versions[version]) and max(
            datetime.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in times
        ) <= cutoff:
            problems.append(
                f"{where}: {name} {version} is older than the {days}-day cooldown: "
                "the exemption is no longer needed; delete it and run `make lock`"
            )
    return problems


def fail(problems: list[str]) -> NoReturn:
    """Name every problem and stop with status 2, before anything is written."""
    print("\n".join(f"error: {problem}" for problem in problems), file=sys.stderr)
    raise SystemExit(2)


def add(today: datetime.date, days: int, entries: list[dict[str, object]]) -> str:
    """The file's new text with the entry FAST_LANE, ADVISORY and REASON ask for, which
    is appended to `entries`."""
    request, advisory = os.environ.get("FAST_LANE", ""), os.environ.get("ADVISORY", "")
    name, pinned, version = request.partition("==")
    checks = (expiring.package_name(name), version_problem(version) if pinned else None)
    problems = [f"FAST_LANE={request!r}: {problem}" for problem in checks if problem]
    if not pinned:
        problems.append(f"FAST_LANE={request!r}: name the fixed release, as NAME==VERSION")
    if problem := expiring.advisory_id(advisory):
        problems.append(f"ADVISORY={advisory!r}: {problem}")
    reason = os.environ.get("REASON") or f"Takes the fix for {advisory} before the cooldown ends"
    if problem := expiring.reason(reason):
        problems.append(f"REASON={reason!r}: {problem}")
    if not problems and any(
        expiring.canonical(str(e["package"])) == expiring.canonical(name) for e in entries
    ):
        problems.append(f"{FILE} already exempts {name}: edit that entry instead")
    if problems:
        fail([*problems, "usage: make lock FAST_LANE=NAME==VERSION ADVISORY=ID [REASON='...']"])
    document = expiring.read(FILE)[0] if FILE.exists() else {}
    max_days = expiring.max_days_of(document, FILE, days + 1)[0]
    expires = today + datetime.timedelta(days=max_days)
    entry = {"package": name, "version": version, "advisory": advisory, "reason": reason}
    entries.append(entry | {"expires": expires, "number": len(entries) + 1})
    text = FILE.read_text(encoding="utf-8") if FILE.exists() else HEADER
    lines = "".join(f"{key} = {toml_value(value)}\n" for key, value in entry.items())
    print(f"Fast lane: {name} {version} for {advisory}, until {expires} (in {FILE})")
    return f"{text.rstrip()}\n\n[[exemption]]\n{lines}expires = {expires}\n"


def moment(text: str) -> datetime.datetime:
    value = datetime.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock-tool", required=True, choices=["uv", "pdm", "poetry", "pip-tools"])
    parser.add_argument("--cooldown-days", type=int, required=True, help="the cooldown, in days")
    parser.add_argument("command", choices=["add", "sync", "check", "upgrades"])
    parser.add_argument("--now", type=moment, help="judge the entries as of this time (ISO 8601)")
    args = parser.parse_args()
    now = args.now or datetime.datetime.now(datetime.UTC)
    today = now.astimezone(datetime.UTC).date()
    days = args.cooldown_days
    entries, problems = load(today, days)
    if problems:
        fail(problems)
    if args.command == "upgrades":
        # Names and versions are checked (no spaces, quotes or shell characters).
        upgrades = [
            f"--upgrade-package={expiring.canonical(str(e['package']))}=={e['version']}"
            for e in entries
        ]
        print(" ".join(upgrades))
        return 0
    if args.command == "check":
        problems = check(args.lock_tool, entries, now, days)
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1 if problems else 0
    writes = {FILE: add(today, days, entries)} if args.command == "add" else {}
    sync(args.lock_tool, entries, writes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
