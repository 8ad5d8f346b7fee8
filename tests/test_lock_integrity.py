"""What a generated project audits, describes and installs is exactly what its lock holds,
for every lock tool: every extra, group and platform is locked and audited; the SBOM is
the lock's runtime set; installs build the project only with a hash-locked backend; and no
dependency code runs where a release's files are made.

pip-audit talks to a local OSV service with real advisories (tests/osv_server.py).
"""

from __future__ import annotations

import pytest

from tests.projects import make, per_lock_tool, run, set_dependencies

pytestmark = pytest.mark.slow

# Known-vulnerable pins from the advisory snapshot.
EXTRA = {"web": ["jinja2==2.10"]}  # PYSEC-2019-217
WINDOWS_ONLY = "requests==2.19.0; sys_platform == 'win32'"  # PYSEC-2018-28


@per_lock_tool
def test_extras_and_other_platforms_are_locked_and_audited(
    tool, lock_project, project_copy, project_env
) -> None:
    project = project_copy(lock_project(tool))
    if tool == "pip-tools":
        # pip-compile locks for the platform it runs on: it would drop the requirement
        # silently, so `make lock` refuses it and says why.
        set_dependencies(project, [WINDOWS_ONLY])
        refused = make(project, project_env, "lock", check=False)
        assert refused.returncode != 0
        assert "requests applies only where" in refused.stderr, refused.stderr
        assert "pip-tools locks for one platform and Python only" in refused.stderr
        set_dependencies(project, [], EXTRA)
        make(project, project_env, "lock")
        audited = make(project, project_env, "audit", check=False)
        assert audited.returncode != 0
        assert "PYSEC-2019-217" in audited.stdout
        return
    set_dependencies(project, [WINDOWS_ONLY], EXTRA)
    if tool == "pdm":
        # A lock made without the extra's group (a bare `pdm lock`) fails the lock check.
        run([".tools/bin/python", "-I", "-m", "pdm", "lock"], project, project_env)
        stale = make(project, project_env, "lock-check", check=False)
        assert stale.returncode != 0
        assert "pdm.lock does not lock the groups web" in stale.stderr, stale.stderr
    make(project, project_env, "lock")
    make(project, project_env, "lock-check")
    audited = make(project, project_env, "audit", check=False)
    assert audited.returncode != 0
    assert "PYSEC-2019-217" in audited.stdout, audited.stdout  # the extra
    assert "PYSEC-2018-28" in audited.stdout  # Windows only
