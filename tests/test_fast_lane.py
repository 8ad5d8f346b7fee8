"""A security fix need not wait out the cooldown: `make lock FAST_LANE=NAME==VERSION
ADVISORY=ID` records that one release in cooldown-exemptions.toml, expiring when the
cooldown admits it anyway, and writes uv's, PDM's or Poetry's own settings from it (pip-tools
compiles a second time, upgrading only that release); the lock check (so CI) fails once an
entry expires, goes stale or its settings drift, and bad input is refused with nothing
written.

tools/cooldown.py runs here as projects run it (`python -I`, next to tools/expiring.py), in
rendered projects, on lock files the tests write; the slow test locks for real.
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.projects import admit, locked_packages, make, set_dependencies

COOLDOWN_DAYS = 7
NOW = "2019-04-07T12:00:00Z"  # jinja2 2.10.1 (the fix for PYSEC-2019-217) is a day old
FIX = {"FAST_LANE": "Jinja2==2.10.1", "ADVISORY": "PYSEC-2019-217"}
FAST_LANE_TOOLS = ["uv", "pdm", "poetry", "pip-tools"]

# What `sync` writes between the markers, per lock tool and file, for FIX.
SETTINGS = {
    "uv": {
        "pyproject.toml": [
            "exclude-newer-package = { jinja2 = false }",
            'constraint-dependencies = ["jinja2==2.10.1"]',
        ]
    },
    "pdm": {
        "pyproject.toml": [
            "exclude-newer-override = { jinja2 = false }",
            'overrides = { jinja2 = "==2.10.1" }',
        ]
    },
    "poetry": {
        "poetry.toml": ['min-release-age-exclude = ["jinja2"]'],
        "pyproject.toml": ['fast-lane = ["jinja2==2.10.1"]'],
    },
    "pip-tools": {},  # the Makefile compiles again with `upgrades`
}
# Where the lock tool reads them.
TABLES = {
    ("uv", "pyproject.toml"): ("tool", "uv"),
    ("pdm", "pyproject.toml"): ("tool", "pdm", "resolution"),
    ("poetry", "poetry.toml"): ("solver",),
    ("poetry", "pyproject.toml"): ("dependency-groups",),
}
LOCK_FILES = {
    "uv": "uv.lock",
    "pdm": "pdm.lock",
    "poetry": "poetry.lock",
    "pip-tools": "requirements/main.txt",
}
BEGIN = "# BEGIN fast lane: tools/cooldown.py writes these lines from cooldown-exemptions.toml"
END = "# END fast lane"


def write_lock(project: Path, tool: str, version: str) -> None:
    """A lock holding jinja2 at `version`; uv's records upload times (2.10.1's: 2019-04-06)."""
    if tool == "pip-tools":
        (project / "requirements" / "dev.txt").write_text("idna==3.20 \\\n    --hash=sha256:0\n")
        (project / LOCK_FILES[tool]).write_text(f"jinja2=={version} \\\n    --hash=sha256:0\n")
        return
    times = ', upload-time = "2019-04-06T19:00:02Z"' if tool == "uv" else ""
    sdist = f'sdist = {{ url = "https://example.invalid/j.tar.gz"{times} }}\n'
    text = f'[[package]]\nname = "jinja2"\nversion = "{version}"\n' + (
        sdist if tool == "uv" else ""
    )
    (project / LOCK_FILES[tool]).write_text(text)


@pytest.fixture
def project(render, fresh_copy, request) -> Path:
    tool = getattr(request, "param", "uv")
    copy = fresh_copy(render(lock_tool=tool))
    write_lock(copy, tool, "2.10.1")
    return copy


def cooldown(
    project: Path, tool: str, command: str, now: str = NOW, **env: str
) -> subprocess.CompletedProcess[str]:
    args = ["--lock-tool", tool, "--cooldown-days", str(COOLDOWN_DAYS), "--now", now, command]
    environment = {k: v for k, v in os.environ.items() if k not in ("FAST_LANE", "ADVISORY")}
    return subprocess.run(
        [sys.executable, "-I", "tools/cooldown.py", *args],
        cwd=project,
        env=environment | env,
        capture_output=True,
        text=True,
        check=False,
    )


def block(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    return lines[lines.index(BEGIN) + 1 : lines.index(END)]


def snapshot(project: Path) -> dict[str, bytes]:
    return {str(p.relative_to(project)): p.read_bytes() for p in project.rglob("*") if p.is_file()}


def tool_of(project: Path) -> str:
    return next(tool for tool, lock in LOCK_FILES.items() if (project / lock).exists())


@pytest.mark.parametrize("project", FAST_LANE_TOOLS, indirect=True)
def test_a_fix_is_recorded_with_its_expiry_and_becomes_the_lock_tools_settings(project) -> None:
    tool = tool_of(project)
    done = cooldown(project, tool, "add", **FIX)
    assert done.returncode == 0, done.stderr
    (entry,) = tomllib.loads((project / "cooldown-exemptions.toml").read_text())["exemption"]
    assert entry == {
        "package": "Jinja2",
        "version": "2.10.1",
        "advisory": "PYSEC-2019-217",
        "reason": "Takes the fix for PYSEC-2019-217 before the cooldown ends",
        "expires": datetime.date(2019, 4, 15),  # the cooldown and a day
    }
    for name, lines in SETTINGS[tool].items():
        assert block(project / name) == lines, name
        document = tomllib.loads((project / name).read_text())
        for key in TABLES[tool, name]:
            document = document[key]
        assert {line.split(" = ")[0] for line in lines} <= set(document), name
    assert cooldown(project, tool, "check").returncode == 0
    again = cooldown(project, tool, "sync")
    assert (again.returncode, again.stdout) == (0, ""), "in step already: nothing written"


@pytest.mark.parametrize("project", FAST_LANE_TOOLS, indirect=True)
def test_deleting_the_entry_restores_the_lock_tools_settings(project) -> None:
    tool = tool_of(project)
    before = snapshot(project)
    assert cooldown(project, tool, "add", **FIX).returncode == 0
    assert snapshot(project) != before
    exemptions = project / "cooldown-exemptions.toml"
    exemptions.write_bytes(before["cooldown-exemptions.toml"])
    assert cooldown(project, tool, "sync").returncode == 0
    assert snapshot(project) == before


@pytest.mark.parametrize(
    ("request_env", "message"),
    [
        (
            {"FAST_LANE": "jinja2", "ADVISORY": "PYSEC-2019-217"},
            "name the fixed release, as NAME==VERSION",
        ),
        (
            {"FAST_LANE": "jinja2==2.10.*", "ADVISORY": "PYSEC-2019-217"},
            "not an exact release version",
        ),
        (
            {"FAST_LANE": "jinja2==2.10.1", "ADVISORY": "pysec-2019-217"},
            "must be written PYSEC-2019-217",
        ),
        ({"FAST_LANE": "jinja2==2.10.1"}, "ADVISORY=''"),
        ({**FIX, "REASON": "urgent"}, "REASON='urgent'"),
    ],
)
def test_a_bad_request_is_refused_and_nothing_is_written(project, request_env, message) -> None:
    before = snapshot(project)
    done = cooldown(project, "uv", "add", **request_env)
    assert done.returncode == 2
    assert message in done.stderr, done.stderr
    assert "usage: make lock FAST_LANE=NAME==VERSION ADVISORY=ID" in done.stderr
    assert snapshot(project) == before


ENTRY = """
[[exemption]]
package = "jinja2"
version = "2.10.1"
advisory = "PYSEC-2019-217"
reason = "Takes the fix before the cooldown ends"
expires = 2019-04-15
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[exemption]\n", "cooldown-exemptions.toml: not valid TOML"),
        (ENTRY.replace("version =", "versoin ="), "unknown key 'versoin'"),
        (ENTRY.replace('"2.10.1"', '">=2.10.1"'), "not an exact release version"),
        (ENTRY.replace("2019-04-15", "2019-05-01"), "choose a date no later than 2019-04-15"),
        (ENTRY.replace("2019-04-15", "2019-04-07"), "expired on 2019-04-07"),
        (ENTRY.replace("[[exemption]]", "[exemption]"), "exemption must be a list of tables"),
        (ENTRY + ENTRY, "repeats exemption #1"),
    ],
)
def test_a_malformed_exemptions_file_is_refused_and_nothing_is_written(
    project, text, message
) -> None:
    (project / "cooldown-exemptions.toml").write_text(text)
    before = snapshot(project)
    for command in ("sync", "add"):
        done = cooldown(project, "uv", command, **FIX)
        assert done.returncode == 2, command
        assert message in done.stderr, done.stderr
        assert snapshot(project) == before


