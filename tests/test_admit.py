"""tools/admit.py (dependency admission) against a local index of recorded real PyPI data.

The index (tests/index_server.py) serves the JSON, simple and integrity APIs from
tests/data/ (see its README): real metadata recorded from PyPI, and real PEP 740
provenance that verifies offline against the Sigstore trust root sigstore ships. Negative
cases are the real data changed by the server's hooks, or a hand-written record entry,
each said so where it is made. admit.py runs in-process (its `main`), with "now" pinned
to the day the data was recorded; one test runs it as the Makefile will, `python -I`.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.util
import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.index_server import NOW, IndexServer, recorded

ROOT = Path(__file__).resolve().parents[1]
ADMIT = ROOT / "template" / "tools" / "admit.py"
LOCKS = ROOT / "tests" / "data" / "locks"
TODAY = NOW.date()

PERMISSIVE = [
    "0BSD",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "HPND",
    "ISC",
    "MIT",
    "MIT-0",
    "MPL-2.0",
    "PSF-2.0",
    "Unlicense",
]
POLICY = f"""\
[licenses]
runtime = {json.dumps(PERMISSIVE)}
dev = {json.dumps([*PERMISSIVE, "GPL-2.0-or-later", "GPL-3.0-or-later"])}
"""
# Files with real provenance on the local index, and who published them.
GITHUB_SDIST = "pypi_attestations-0.0.19.tar.gz"
GITHUB = {
    "kind": "GitHub",
    "repository": "trailofbits/pypi-attestations",
    "workflow": "release.yml",
}
GITLAB = {
    "kind": "GitLab",
    "repository": "facutuesca/gitlab-oidc-project",
    "workflow": ".gitlab-ci.yml",
}
GOOGLE = {"kind": "Google", "repository": "919436158236-compute@developer.gserviceaccount.com"}


def load_admit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("admit_tool", ADMIT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["admit_tool"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


admit_tool = load_admit()


def requirement(name: str, version: str, *, only: str | None = None) -> str:
    """A hashed requirement for a recorded release: all its files, or the one named."""
    files = recorded(name)["releases"][version]
    hashes = [f["digests"]["sha256"] for f in files if only in (None, f["filename"])]
    assert hashes, f"no file {only} in {name} {version}"
    return f"{name}=={version} " + " ".join(f"--hash=sha256:{h}" for h in sorted(hashes))


def sdist(name: str, version: str) -> str:
    (found,) = [
        f["filename"] for f in recorded(name)["releases"][version] if f["packagetype"] == "sdist"
    ]
    return requirement(name, version, only=found)


class Project:
    """A folder with a lock export, a policy and a record, and admit.py to run in it."""

    def __init__(self, root: Path, index: IndexServer, capsys: pytest.CaptureFixture[str]) -> None:
        self.root, self.index, self.capsys = root, index, capsys
        self.policy = root / "dependency-policy.toml"
        self.record = root / "dependency-admissions.toml"
        self.policy.write_text(POLICY)

    def lock(self, runtime: list[str], dev: list[str] = ()) -> None:
        (self.root / "all.txt").write_text("\n".join([*runtime, *dev]) + "\n")
        (self.root / "runtime.txt").write_text("\n".join(runtime) + "\n")

    def run(self, command: str, *extra: str, index: bool = True) -> tuple[int, str, str]:
        argv = [command]
        if command in ("admit", "check"):
            argv += [str(self.root / "all.txt"), "--runtime", str(self.root / "runtime.txt")]
        argv += [
            "--policy",
            str(self.policy),
            "--record",
            str(self.record),
            "--now",
            NOW.isoformat(),
        ]
        argv += ["--legacy-policy", str(self.root / "license-policy.toml")]
        if index and command != "check":
            argv += ["--index-url", self.index.simple_url]
        self.capsys.readouterr()
        code = admit_tool.main([*argv, *extra])
        out, err = self.capsys.readouterr()
        return code, out, err

    def entries(self) -> dict[str, dict]:
        data = tomllib.loads(self.record.read_text())
        return {f"{e['name']} {e['version']}": e for e in data["distribution"]}


@pytest.fixture
def index() -> Iterator[IndexServer]:
    with IndexServer() as server:
        yield server


@pytest.fixture
def project(tmp_path: Path, index: IndexServer, capsys, monkeypatch) -> Project:
    for variable in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path, index, capsys)


def only_metadata(index: IndexServer) -> None:
    kinds = index.count()
    assert kinds["files"] == 0, "a distribution was downloaded"
    assert set(kinds) <= {"json", "simple", "integrity"}, kinds


# -- admission ---------------------------------------------------------------------------
def test_attested_dependencies_are_admitted_with_their_verified_publishers(project) -> None:
    project.lock(
        runtime=[
            sdist("pypi-attestations", "0.0.19"),  # GitHub, PyPI's real provenance
            sdist("pypi-attestation-models", "0.0.4a2"),  # GitHub, a real Sigstore bundle
            requirement("gitlab-oidc-project", "0.0.3"),  # GitLab (synthetic project JSON)
        ],
        dev=[requirement("gcb-attestation-test", "0.0.0")],  # Google Cloud
    )
    # gcb-attestation-test declares no licence at all: a reviewed exception accepts it.
    project.policy.write_text(
        POLICY
        + f"""
