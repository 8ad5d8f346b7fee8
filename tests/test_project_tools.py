"""Scripts every project ships in tools/, exercised directly: the SPDX expressions the
admission policy applies, and how the audit reads a lock export (markers dropped, every
version of every package audited). The slow suite runs them inside generated projects."""

from __future__ import annotations

import datetime
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def load(name: str):
    qualified = f"project_tools_{name}"
    path = ROOT / "template" / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(qualified, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


admit, audit, expiring = load("admit"), load("audit"), load("expiring")
ALLOWED = {"mit", "bsd-3-clause", "apache-2.0"}


@pytest.mark.parametrize(
    ("expression", "passes"),
    [
        ("MIT", True),
        ("GPL-3.0-only", False),
        ("MIT OR GPL-3.0-only", True),
        ("MIT AND GPL-3.0-only", False),
        ("(MIT OR GPL-2.0-only) AND Apache-2.0", True),
        ("GPL-2.0-only OR (MIT AND LGPL-3.0-only)", False),
        ("Apache-2.0 WITH LLVM-exception", True),
        ("mit", True),
        ("", False),
    ],
)
def test_licence_expressions_follow_spdx_rules(expression, passes) -> None:
    assert admit.satisfied(expression, ALLOWED) is passes


def test_classifiers_map_to_every_licence_they_may_mean() -> None:
    info = {"classifiers": ["License :: OSI Approved :: BSD License"]}
    expression, source = admit.declared_license(info)
    assert source == "classifiers"
    assert admit.satisfied(expression, {"bsd-2-clause"})
    assert not admit.satisfied(expression, {"mit"})


EXPORT = """\
colorama==0.4.6 ; sys_platform == 'win32' \\
    --hash=sha256:aaa
numpy==1.26.4 ; python_full_version < '3.12' \\
    --hash=sha256:bbb
numpy==2.3.0 ; python_full_version >= '3.12' \\
    --hash=sha256:ccc
    # via demo
Jinja2==3.1.6 --hash=sha256:ddd
"""


def test_the_audit_covers_every_platform_and_every_locked_version(tmp_path: Path) -> None:
    export = tmp_path / "requirements.txt"
    export.write_text(EXPORT)
    rounds = audit.rounds(audit.locked_packages(export))
    assert rounds == [
        [
            "colorama==0.4.6 --hash=sha256:aaa",
            "numpy==1.26.4 --hash=sha256:bbb",
            "Jinja2==3.1.6 --hash=sha256:ddd",
        ],
        ["numpy==2.3.0 --hash=sha256:ccc"],
    ]


def test_the_audit_refuses_a_dependency_without_a_hash(tmp_path: Path) -> None:
    export = tmp_path / "requirements.txt"
    export.write_text("six==1.17.0\n")
    with pytest.raises(SystemExit, match="six has no hash"):
        audit.locked_packages(export)


TODAY = datetime.date(2026, 11, 25)
GOOD = 'id = "PYSEC-2019-217"\nreason = "Templates are trusted here"\nexpires = 2027-01-31\n'


def exception(**values: str) -> str:
    """One [[exception]] table: GOOD with some values replaced (TOML text) or dropped (None)."""
    lines = dict(line.split(" = ", 1) for line in GOOD.splitlines())
    lines.update(values)
    body = "".join(f"{key} = {value}\n" for key, value in lines.items() if value is not None)
    return f"[[exception]]\n{body}"


# (case, file content, what the problem says). Every entry problem names the file, the
# entry's number and, where it has one, its ID.
BAD_EXCEPTIONS = [
    (
        "far expiry",
        exception(expires="9999-12-31"),
        "#1 (PYSEC-2019-217): expires is 9999-12-31, more than 365 days from today (2026-11-25): choose a date no later than 2027-11-25",
    ),
    ("a day past the year", exception(expires="2027-11-26"), "more than 365 days"),
    (
        "past max-days",
        "max-days = 30\n" + exception(expires="2026-12-26"),
        "#1 (PYSEC-2019-217): expires is 2026-12-26, more than 30 days",
    ),
    (
        "max-days over the cap",
        "max-days = 3650\n" + exception(),
        "max-days must be a whole number of days from 1 to 365, not 3650",
    ),
    (
        "max-days zero",
        "max-days = 0\n" + exception(),
        "max-days must be a whole number of days from 1 to 365",
    ),
    ("max-days a string", 'max-days = "30"\n' + exception(), "not 30 (a string)"),
    ("max-days a boolean", "max-days = true\n" + exception(), "not True (a boolean)"),
    ("max-days a float", "max-days = 30.5\n" + exception(), "not 30.5 (a float)"),
    ("blank reason", exception(reason='"   "'), "#1 (PYSEC-2019-217): reason is empty"),
    ("empty reason", exception(reason='""'), "reason is empty"),
    (
        "two-word reason",
        exception(reason='"not exploitable"'),
        "reason 'not exploitable' is too short: say in at least 3 words",
    ),
    ("reason of punctuation", exception(reason='"- - - ok"'), "is too short"),
    (
        "reason not a string",
        exception(reason='["a", "b", "c"]'),
        "reason must be a string, not an array",
    ),
    (
        "reason with escapes",
        exception(reason='"hide \\u001b[2Kthis from view"'),
        "reason has control characters",
    ),
    ("integer id", exception(id="217"), "#1 (id = 217): id must be a string, not an integer"),
    ("table id", exception(id="{ x = 1 }"), "id must be a string, not a table"),
    ("empty id", exception(id='""'), "#1 (id = ''): id is empty"),
    ("blank id", exception(id='"  "'), "id is empty"),
    (
        "lowercase id",
        exception(id='"pysec-2019-217"'),
        "id must be written PYSEC-2019-217: the audit matches IDs exactly",
    ),
    (
        "uppercase GHSA",
        exception(id='"GHSA-462W-V97R-4M45"'),
        "id must be written GHSA-462w-v97r-4m45",
    ),
    (
        "GHSA of the wrong letters",
        exception(id='"GHSA-aaaa-bbbb-cccc"'),
        "is not an advisory ID: expected GHSA- and three groups",
    ),
    (
        "PYSEC without a year",
        exception(id='"PYSEC-217"'),
        "'PYSEC-217' is not an advisory ID: expected PYSEC-, a year and a number",
    ),
    (
        "non-ASCII digits",
        exception(id='"PYSEC-\u0662\u0660\u0661\u0669-217"'),
        "is not an advisory ID",
    ),
    ("CVE too short", exception(id='"CVE-2019-1"'), "is not an advisory ID"),
    (
        "a package name",
        exception(id='"jinja2"'),
        "'jinja2' is not an advisory ID: expected an uppercase prefix",
    ),
    ("an ID with spaces", exception(id='"PYSEC-2019-217 CVE-2019-10906"'), "is not an advisory ID"),
    (
        "date and time",
        exception(expires="2027-01-01T00:00:00"),
        "#1 (PYSEC-2019-217): expires must be a date such as 2027-01-31, without a time, not a date and time",
    ),
    ("offset date and time", exception(expires="2027-01-01T00:00:00Z"), "without a time"),
    (
        "a time",
        exception(expires="12:00:00"),
        "expires must be a date such as 2027-01-31, not a time",
    ),
    (
        "quoted date",
        exception(expires='"2027-01-31"'),
        "expires must be a date such as 2027-01-31, unquoted, not a string",
    ),
    ("integer expiry", exception(expires="20270131"), "not an integer"),
    (
        "missing keys",
        exception(reason=None, expires=None),
        "#1 (PYSEC-2019-217): lacks reason, expires",
    ),
    ("missing id", exception(id=None), "exception #1: lacks id"),
    ("unknown key", exception(note='"x"'), "unknown key 'note' (allowed: id, reason, expires)"),
    ("misspelt key", exception(reasons='"x"'), "did you mean 'reason'?"),
    (
        "unknown top-level key",
        'owner = "me"\n' + exception(),
        "unknown key 'owner' (allowed: max-days, exception)",
    ),
    (
        "misspelt table",
        exception().replace("[[exception]]", "[[exceptions]]"),
        "did you mean 'exception'?",
    ),
    (
        "one table",
        exception().replace("[[exception]]", "[exception]"),
        "exception must be a list of tables, each starting with [[exception]], not a table ([exception] makes one table)",
    ),
    (
        "an array of strings",
        'exception = ["PYSEC-2019-217"]\n',
        "exception must be a list of tables",
    ),
    ("a string", 'exception = "PYSEC-2019-217"\n', "not a string"),
    ("repeated", exception() + exception(), "#2 (PYSEC-2019-217): repeats exception #1"),
    (
        "expired today",
        exception(expires="2026-11-25"),
        "#1 (PYSEC-2019-217): expired on 2026-11-25: fix the vulnerability, or review the exception and give it a new expiry date (reason was: Templates are trusted here)",
    ),
    ("expired long ago", exception(expires="2020-01-01"), "expired on 2020-01-01"),
    (
        "second entry",
        exception(id='"CVE-2019-10906"') + exception(id='"PYSEC-2019"'),
        "exception #2 (PYSEC-2019): id 'PYSEC-2019' is not an advisory ID",
    ),
    (
        "invalid TOML",
        "[[exception]\nid = 1\n",
        "not valid TOML: Expected ']]' at the end of an array declaration (at line 1, column 12)",
    ),
    (
        "duplicate key",
        exception() + 'id = "CVE-2019-10906"\n',
        "not valid TOML: Cannot overwrite a value (at line 5",
    ),
    (
        "not UTF-8",
        exception(reason='"caf\xe9 templates are trusted"').encode("latin-1"),
        "not UTF-8 text (byte 0xe9 at offset",
    ),
    ("byte-order mark", b"\xef\xbb\xbf" + exception().encode(), "starts with a byte-order mark"),
    ("binary", b"\x00\x01\x02\xff", "not UTF-8 text (byte 0xff at offset 3)"),
]


@pytest.mark.parametrize(
    ("content", "problem"),
    [case[1:] for case in BAD_EXCEPTIONS],
    ids=[case[0] for case in BAD_EXCEPTIONS],
)
def test_a_bad_exceptions_file_fails_the_audit_naming_the_entry(
    tmp_path: Path, content, problem
) -> None:
    path = tmp_path / "audit-exceptions.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    _, problems = audit.load_exceptions(path, TODAY)
    assert any(problem in found for found in problems), problems
    assert all(found.startswith(f"{path}: ") for found in problems)


def test_only_the_entries_without_a_problem_count(tmp_path: Path) -> None:
    # Any problem fails the audit; meanwhile the good entries keep their vulnerabilities
    # out of the report, so that it shows only what needs attention.
    path = tmp_path / "audit-exceptions.toml"
    path.write_text(exception(id='"CVE-2019-10906"') + exception(reason='"ok"'))
    ignore, problems = audit.load_exceptions(path, TODAY)
    assert ignore == ["CVE-2019-10906"]
    assert len(problems) == 1 and "exception #2 (PYSEC-2019-217): reason 'ok'" in problems[0]


# (case, file content, the advisory IDs the audit then ignores).
GOOD_EXCEPTIONS = [
    ("no exceptions", "", []),
    ("the shipped file", (ROOT / "template" / "audit-exceptions.toml").read_text(), []),
    ("PYSEC", exception(), ["PYSEC-2019-217"]),
    ("GHSA", exception(id='"GHSA-462w-v97r-4m45"'), ["GHSA-462w-v97r-4m45"]),
    ("CVE", exception(id='"CVE-2019-10906"'), ["CVE-2019-10906"]),
    ("OSV", exception(id='"OSV-2021-1234"'), ["OSV-2021-1234"]),
    ("malicious-package ID", exception(id='"MAL-2024-1234"'), ["MAL-2024-1234"]),
    (
        "another OSV database",
        exception(id='"SNYK-PYTHON-LIBVCS-2421204"'),
        ["SNYK-PYTHON-LIBVCS-2421204"],
    ),
    ("expires tomorrow", exception(expires="2026-11-26"), ["PYSEC-2019-217"]),
    ("expires in exactly a year", exception(expires="2027-11-25"), ["PYSEC-2019-217"]),
    ("within max-days", "max-days = 30\n" + exception(expires="2026-12-25"), ["PYSEC-2019-217"]),
    ("max-days at the cap", "max-days = 365\n" + exception(), ["PYSEC-2019-217"]),
    (
        "multi-line reason",
        exception(reason='"""\nOnly our own templates;\n\tupgrade in #12\n"""'),
        ["PYSEC-2019-217"],
    ),
    (
        "inline tables",
        'exception = [{ id = "PYSEC-2019-217", reason = "our own templates only", expires = 2027-01-31 }]\n',
        ["PYSEC-2019-217"],
    ),
    ("two", exception() + exception(id='"PYSEC-2021-66"'), ["PYSEC-2019-217", "PYSEC-2021-66"]),
]


@pytest.mark.parametrize(
    ("content", "ignored"),
    [case[1:] for case in GOOD_EXCEPTIONS],
    ids=[case[0] for case in GOOD_EXCEPTIONS],
)
def test_a_good_exceptions_file_is_accepted(tmp_path: Path, capsys, content, ignored) -> None:
    path = tmp_path / "audit-exceptions.toml"
    path.write_text(content)
    assert audit.load_exceptions(path, TODAY) == (ignored, [])
    out = capsys.readouterr().out
    assert out.count("Accepted until ") == len(ignored)


def test_a_missing_exceptions_file_accepts_nothing(tmp_path: Path) -> None:
    assert audit.load_exceptions(tmp_path / "audit-exceptions.toml", TODAY) == ([], [])


def test_an_unreadable_exceptions_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "audit-exceptions.toml"
    path.mkdir()
    assert audit.load_exceptions(path, TODAY) == ([], [f"{path}: cannot read it: Is a directory"])


def dated(problem: str, day: datetime.date) -> str:
    """A problem from the table, as the script says it on `day` rather than on TODAY."""
    latest = TODAY + datetime.timedelta(days=365)
    return problem.replace(f"today ({TODAY})", f"today ({day})").replace(
        f"no later than {latest}", f"no later than {day + datetime.timedelta(days=365)}"
    )


@pytest.mark.parametrize(("content", "problem"), [case[1:] for case in BAD_EXCEPTIONS[::6]])
def test_the_audit_script_reports_a_bad_file_without_a_traceback(
    tmp_path: Path, content, problem
) -> None:
    # As projects run it: `python -I tools/audit.py`, which must find tools/expiring.py
    # itself. An empty export runs no pip-audit round.
    (tmp_path / "requirements.txt").write_text("")
    path = tmp_path / "audit-exceptions.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    script = ROOT / "template" / "tools" / "audit.py"
    days = {datetime.date.today()}
    result = subprocess.run(
        [sys.executable, "-I", str(script), "requirements.txt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    days.add(datetime.date.today())  # the run may cross midnight
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: audit-exceptions.toml: ")
    # The script reads the real date; the table's dates are TODAY's.
    expected = {dated(problem, day).replace(str(path), "audit-exceptions.toml") for day in days}
    assert any(text in result.stderr for text in expected), (expected, result.stderr)


def exemption(package: str, expires: str, advisory: str = "PYSEC-2019-217") -> str:
    return (
        f'[[exemption]]\npackage = "{package}"\nadvisory = "{advisory}"\n'
        f'reason = "Takes the fix before the cooldown ends"\nexpires = {expires}\n'
    )


@pytest.mark.parametrize(
    ("content", "in_force", "problem"),
    [
        (exemption("Jinja2", "2026-12-03"), ["Jinja2"], None),
        (exemption("jinja2", "2026-12-04"), [], "expires is 2026-12-04, more than 8 days"),
        ("max-days = 30\n" + exemption("jinja2", "2026-12-01"), ["jinja2"], "from 1 to 8, not 30"),
        ("max-days = 3\n" + exemption("jinja2", "2026-12-01"), [], "more than 3 days"),
        (
            exemption("Jinja2", "2026-12-01") + exemption("jinja_2", "2026-12-01"),
            ["Jinja2", "jinja_2"],
            None,
        ),
        (
            exemption("Zope.Interface", "2026-12-01") + exemption("zope_interface", "2026-12-01"),
            ["Zope.Interface"],
            "exemption #2 (zope_interface): repeats exemption #1",
        ),
        (exemption("jinja2 ", "2026-12-01"), [], "package 'jinja2 ' is not a valid package name"),
        (
            exemption("jinja2", "2026-12-01", advisory="CVE-2019"),
            [],
            "exemption #1 (jinja2): advisory 'CVE-2019' is not an advisory ID",
        ),
        (exemption("jinja2", "2026-11-25"), [], "expired on 2026-11-25: remove it"),
    ],
)
def test_the_reader_serves_other_files_with_their_own_keys_and_a_lower_cap(
    tmp_path: Path, content, in_force, problem
) -> None:
    # The cooldown's fast lane keeps its exemptions in the same format, capped at the
    # cooldown (7 days) and one more.
    path = tmp_path / "cooldown-exemptions.toml"
    path.write_text(content)
    entries, problems = expiring.load(
        path,
        table="exemption",
        keys={"package": expiring.package_name, "advisory": expiring.advisory_id},
        today=TODAY,
        renew="remove it",
        max_days=8,
    )
    assert [entry["package"] for entry in entries] == in_force
    if problem is None:
        assert problems == []
    else:
        assert any(problem in found for found in problems), problems


def test_the_audit_reports_advisories_whatever_timestamps_the_database_wrote(
    tmp_path: Path, osv
) -> None:
    # urllib3 1.26.0's advisories carry timestamps such as '2023-10-10 14:28:19.389317+00:00'
    # in the PyPA database; pip-audit reads only '%Y-%m-%dT%H:%M:%SZ' from an OSV service,
    # so the local service serves every advisory in that form, as api.osv.dev does.
    (tmp_path / "requirements.txt").write_text(f"urllib3==1.26.0 --hash=sha256:{'0' * 64}\n")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PIP_AUDIT_VULNERABILITY_SERVICE": "osv",
        "PIP_AUDIT_OSV_URL": osv.query_url,
    }
    script = ROOT / "template" / "tools" / "audit.py"
    result = subprocess.run(
        [sys.executable, "-I", str(script), "requirements.txt"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 1
    assert "PYSEC-2023-192" in result.stdout and "PYSEC-2023-212" in result.stdout