def test_a_fast_lane_block_outside_its_table_is_refused(project) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace(f"{BEGIN}\n{END}\n", "")
    pyproject.write_text(f"{text}\n[tool.other]\n{BEGIN}\n{END}\n")
    before = snapshot(project)
    done = cooldown(project, "uv", "add", **FIX)
    assert done.returncode == 2
    assert "the fast-lane block in pyproject.toml must sit inside [tool.uv]" in done.stderr
    assert snapshot(project) == before
    pyproject.write_text(text)
    done = cooldown(project, "uv", "add", **FIX)
    assert done.returncode == 2
    assert "pyproject.toml needs exactly one fast-lane block" in done.stderr


def test_the_lock_check_fails_on_drift_a_stale_entry_and_expiry(project) -> None:
    assert cooldown(project, "uv", "add", **FIX).returncode == 0
    pyproject = project / "pyproject.toml"
    synced = pyproject.read_text()

    pyproject.write_text(synced.replace('"jinja2==2.10.1"', '"jinja2==2.10.2"'))
    done = cooldown(project, "uv", "check")
    assert done.returncode == 1
    assert "pyproject.toml: the fast lane differs from cooldown-exemptions.toml" in done.stderr
    pyproject.write_text(synced)

    write_lock(project, "uv", "2.10")
    done = cooldown(project, "uv", "check")
    assert done.returncode == 1
    assert "the lock has jinja2 at 2.10, not 2.10.1" in done.stderr
    write_lock(project, "uv", "2.10.1")

    # uv.lock records upload times: a week after the upload, the cooldown admits it.
    assert cooldown(project, "uv", "check", now="2019-04-13T12:00:00Z").returncode == 0
    done = cooldown(project, "uv", "check", now="2019-04-14T00:00:00Z")
    assert done.returncode == 1
    assert "jinja2 2.10.1 is older than the 7-day cooldown" in done.stderr

    done = cooldown(project, "uv", "check", now="2019-04-15T00:00:00Z")
    assert done.returncode == 2
    assert "exemption #1 (Jinja2): expired on 2019-04-15" in done.stderr
    assert "delete this entry and run `make lock`" in done.stderr


