"""The two scripts every project ships in tools/, exercised directly: the licence policy's
SPDX expressions, and how the audit reads a lock export (markers dropped, every version of
every package audited). The slow suite runs both inside generated projects."""

from __future__ import annotations

import datetime
import importlib.util
from pathlib import Path

import pytest

from tests.conftest import ROOT


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "template" / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


licenses, audit = load("licenses"), load("audit")
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
    assert licenses.satisfied(expression, ALLOWED) is passes


def test_classifiers_map_to_every_licence_they_may_mean() -> None:
    component = {"licenses": [{"license": {"name": "License :: OSI Approved :: BSD License"}}]}
    (expression,) = licenses.declared(component)
    assert licenses.satisfied(expression, {"bsd-2-clause"})
    assert not licenses.satisfied(expression, {"mit"})


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


def test_exceptions_need_a_reason_and_stop_working_on_their_expiry(tmp_path: Path) -> None:
    today = datetime.date(2026, 11, 25)
    path = tmp_path / "audit-exceptions.toml"
    path.write_text(
        '[[exception]]\nid = "A"\nreason = "r"\nexpires = 2026-12-01\n'
        '[[exception]]\nid = "B"\nreason = "r"\nexpires = 2026-11-25\n'
        '[[exception]]\nid = "C"\nexpires = 2027-01-01\n'
    )
    ignore, problems = audit.load_exceptions(path, today)
    assert ignore == ["A"]
    assert len(problems) == 2
    assert "(B) expired on 2026-11-25" in problems[0]
    assert "lacks reason" in problems[1]