[[exception]]
package = "gcb-attestation-test"
rule = "license"
reason = "Test fixture of pypi-attestations; no licence metadata, used only in CI"
approver = "Security Team <security@example.org>"
expires = {TODAY + datetime.timedelta(days=30)}
"""
    )
    code, _, err = project.run("admit")
    assert code == 0, err
    entries = project.entries()
    assert entries["pypi-attestations 0.0.19"]["publisher"] == GITHUB
    assert entries["pypi-attestations 0.0.19"]["provenance"] == "verified"
    assert entries["pypi-attestations 0.0.19"]["license"] == "Apache-2.0"
    assert entries["pypi-attestations 0.0.19"]["uploaded"] == datetime.datetime(
        2024, 12, 4, 23, 14, 4, tzinfo=datetime.UTC
    )
    assert entries["pypi-attestations 0.0.19"]["basis"] == "policy"
    assert entries["pypi-attestation-models 0.0.4a2"]["publisher"]["repository"] == (
        "trailofbits/pypi-attestation-models"
    )
    assert entries["gitlab-oidc-project 0.0.3"]["publisher"] == GITLAB
    gcb = entries["gcb-attestation-test 0.0.0"]
    assert gcb["publisher"] == GOOGLE
    assert (gcb["scope"], gcb["basis"], gcb["exceptions"]) == ("dev", "exception", ["license"])
    assert entries["pypi-attestations 0.0.19"]["admitted"] == TODAY
    only_metadata(project.index)
    assert project.index.count("integrity") == 4
    assert project.run("check")[0] == 0


def test_a_gpl_only_runtime_dependency_is_refused_from_metadata_alone(project) -> None:
    project.lock(runtime=[requirement("unidecode", "1.4.0"), requirement("six", "1.17.0")])
    code, _, err = project.run("admit")
    assert code == 1
    refusals = [line for line in err.splitlines() if line.startswith("refused: ")]
    assert refusals == [
        "refused: unidecode 1.4.0: license: GPL-2.0-or-later (classifiers) is not in "
        "[licenses] runtime; to accept it, add an [[exception]] to "
        f'{project.policy} with package = "unidecode", rule = "license", a reason, an '
        "approver and expires"
    ]
    assert set(project.entries()) == {"six 1.17.0"}, "what passed is recorded, nothing else"
    only_metadata(project.index)
    assert project.index.count("integrity") == 0  # the simple API said: no provenance
    code, _, err = project.run("check")
    assert code == 1
    assert "error: unidecode 1.4.0: not admitted (new)" in err
    assert "run `make admit`" in err


def test_a_gpl_only_dev_tool_is_admitted_under_the_dev_licences(project) -> None:
    project.lock(runtime=[], dev=[requirement("unidecode", "1.4.0")])
    code, _, err = project.run("admit")
    assert code == 0, err
    assert project.entries()["unidecode 1.4.0"]["scope"] == "dev"
    # A dev tool that becomes a runtime dependency is checked again.
    project.lock(runtime=[requirement("unidecode", "1.4.0")])
    code, _, err = project.run("check")
    assert code == 1
    assert "admitted as a dev dependency, locked as runtime" in err
    assert project.run("admit")[0] == 1


def test_the_example_lock_of_53_distributions_is_admitted_then_checked_offline(project) -> None:
    (project.root / "all.txt").write_text((LOCKS / "example-all.txt").read_text())
    (project.root / "runtime.txt").write_text((LOCKS / "example-runtime.txt").read_text())
    code, out, err = project.run("admit")
    assert code == 0, err
    assert "53 admitted, 0 refused" in out
    assert len(project.entries()) == 53
    requests = project.index.count()
    only_metadata(project.index)
    assert "warning: rich 13.9.4: no PEP 740 provenance on the index" in err
    assert "warning: pypi-attestations 0.0.19: provenance for 1 of 2 locked files only" in err
    # Warm: nothing to fetch, the record is unchanged byte for byte.
    before = project.record.read_bytes()
    code, out, _ = project.run("admit")
    assert (code, project.record.read_bytes()) == (0, before)
    assert "0 index requests" in out
    assert project.index.count() == requests
    assert project.run("check")[0] == 0


def test_a_young_release_is_refused(project) -> None:
    project.lock(runtime=[requirement("rich", "13.9.4")])
    # Synthetic: rich 13.9.4's real upload times moved to two days before "now".
    project.index.young["rich", "13.9.4"] = datetime.timedelta(days=2)
    code, _, err = project.run("admit")
    assert code == 1
    assert (
        "refused: rich 13.9.4: release-age: uploaded 2026-11-23T00:00Z, less than 7 days ago" in err
    )


# -- the cooldown's fast lane ------------------------------------------------------------
def fast_lane_entry(expires: datetime.date, version: str = "13.9.4") -> str:
    return f"""\