# -- with the real lock tools, on PyPI ----------------------------------------------------
# packaging 26.4 was uploaded on 2026-11-23, 26.3 in August. With the cooldown's cut-off
# fixed at 2026-11-18 (a week before AS_OF), 26.4 is too new; the advisory ID is made up:
# the fast lane records it, it does not look it up.
CUTOFF = datetime.datetime(2026, 11, 18, tzinfo=datetime.UTC)
AS_OF = "AS_OF=2026-11-25T12:00:00Z"
LATE_FIX = ["FAST_LANE=packaging==26.4", "ADVISORY=PYSEC-2026-1"]


def fix_the_cutoff(project: Path, tool: str) -> None:
    """The lock tool's cooldown as of CUTOFF, whatever the day the test runs."""
    moment = f"{CUTOFF:%Y-%m-%dT%H:%M:%SZ}"
    times = 1
    if tool == "poetry":  # Poetry counts whole days back from the moment it runs
        days = (datetime.datetime.now(datetime.UTC) - CUTOFF).days + 1
        path, pattern, setting = project / "poetry.toml", r"(?m)^min-release-age = \d+$", days
        line = f"min-release-age = {setting}"
    elif tool == "pip-tools":
        path, pattern = project / "Makefile", r"PIP_UPLOADED_PRIOR_TO=P\d+D"
        line, times = f"PIP_UPLOADED_PRIOR_TO={moment}", 2
    else:
        path, pattern = project / "pyproject.toml", r'(?m)^exclude-newer = "[^"]*"$'
        line = f'exclude-newer = "{moment}"'
    text, count = re.subn(pattern, line, path.read_text())
    assert count == times, path
    path.write_text(text)


