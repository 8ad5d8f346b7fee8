"""Read a file of reviewed, expiring entries: audit-exceptions.toml and its kind.

Each entry is a TOML table in a list of tables, with the file's own keys (an advisory ID,
a package name ...) and two every entry has: `reason`, why the project accepts it, in a
few words; `expires`, an unquoted TOML date from which on it no longer counts:

    max-days = 365          # optional: the furthest expiry allowed, in days from today

    [[exception]]
    id = "PYSEC-2019-217"
    reason = "Only renders our own trusted templates; upgrade tracked in #12"
    expires = 2027-01-31

No entry may expire more than `max-days` days from today (365, the most allowed, unless
the file sets fewer), so every entry is reviewed again within that time. The reading is
strict: an unknown key, a missing or empty value, a date and time where a date is
expected, a table where a list of tables is expected, or a file that is not UTF-8 TOML is
a problem, named with the file, the entry's number and its ID; the caller fails on any.
"""

from __future__ import annotations

import datetime
import difflib
import re
import tomllib
from collections.abc import Callable
from pathlib import Path

MAX_DAYS = 365
MIN_REASON_WORDS = 3
MAX_DAYS_KEY = "max-days"

# The IDs vulnerability services report, and pip-audit's --ignore-vuln compares exactly
# (case matters; ASCII digits only): PyPI's advisory database, GitHub's, CVE, and OSV's
# other databases (PREFIX-..., such as MAL-2024-123 or SNYK-PYTHON-X-123).
ADVISORY_SHAPES = {
    "PYSEC": re.compile(r"PYSEC-\d{4}-\d+", re.ASCII),
    "GHSA": re.compile(r"GHSA(-[23456789cfghjmpqrvwx]{4}){3}", re.ASCII),
    "CVE": re.compile(r"CVE-\d{4}-\d{4,}", re.ASCII),
    "OSV": re.compile(r"OSV-\d{4}-\d+", re.ASCII),
    "MAL": re.compile(r"MAL-\d{4}-\d+", re.ASCII),
    "PSF": re.compile(r"PSF-\d{4}-\d+", re.ASCII),
    "GSD": re.compile(r"GSD-\d{4}-\d+", re.ASCII),
}
OTHER_ADVISORY = re.compile(r"[A-Z][A-Z0-9]{1,15}(-[A-Za-z0-9._]+)+", re.ASCII)
ADVISORY_EXAMPLES = "PYSEC-2019-217, GHSA-462w-v97r-4m45, CVE-2019-10906"
PACKAGE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", re.ASCII)

# A check of one value: the problem with it, or None.
Check = Callable[[object], "str | None"]


def kind(value: object) -> str:
    """What a TOML value is, in TOML's words."""
    for python_type, name in (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (datetime.datetime, "a date and time"),
        (datetime.date, "a date"),
        (datetime.time, "a time"),
        (list, "an array"),
        (dict, "a table"),
    ):
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def shown(value: object) -> str:
    """A value as an error message may print it: printable text as is, anything else quoted."""
    if isinstance(value, str) and value.isprintable():
        return value
    return repr(value)


def text(value: object) -> str | None:
    """The problem with a value that must be a non-blank string of printable text."""
    if not isinstance(value, str):
        return f"must be a string, not {kind(value)}"
    if not value.strip():
        return "is empty"
    if any(not (c.isprintable() or c in "\n\t") for c in value):
        return f"has control characters: {value!r}"
    return None


def advisory_id(value: object) -> str | None:
    """An advisory ID as the vulnerability service spells it."""
    if problem := text(value):
        return problem
    value = str(value)
    prefix, _, rest = value.partition("-")
    shape = ADVISORY_SHAPES.get(prefix.upper(), OTHER_ADVISORY)
    if shape.fullmatch(value):
        return None
    spelling = prefix.upper() + "-" + (rest.lower() if prefix.upper() == "GHSA" else rest.upper())
    if shape.fullmatch(spelling):
        return f"must be written {spelling}: the audit matches IDs exactly, case included"
    if prefix.upper() == "GHSA":
        expected = "GHSA- and three groups of four lowercase letters or digits"
    elif prefix.upper() in ADVISORY_SHAPES:
        expected = f"{prefix.upper()}-, a year and a number"
    else:
        expected = f"an uppercase prefix, a dash and the rest, such as {ADVISORY_EXAMPLES}"
    return f"{value!r} is not an advisory ID: expected {expected}"


