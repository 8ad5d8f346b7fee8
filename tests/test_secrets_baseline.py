"""The secret scan's baseline stays reviewed and quiet: tools/secrets_baseline.py fails while
a finding in .secrets.baseline is unreviewed or was judged a real secret, names each one and
says what to do; it drops detect-secrets' timestamp so the file changes only with its
findings; a broken baseline is an error that names the file, never a traceback. The slow
suite runs it in generated projects through `make secrets`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.rendering import ROOT

SCRIPT = ROOT / "template" / "tools" / "secrets_baseline.py"
SEEDED = ROOT / "template" / ".secrets.baseline"


def helper(action: str, baseline: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT), action, str(baseline)],
        capture_output=True,
        text=True,
        check=False,
    )


def finding(line: int, **verdict: bool) -> dict:
    return {
        "type": "AWS Access Key",
        "filename": "src/pkg/keys.py",
        "hashed_secret": "02719c5054936f1208b87a1314df7735f7badf36",
        "is_verified": False,
        "line_number": line,
        **verdict,
    }


def baseline_with(tmp_path: Path, *findings: dict, **extra) -> Path:
    data = {**json.loads(SEEDED.read_text()), **extra}
    data["results"] = {"src/pkg/keys.py": list(findings)} if findings else {}
    path = tmp_path / ".secrets.baseline"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def test_the_seeded_baseline_is_reviewed_and_normal(tmp_path) -> None:
    assert helper("check", SEEDED).returncode == 0
    copy = tmp_path / ".secrets.baseline"
    copy.write_bytes(SEEDED.read_bytes())
    assert helper("normalise", copy).returncode == 0
    assert copy.read_bytes() == SEEDED.read_bytes()


def test_reviewed_false_positives_pass(tmp_path) -> None:
    assert helper("check", baseline_with(tmp_path, finding(3, is_secret=False))).returncode == 0


def test_unreviewed_and_real_secrets_fail_naming_each(tmp_path) -> None:
    path = baseline_with(
        tmp_path, finding(3), finding(4, is_secret=True), finding(5, is_secret=False)
    )
    result = helper("check", path)
    assert result.returncode == 1
    assert "src/pkg/keys.py:3 (AWS Access Key): not reviewed" in result.stderr
    assert "src/pkg/keys.py:4 (AWS Access Key): reviewed as a real secret" in result.stderr
    assert ":5 " not in result.stderr
    assert "make secrets-audit" in result.stderr and "rotate it" in result.stderr


def test_normalise_drops_the_timestamp_and_keeps_the_rest(tmp_path) -> None:
    path = baseline_with(tmp_path, finding(3, is_secret=False), generated_at="2026-11-25T10:00:00Z")
    path.chmod(0o644)
    assert helper("normalise", path).returncode == 0
    data = json.loads(path.read_text())
    assert "generated_at" not in data
    assert data["results"]["src/pkg/keys.py"][0]["is_secret"] is False
    assert path.stat().st_mode & 0o777 == 0o644
    first = path.read_bytes()
    assert helper("normalise", path).returncode == 0
    assert path.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == [".secrets.baseline"]


def test_a_broken_baseline_is_named_and_left_alone(tmp_path) -> None:
    path = tmp_path / ".secrets.baseline"
    for text, message in [
        ("{not json", "is not valid JSON"),
        ('{"version": "1.5.0"}', "is not a detect-secrets baseline"),
    ]:
        path.write_text(text)
        for action in ("check", "normalise"):
            result = helper(action, path)
            assert result.returncode == 1, action
            assert f"error: {path} {message}" in result.stderr
            assert "Traceback" not in result.stderr
            assert path.read_text() == text
    path.unlink()
    missing = helper("check", path)
    assert missing.returncode == 1 and "make secrets-baseline" in missing.stderr


def test_an_unknown_action_prints_the_usage(tmp_path) -> None:
    result = helper("fix", SEEDED)
    assert result.returncode == 2 and "check" in result.stderr and "normalise" in result.stderr