[[exemption]]
package = "rich"
version = "{version}"
advisory = "PYSEC-2019-217"
reason = "Fixes a vulnerability we are exposed to"
expires = {expires.isoformat()}
"""


def test_a_young_release_taken_through_the_fast_lane_is_admitted_naming_the_advisory(
    project,
) -> None:
    project.lock(runtime=[requirement("rich", "13.9.4")])
    project.index.young["rich", "13.9.4"] = datetime.timedelta(days=2)
    (project.root / "cooldown-exemptions.toml").write_text(
        fast_lane_entry(TODAY + datetime.timedelta(days=6))
    )
    code, _, err = project.run("admit", "--cooldown-days", "7")
    assert code == 0, err
    assert "taken before the cooldown ended for PYSEC-2019-217" in err
    assert project.entries()["rich 13.9.4"]["basis"] == "fast-lane:PYSEC-2019-217"


def test_the_fast_lane_covers_only_the_exempted_version(project) -> None:
    project.lock(runtime=[requirement("rich", "13.9.4")])
    project.index.young["rich", "13.9.4"] = datetime.timedelta(days=2)
    (project.root / "cooldown-exemptions.toml").write_text(
        fast_lane_entry(TODAY + datetime.timedelta(days=6), version="13.9.3")
    )
    code, _, err = project.run("admit", "--cooldown-days", "7")
    assert code == 1
    assert "refused: rich 13.9.4: release-age" in err


@pytest.mark.parametrize(
    ("expires", "message"),
    [
        (-1, "expired"),  # the cooldown admits the release by now
        (30, "more than 8 days"),  # further than the cooldown and a day
    ],
)
def test_admit_reads_the_exemptions_as_strictly_as_lock_check(project, expires, message) -> None:
    """One reader (tools/cooldown.py's): what `make lock-check` refuses, `make admit` does."""
    project.lock(runtime=[requirement("rich", "13.9.4")])
    project.index.young["rich", "13.9.4"] = datetime.timedelta(days=2)
    (project.root / "cooldown-exemptions.toml").write_text(
        fast_lane_entry(TODAY + datetime.timedelta(days=expires))
    )
    code, _, err = project.run("admit", "--cooldown-days", "7")
    assert code == 2
    assert "cooldown-exemptions.toml" in err and message in err
    assert not project.record.exists()


def test_a_young_project_and_a_stale_project_are_refused(project) -> None:
    project.lock(runtime=[requirement("gcb-attestation-test", "0.0.0")])
    project.policy.write_text(
        POLICY + "[age]\nmax-days-since-release = 365\nmin-project-days = 1000\n"
    )
    code, _, err = project.run("admit")
    assert code == 1
    assert (
        "gcb-attestation-test 0.0.0: project-age: first release 2025-04-23, less than 1000 days ago"
        in err
    )
    assert (
        "gcb-attestation-test 0.0.0: last-release: last release 2025-04-23, more than 365 days ago"
        in err
    )
    assert "gcb-attestation-test 0.0.0: license: no licence metadata" in err


def test_a_yanked_release_is_refused_with_its_reason(project) -> None:
    project.lock(runtime=[requirement("requests", "2.32.0")])  # yanked on PyPI, for real
    code, _, err = project.run("admit")
    assert code == 1
    assert (
        "refused: requests 2.32.0: yanked: requests-2.32.0-py3-none-any.whl is yanked "
        "(Yanked due to conflicts with CVE-2024-35195 mitigation)"
    ) in err


def test_a_denied_package_is_refused(project) -> None:
    project.lock(runtime=[requirement("six", "1.17.0")])
    project.policy.write_text(
        POLICY + '[[deny]]\npackage = "six"\nreason = "Python 2 compatibility; not needed"\n'
    )
    code, _, err = project.run("admit")
    assert code == 1
    assert "refused: six 1.17.0: denied: Python 2 compatibility; not needed" in err


def test_require_mode_refuses_a_new_dependency_without_provenance(project) -> None:
    project.lock(runtime=[requirement("six", "1.17.0"), sdist("pypi-attestations", "0.0.19")])
    project.policy.write_text(POLICY + '[provenance]\nnew-dependencies = "require"\n')
    code, _, err = project.run("admit")
    assert code == 1
    assert "refused: six 1.17.0: provenance: none provenance (0 of 2 files)" in err
    assert "pypi-attestations" not in err
    assert set(project.entries()) == {"pypi-attestations 0.0.19"}


# -- provenance: verified for real, trust on first use ------------------------------------
def test_a_tampered_hash_fails_verification(project) -> None:
    # Synthetic: the index and the lock agree on a hash that is not the file's, as a
    # compromised mirror would serve. The real signature covers the real hash.
    forged = hashlib.sha256(b"not the real sdist").hexdigest()
    project.index.tampered[GITHUB_SDIST] = forged
    project.lock(runtime=[f"pypi-attestations==0.0.19 --hash=sha256:{forged}"])
    code, _, err = project.run("admit")
    assert code == 1
    assert (
        f"refused: pypi-attestations 0.0.19: provenance-invalid: {GITHUB_SDIST}: "
        "Verification failed: subject does not match distribution digest; not accepted by "
        "exception"
    ) in err
    assert not project.record.exists()


def test_a_lock_hash_the_index_does_not_publish_is_refused(project) -> None:
    real = sdist("pypi-attestations", "0.0.19")
    project.lock(runtime=[real[:-1] + ("0" if real[-1] != "0" else "1")])
    code, _, err = project.run("admit")
    assert code == 1
    assert "pypi-attestations 0.0.19: hash: sha256:" in err
    assert "is locked, but the index has no file of pypi-attestations 0.0.19 with that hash" in err
    assert project.index.count("integrity") == 0


def test_provenance_claiming_another_repository_does_not_verify(project) -> None:
    # Synthetic: the real attestation, served with a publisher the certificate does not name.
    project.index.publisher[GITHUB_SDIST] = {
        **GITHUB,
        "repository": "attacker/pypi-attestations",
        "environment": None,
    }
    project.lock(runtime=[sdist("pypi-attestations", "0.0.19")])
    code, _, err = project.run("admit")
    assert code == 1
    assert (
        "provenance-invalid: pypi_attestations-0.0.19.tar.gz: Verification failed: "
        "Certificate's OIDCSourceRepositoryURI does not match (got "
        "https://github.com/trailofbits/pypi-attestations, expected "
        "https://github.com/attacker/pypi-attestations)"
    ) in err


def test_provenance_served_for_another_file_does_not_verify(project) -> None:
    project.index.provenance_of[GITHUB_SDIST] = "pypi_attestation_models-0.0.4a2.tar.gz"
    project.lock(runtime=[sdist("pypi-attestations", "0.0.19")])
    code, _, err = project.run("admit")
    assert code == 1
    assert "provenance-invalid: pypi_attestations-0.0.19.tar.gz: Verification failed" in err


MOVED = "trailofbits/pypi-attestation-models"


def admitted_before(project: Project, repository: str) -> None:
    """A hand-written (synthetic) record: pypi-attestations 0.0.18 admitted with provenance
    from `repository`, as a project that moved repositories would show."""
    hashes = [
        f"sha256:{f['digests']['sha256']}"
        for f in recorded("pypi-attestations")["releases"]["0.0.18"]
        if f["packagetype"] == "sdist"
    ]
    project.record.write_text(f"""version = 1
[[distribution]]
name = "pypi-attestations"
version = "0.0.18"
scope = "runtime"
license = "Apache-2.0"
provenance = "verified"
publisher = {{ kind = "GitHub", repository = "{repository}", workflow = "release.yml" }}
admitted = 2026-10-01
basis = "policy"
hashes = {json.dumps(hashes)}
""")
    project.lock(runtime=[sdist("pypi-attestations", "0.0.19")])


def exception(rule: str, expires: datetime.date) -> str:
    return f"""
[[exception]]
package = "pypi-attestations"
rule = "{rule}"
version = "0.0.19"
reason = "The project moved from pypi-attestation-models to pypi-attestations (announced upstream)"
approver = "Security Team <security@example.org>"
expires = {expires}
"""


def test_a_publisher_change_on_a_version_bump_is_refused(project) -> None:
    admitted_before(project, MOVED)
    code, _, err = project.run("admit")
    assert code == 1
    assert (
        "refused: pypi-attestations 0.0.19: publisher-changed: published by GitHub "
        "trailofbits/pypi-attestations release.yml, but 0.0.18 was published by GitHub "
        f"{MOVED} release.yml; to accept it, add an [[exception]]"
    ) in err
    # The admitted version stays on the record as the reference; the lock is not admitted.
    assert set(project.entries()) == {"pypi-attestations 0.0.18"}
    assert project.run("check")[0] == 1


def test_a_publisher_change_is_accepted_by_an_unexpired_exception(project) -> None:
    admitted_before(project, MOVED)
    project.policy.write_text(
        POLICY + exception("publisher-changed", TODAY + datetime.timedelta(days=90))
    )
    code, _, err = project.run("admit")
    assert code == 0, err
    entry = project.entries()["pypi-attestations 0.0.19"]
    assert (entry["basis"], entry["exceptions"], entry["publisher"]) == (
        "exception",
        ["publisher-changed"],
        GITHUB,
    )
    assert set(project.entries()) == {"pypi-attestations 0.0.19"}
    assert project.run("check")[0] == 0


def test_a_publisher_change_is_refused_when_the_exception_expired(project) -> None:
    admitted_before(project, MOVED)
    project.policy.write_text(
        POLICY + exception("publisher-changed", TODAY - datetime.timedelta(days=1))
    )
    code, _, err = project.run("admit")
    assert code == 1
    assert (
        f"{project.policy}: exception #1 (pypi-attestations, publisher-changed) expired on 2026-11-24"
        in err
    )
    assert "refused: pypi-attestations 0.0.19: publisher-changed:" in err
    assert "Traceback" not in err


def test_the_same_publisher_on_a_version_bump_is_admitted(project) -> None:
    admitted_before(project, GITHUB["repository"])
    code, _, err = project.run("admit")
    assert code == 0, err
    assert set(project.entries()) == {"pypi-attestations 0.0.19"}


def test_provenance_that_disappears_on_the_next_version_is_refused(project) -> None:
    project.lock(runtime=[sdist("pypi-attestations", "0.0.19")])
    assert project.run("admit")[0] == 0
    # The local index has no provenance for 0.0.20 (PyPI may; here it is withheld).
    project.lock(runtime=[sdist("pypi-attestations", "0.0.20")])
    code, _, err = project.run("admit")
    assert code == 1
    assert (
        "refused: pypi-attestations 0.0.20: provenance-lost: no provenance, but 0.0.19 was "
        "published by GitHub trailofbits/pypi-attestations release.yml"
    ) in err
    project.policy.write_text(
        POLICY
        + exception("provenance-lost", TODAY)
        .replace("0.0.19", "0.0.20")
        .replace(str(TODAY), str(TODAY + datetime.timedelta(days=7)))
    )
    code, _, err = project.run("admit")
    assert code == 0, err
    assert project.entries()["pypi-attestations 0.0.20"]["exceptions"] == ["provenance-lost"]


# -- the weekly re-check ----------------------------------------------------------------
def test_recheck_catches_yanked_lost_provenance_quarantine_and_expired_exceptions(project) -> None:
    project.lock(
        runtime=[
            sdist("pypi-attestations", "0.0.19"),
            requirement("six", "1.17.0"),
            requirement("idna", "3.20"),
        ]
    )
    assert project.run("admit")[0] == 0
    code, out, err = project.run("recheck")
    assert code == 0, err
    assert "recheck: 0 problem(s)" in out
    # Synthetic changes on the index after admission:
    project.index.yanked["six", "1.17.0"] = "Broken wheel"
    project.index.withheld.add(GITHUB_SDIST)
    project.index.status["idna"] = ("quarantined", "Under review for malware")
    project.policy.write_text(POLICY + exception("yanked", TODAY))  # expires today: expired
    code, _, err = project.run("recheck")
    assert code == 1
    failed = sorted(line for line in err.splitlines() if line.startswith("failed: "))
    assert failed[0].startswith(
        "failed: idna 3.20: project-status: the index marks it quarantined: "
        "Under review for malware"
    )
    assert failed[1].startswith(
        "failed: pypi-attestations 0.0.19: provenance-lost: admitted with "
        "provenance from GitHub trailofbits/pypi-attestations release.yml"
    )
    assert failed[2].startswith("failed: six 1.17.0: yanked: six-1.17.0")
    assert "exception #1 (pypi-attestations, yanked) expired on 2026-11-25" in err
    only_metadata(project.index)


def test_recheck_fails_when_an_exception_the_record_relies_on_expires(project) -> None:
    project.lock(runtime=[requirement("unidecode", "1.4.0")])
    policy = (
        POLICY
        + """
[[exception]]
package = "unidecode"
rule = "license"
reason = "Used only in an optional CLI that is not distributed"
approver = "Legal <legal@example.org>"
expires = 2026-12-01
"""
    )
    project.policy.write_text(policy)
    assert project.run("admit")[0] == 0
    project.policy.write_text(policy.replace("2026-12-01", "2026-11-20"))
    code, _, err = project.run("recheck")
    assert code == 1
    assert (
        "failed: unidecode 1.4.0: license: admitted by exception, but "
        f"{project.policy}: exception #1 (unidecode, license) expired on 2026-11-20"
    ) in err


def test_admit_refuses_an_archived_project(project) -> None:
    project.index.status["six"] = ("archived", None)
    project.lock(runtime=[requirement("six", "1.17.0")])
    code, _, err = project.run("admit")
    assert code == 1
    assert "refused: six 1.17.0: project-status: the index marks it archived;" in err


# -- policy files ------------------------------------------------------------------------
def test_the_old_license_policy_is_honoured_with_a_notice(project) -> None:
    project.lock(
        runtime=[requirement("unidecode", "1.4.0"), requirement("gcb-attestation-test", "0.0.0")]
    )
    (project.root / "license-policy.toml").write_text("""\
allowed = ["MIT", "GPL-2.0-or-later"]

[[exception]]
package = "gcb-attestation-test"
reason = "Test fixture; no licence metadata"
""")
    code, out, err = project.run("admit")
    assert code == 0, err
    assert (
        "notice: " + str(project.root / "license-policy.toml") + " is honoured (1 licence(s) "
        "(GPL-2.0-or-later), 1 exception(s)); move them into"
    ) in out
    entries = project.entries()
    assert entries["unidecode 1.4.0"]["basis"] == "policy"
    assert entries["gcb-attestation-test 0.0.0"]["exceptions"] == ["license"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[age]\nmin-release-day = 7\n", "[age]: unknown key 'min-release-day'"),
        (
            '[provenance]\nnew-dependencies = "sometimes"\n',
            "new-dependencies must be off, warn or require",
        ),
        (
            '[[exception]]\npackage = "six"\nrule = "license"\nreason = " "\napprover = "x"\nexpires = 2027-01-01\n',
            "exception #1 (six, license) lacks reason",
        ),
        (
            '[[exception]]\npackage = "six"\nrule = "license"\nreason = "r"\nexpires = 2027-01-01\n',
            "exception #1 (six, license) lacks approver",
        ),
        (
            '[[exception]]\npackage = "six"\nrule = "license"\nreason = "r"\napprover = "a"\nexpires = 2028-01-01\n',
            "exception #1 (six, license): expires 2028-01-01 is more than 365 days ahead ([exceptions] max-days); choose 2027-11-25 or earlier",
        ),
        (
            '[[exception]]\npackage = "six"\nrule = "hash"\nreason = "r"\napprover = "a"\nexpires = 2027-01-01\n',
            "rule 'hash' is not one of denied, license,",
        ),
        (
            '[[exception]]\npackage = "six"\nrule = "license"\nreason = "r"\napprover = "a"\nexpires = "soon"\n',
            "expires must be a date, like 2027-01-31",
        ),
        ('[extends]\npath = "org.toml"\nsha256 = "' + "0" * 64 + '"\n', "org.toml does not exist"),
    ],
)
def test_a_bad_policy_is_a_named_error_not_a_traceback(project, extra, message) -> None:
    project.lock(runtime=[requirement("six", "1.17.0")])
    project.policy.write_text(POLICY + extra)
    code, _, err = project.run("admit")
    assert code == 2
    assert message in err
    assert err.startswith("error: ")
    assert "Traceback" not in err
    assert not project.index.count(), "a bad policy stops admit before any request"
    assert not project.record.exists()