def package_name(value: object) -> str | None:
    """A distribution name that is valid on PyPI."""
    if problem := text(value):
        return problem
    if PACKAGE.fullmatch(str(value)):
        return None
    return f"{value!r} is not a valid package name"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def reason(value: object) -> str | None:
    """Why the project accepts the entry: a few words at least."""
    if problem := text(value):
        return problem
    words = [word for word in str(value).split() if any(c.isalnum() for c in word)]
    if len(words) < MIN_REASON_WORDS:
        return (
            f"{str(value).strip()!r} is too short: say in at least {MIN_REASON_WORDS} words "
            "why the project accepts it and what it waits for"
        )
    return None


def expiry(value: object, today: datetime.date, max_days: int) -> str | None:
    """A date, no later than max_days from today (an earlier one is checked afterwards)."""
    if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
        hint = ""
        if isinstance(value, str):
            hint = ", unquoted"
        elif isinstance(value, datetime.datetime):
            hint = ", without a time"
        return f"must be a date such as 2027-01-31{hint}, not {kind(value)}"
    latest = today + datetime.timedelta(days=max_days)
    if value > latest:
        return (
            f"is {value}, more than {max_days} days from today ({today}): "
            f"choose a date no later than {latest}"
        )
    return None


def read(path: Path) -> tuple[dict[str, object], str | None]:
    """The file's TOML document, or the problem that stops it being read."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        return {}, f"{path}: cannot read it: {error.strerror or error}"
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return {}, (
            f"{path}: not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}): "
            "save it as UTF-8"
        )
    if content.startswith("\ufeff"):
        return {}, f"{path}: starts with a byte-order mark: save it as UTF-8 without one"
    try:
        return tomllib.loads(content), None
    except tomllib.TOMLDecodeError as error:
        return {}, f"{path}: not valid TOML: {error}"


def unknown(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r} (allowed: {', '.join(allowed)}){hint}"


def max_days_of(document: dict[str, object], path: Path, cap: int) -> tuple[int, str | None]:
    value = document.get(MAX_DAYS_KEY, cap)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= cap:
        return cap, (
            f"{path}: {MAX_DAYS_KEY} must be a whole number of days from 1 to {cap}, "
            f"not {shown(value)} ({kind(value)}); checking against {cap}"
        )
    return value, None


def load(
    path: Path,
    *,
    table: str,
    keys: dict[str, Check],
    today: datetime.date,
    renew: str,
    max_days: int = MAX_DAYS,
) -> tuple[list[dict[str, object]], list[str]]:
    """Return (the entries in force, problems). A missing file has no entries.

    `table` names the list of tables; `keys` maps each key an entry needs, besides reason
    and expires, to its check; the first of them names the entry in messages and must be
    unique. An entry with any problem is not in force; nor is an expired one, which is a
    problem too, with `renew` telling what to do about it. `max_days` caps the expiry; the
    file's own `max-days` may lower it, never raise it.
    """
    if not path.exists():
        return [], []
    document, problem = read(path)
    if problem:
        return [], [problem]
    top = [MAX_DAYS_KEY, table]
    problems = [f"{path}: {unknown(key, top)}" for key in document if key not in top]
    max_days, problem = max_days_of(document, path, max_days)
    if problem:
        problems.append(problem)
    entries = document.get(table, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        single = f" ([{table}] makes one table)" if isinstance(entries, dict) else ""
        problems.append(
            f"{path}: {table} must be a list of tables, each starting with [[{table}]], "
            f"not {kind(entries)}{single}"
        )
        return [], problems
    checks: dict[str, Check] = {
        **keys,
        "reason": reason,
        "expires": lambda value: expiry(value, today, max_days),
    }
    allowed = list(checks)
    label_key = next(iter(keys))
    in_force: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries, start=1):
        label = entry.get(label_key)
        where = f"{path}: {table} #{number}"
        if isinstance(label, str) and label.strip():
            where += f" ({shown(label)})"
        elif label_key in entry:
            where += f" ({label_key} = {label!r})"
        found = [unknown(key, allowed) for key in entry if key not in allowed]
        missing = [key for key in allowed if key not in entry]
        if missing:
            found.append(f"lacks {', '.join(missing)}")
        for key, check in checks.items():
            if key in entry and (problem := check(entry[key])):
                found.append(f"{key} {problem}")
        if not found:
            name = canonical(str(label))
            if name in seen:
                found.append(f"repeats {table} #{seen[name]}: keep one entry for it")
            seen.setdefault(name, number)
        if not found and entry["expires"] <= today:  # type: ignore[operator]
            said = " ".join(str(entry["reason"]).split())
            found.append(f"expired on {entry['expires']}: {renew} (reason was: {said})")
        problems += [f"{where}: {problem}" for problem in found]
        if not found:
            in_force.append({key: entry[key] for key in allowed} | {"number": number})
    return in_force, problems