@pytest.mark.slow
@pytest.mark.parametrize(
    "tool", [pytest.param(t, marks=pytest.mark.xdist_group(f"lock-{t}")) for t in FAST_LANE_TOOLS]
)
def test_make_lock_takes_only_the_fix_past_the_cooldown_until_it_expires(
    tool, lock_project, project_copy, project_env, package_index
) -> None:
    project = project_copy(lock_project(tool))
    set_dependencies(project, ["packaging>=26"])
    fix_the_cutoff(project, tool)
    for lock in ("requirements/main.txt", "requirements/dev.txt", LOCK_FILES[tool]):
        (project / lock).unlink(missing_ok=True)  # resolved afresh: no locked version to prefer
    make(project, project_env, "lock", AS_OF)
    before = locked_packages(project)
    assert before["packaging"] == {"26.3"}, "the cooldown holds 26.4 back"

    make(project, project_env, "lock", *LATE_FIX, AS_OF)
    after = locked_packages(project)
    assert after["packaging"] == {"26.4"}
    assert {k: v for k, v in after.items() if k != "packaging"} == {
        k: v for k, v in before.items() if k != "packaging"
    }, "everything else still waits"
    (entry,) = tomllib.loads((project / "cooldown-exemptions.toml").read_text())["exemption"]
    assert entry["expires"] == datetime.date(2026, 12, 3)
    if tool == "pip-tools":  # the header's command stays one the dependency bots re-run
        header = (project / "requirements" / "main.txt").read_text().split("\npackaging")[0]
        assert "uploaded-prior-to" not in header and "upgrade-package" not in header, header
    # Admission takes the same decision: the exempted release passes the release-age rule
    # (two days old against seven) until the exemption expires; nothing else is relaxed.
    admitted = admit(project, project_env, package_index)
    assert "taken before the cooldown ended" in admitted.stdout + admitted.stderr
    record = tomllib.loads((project / "dependency-admissions.toml").read_text())
    (fix,) = [e for e in record["distribution"] if e["name"] == "packaging"]
    assert (fix["version"], fix["basis"]) == ("26.4", f"fast-lane:{entry['advisory']}")
    make(project, project_env, "lock-check", AS_OF)

    expired = make(project, project_env, "lock-check", "AS_OF=2026-12-03T00:00:00Z", check=False)
    assert expired.returncode != 0
    assert "exemption #1 (packaging): expired on 2026-12-03" in expired.stderr, expired.stderr


@pytest.mark.parametrize("project", ["pip-tools"], indirect=True)
def test_pip_tools_compiles_again_upgrading_only_the_exempt_release(project) -> None:
    assert cooldown(project, "pip-tools", "upgrades").stdout == "\n"
    assert cooldown(project, "pip-tools", "add", **FIX).returncode == 0
    upgrades = cooldown(project, "pip-tools", "upgrades")
    assert (upgrades.returncode, upgrades.stdout) == (0, "--upgrade-package=jinja2==2.10.1\n")
    write_lock(project, "pip-tools", "2.10")
    done = cooldown(project, "pip-tools", "check")
    assert done.returncode == 1
    assert "the lock has jinja2 at 2.10, not 2.10.1" in done.stderr