def test_a_bad_lock_export_is_a_named_error(project) -> None:
    (project.root / "all.txt").write_text("six>=1\n")
    (project.root / "runtime.txt").write_text("")
    code, _, err = project.run("admit")
    assert (code, err.strip()) == (
        2,
        f"error: {project.root / 'all.txt'}: not a pinned requirement: six>=1",
    )
    (project.root / "all.txt").write_text("six==1.17.0\n")
    assert "six==1.17.0 has no --hash" in project.run("admit")[2]
    # docs/dependency-policy.md: a dependency from a URL cannot be admitted, and says why.
    for url in ("https://example.org/six-1.17.0.tar.gz", "file:///src/six"):
        (project.root / "all.txt").write_text(f"six @ {url} --hash=sha256:{'0' * 64}\n")
        code, _, err = project.run("admit")
        assert code == 2 and "six comes from a URL, not a package index" in err, err


# -- organisation scale: extends and imports, pinned by hash ------------------------------
def test_an_organisation_policy_is_extended_when_its_hash_matches(project) -> None:
    org = project.root / "org-policy.toml"
    org.write_text(POLICY + '[[deny]]\npackage = "six"\nreason = "Org-wide: no Python 2 shims"\n')
    digest = hashlib.sha256(org.read_bytes()).hexdigest()
    project.policy.write_text(f'[extends]\npath = "org-policy.toml"\nsha256 = "{digest}"\n')
    project.lock(runtime=[requirement("six", "1.17.0")])
    code, _, err = project.run("admit")
    assert code == 1
    assert "six 1.17.0: denied: Org-wide: no Python 2 shims" in err
    org.write_text(POLICY)  # changed upstream: the pin no longer matches
    code, _, err = project.run("admit")
    assert code == 2
    assert f"the policy pins {digest}: review the new file, then pin its hash" in err


def test_an_imported_organisation_record_admits_without_fetching(project, tmp_path) -> None:
    project.lock(runtime=[sdist("pypi-attestations", "0.0.19"), requirement("six", "1.17.0")])
    assert project.run("admit")[0] == 0
    org_record = tmp_path / "org-admissions.toml"
    project.record.rename(org_record)
    digest = hashlib.sha256(org_record.read_bytes()).hexdigest()
    project.policy.write_text(
        POLICY + f'[[import]]\nname = "acme"\npath = "{org_record}"\nsha256 = "{digest}"\n'
    )
    before = project.index.count()
    code, _, err = project.run("admit")
    assert code == 0, err
    assert project.index.count() == before, "imported entries need no index request"
    entries = project.entries()
    assert entries["six 1.17.0"]["basis"] == "import:acme"
    assert entries["pypi-attestations 0.0.19"]["publisher"] == GITHUB


# -- the index: mirrors, credentials -----------------------------------------------------
def test_an_organisation_mirror_with_credentials_is_used_from_the_environment(
    tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with IndexServer(prefix="/api/pypi/pypi-remote", credentials=("ci-bot", "s3cret!")) as mirror:
        monkeypatch.delenv("UV_DEFAULT_INDEX", raising=False)
        monkeypatch.delenv("UV_INDEX_URL", raising=False)
        monkeypatch.setenv("PIP_INDEX_URL", mirror.simple_url)
        assert "s3cret" in mirror.simple_url
        project = Project(tmp_path, mirror, capsys)
        project.lock(runtime=[sdist("pypi-attestations", "0.0.19")])
        code, out, err = project.run("admit", index=False)
        assert code == 0, err
        assert "against http://127.0.0.1:" in out
        assert "s3cret" not in out + err
        assert "ci-bot" not in out + err
        assert project.entries()["pypi-attestations 0.0.19"]["publisher"] == GITHUB
        assert all(path.startswith("/api/pypi/pypi-remote/") for path in mirror.requests)


def test_a_mirror_without_the_json_simple_api_still_gives_the_project_history(project) -> None:
    project.index.pep691 = False  # the simple API answers HTML only
    project.lock(runtime=[requirement("gcb-attestation-test", "0.0.0")])
    project.policy.write_text(POLICY + "[age]\nmin-project-days = 1000\n")
    code, _, err = project.run("admit")
    assert code == 1
    # The first release comes from the JSON API's history instead.
    assert "project-age: first release 2025-04-23, less than 1000 days ago" in err
    assert project.index.count("json") == 2


def test_pip_tools_lock_files_are_read_together(project) -> None:
    main, dev = project.root / "main.txt", project.root / "dev.txt"
    main.write_text(requirement("six", "1.17.0") + "\n")
    dev.write_text(requirement("six", "1.17.0") + "\n" + requirement("pluggy", "1.7.0") + "\n")
    common = [
        "--policy",
        str(project.policy),
        "--record",
        str(project.record),
        "--now",
        NOW.isoformat(),
    ]
    code = admit_tool.main(
        [
            "admit",
            str(main),
            str(dev),
            "--runtime",
            str(main),
            *common,
            "--index-url",
            project.index.simple_url,
        ]
    )
    assert code == 0
    scopes = {name: entry["scope"] for name, entry in project.entries().items()}
    assert scopes == {"six 1.17.0": "runtime", "pluggy 1.7.0": "dev"}
    assert admit_tool.main(["check", str(main), str(dev), "--runtime", str(main), *common]) == 0


def test_the_lock_tools_default_index_is_read_from_pyproject(tmp_path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    for text, url in [
        (
            '[[tool.uv.index]]\nname = "corp"\nurl = "https://uv.example/simple"\ndefault = true\n',
            "https://uv.example/simple",
        ),
        (
            '[[tool.pdm.source]]\nname = "pypi"\nurl = "https://pdm.example/simple"\n',
            "https://pdm.example/simple",
        ),
        (
            '[[tool.poetry.source]]\nname = "corp"\nurl = "https://poetry.example/simple/"\npriority = "primary"\n',
            "https://poetry.example/simple/",
        ),
        ("[project]\nname = 'x'\n", ""),
    ]:
        pyproject.write_text(text)
        assert admit_tool.pyproject_index(pyproject) == url


# -- the dependency-review-action config --------------------------------------------------
def test_the_review_config_comes_from_the_policy_and_check_catches_it_stale(project) -> None:
    review = project.root / ".github" / "dependency-review-config.yml"
    project.lock(runtime=[requirement("six", "1.17.0")], dev=[requirement("unidecode", "1.4.0")])
    project.policy.write_text(POLICY + '[[deny]]\npackage = "pyyaml"\nreason = "Use tomllib"\n')
    assert project.run("admit", "--review-config", str(review))[0] == 0
    text = review.read_text()
    assert "fail-on-severity: low\n" in text
    assert 'allow-licenses:\n  - "0BSD"\n  - "Apache-2.0"\n' in text
    assert 'allow-dependencies-licenses:\n  - "pkg:pypi/unidecode"\n' in text  # a GPL dev tool
    assert 'deny-packages:\n  - "pkg:pypi/pyyaml"\n' in text
    assert "warn-on-openssf-scorecard-level: 3\n" in text
    assert project.run("check", "--review-config", str(review))[0] == 0
    project.policy.write_text(project.policy.read_text().replace('"ISC", ', ""))
    code, _, err = project.run("check", "--review-config", str(review))
    assert code == 1
    assert "does not match the policy and the record: run `make admit` to regenerate it" in err


def test_the_review_config_is_valid_yaml_for_the_action(project) -> None:
    yaml = pytest.importorskip("yaml")
    review = project.root / "review.yml"
    project.lock(runtime=[requirement("six", "1.17.0")])
    assert project.run("admit", "--review-config", str(review))[0] == 0
    config = yaml.safe_load(review.read_text())
    assert set(config) == {
        "fail-on-severity",
        "fail-on-scopes",
        "allow-licenses",
        "show-openssf-scorecard",
        "warn-on-openssf-scorecard-level",
    }
    assert config["allow-licenses"] == sorted(PERMISSIVE, key=str.lower)


# -- as the Makefile runs it -------------------------------------------------------------
def test_it_runs_isolated_as_the_makefile_runs_it(project, index) -> None:
    """`.tools/bin/python -I tools/admit.py`: no imports from the working folder; here the
    dev environment stands in for the toolchain (it has the same pypi-attestations)."""
    project.lock(runtime=[sdist("pypi-attestations", "0.0.19")])
    common = [
        "--policy",
        str(project.policy),
        "--record",
        str(project.record),
        "--now",
        NOW.isoformat(),
    ]
    lock = [str(project.root / "all.txt"), "--runtime", str(project.root / "runtime.txt")]
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            str(ADMIT),
            "admit",
            *lock,
            *common,
            "--index-url",
            index.simple_url,
        ],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    result = subprocess.run(
        [sys.executable, "-I", str(ADMIT), "check", *lock, *common],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "check: all 1 locked distributions are admitted" in result.stdout


def test_the_seeded_policy_admits_the_example_lock(project, render) -> None:
    rendered = render() / "dependency-policy.toml"
    project.policy.write_text(rendered.read_text())
    (project.root / "all.txt").write_text((LOCKS / "example-all.txt").read_text())
    (project.root / "runtime.txt").write_text((LOCKS / "example-runtime.txt").read_text())
    code, out, err = project.run("admit")
    assert code == 0, err
    assert "53 admitted, 0 refused" in out


def test_the_record_is_deterministic(project, tmp_path_factory) -> None:
    project.lock(
        runtime=[sdist("pypi-attestations", "0.0.19"), requirement("idna", "3.20")],
        dev=[requirement("pluggy", "1.7.0")],
    )
    assert project.run("admit")[0] == 0
    first = project.record.read_text()
    project.record.unlink()
    assert project.run("admit")[0] == 0
    assert project.record.read_text() == first
    names = [e["name"] for e in tomllib.loads(first)["distribution"]]
    assert names == sorted(names)


@pytest.mark.slow
def test_the_hash_locked_toolchain_verifies_provenance(
    project, index, env, tmp_path_factory
) -> None:
    """The real path: the uv toolchain lock installed as `make tools` installs it, and
    admit.py run by its interpreter, isolated, verifies PyPI's provenance offline."""
    tools = tmp_path_factory.mktemp("toolchain") / ".tools"
    subprocess.run([sys.executable, "-m", "venv", str(tools)], check=True)
    python = str(tools / "bin" / "python")
    toolchain = ROOT / "includes" / "locks" / "uv.txt"
    install = [
        python,
        "-I",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--require-hashes",
        "--only-binary",
        ":all:",
        "--no-deps",
        "-r",
        str(toolchain),
    ]
    subprocess.run(install, env=env, check=True, timeout=900)
    project.lock(
        runtime=[sdist("pypi-attestations", "0.0.19")],
        dev=[requirement("gitlab-oidc-project", "0.0.3")],
    )
    common = [
        "--policy",
        str(project.policy),
        "--record",
        str(project.record),
        "--now",
        NOW.isoformat(),
    ]
    lock = [str(project.root / "all.txt"), "--runtime", str(project.root / "runtime.txt")]
    result = subprocess.run(
        [python, "-I", str(ADMIT), "admit", *lock, *common, "--index-url", index.simple_url],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    entries = project.entries()
    assert entries["pypi-attestations 0.0.19"]["publisher"] == GITHUB
    assert entries["gitlab-oidc-project 0.0.3"]["publisher"] == GITLAB
