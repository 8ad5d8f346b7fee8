"""Run the static bar over every valid combination of answers, and record the result.

    python3 -m uv run --locked python scripts/full_matrix.py [--shards N]

Starts N pytest processes side by side (default: one per core), each rendering every N-th
combination (`tests/test_static_bar.py --full-matrix --matrix-shard K/N`), and writes
benchmarks/full-matrix.json: how many combinations copier accepts, how many each shard
rendered, each shard's pytest summary, and the wall time. Exits non-zero if any shard
failed. The README quotes the file.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.answer_space import AnswerSpace  # noqa: E402
from tests.rendering import plain_snapshot  # noqa: E402


def combinations() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Path(tmp) / "settings.yml"
        settings.write_text("{}\n")  # nobody's own copier defaults
        os.environ["COPIER_SETTINGS_PATH"] = str(settings)
        return sum(1 for _ in AnswerSpace(plain_snapshot(Path(tmp) / "t")).every_combination())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    total = combinations()
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    started = time.monotonic()
    logs = [
        Path(tempfile.mkstemp(prefix=f"full-matrix-{k}-", suffix=".log")[1])
        for k in range(1, args.shards + 1)
    ]
    processes = []
    for shard, log in enumerate(logs, start=1):
        command = [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_static_bar.py",
            "--full-matrix",
            f"--matrix-shard={shard}/{args.shards}",
            "-n",
            "0",
            "-p",
            "no:randomly",
            "-q",
            "-p",
            "no:cacheprovider",
        ]
        processes.append(
            subprocess.Popen(command, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
        )
    codes = [process.wait() for process in processes]
    wall = time.monotonic() - started
    shards = []
    for shard, (log, code) in enumerate(zip(logs, codes, strict=True), start=1):
        text = log.read_text(errors="replace")
        summary = [
            line.strip("= ")
            for line in text.splitlines()
            if re.search(r"\d+ (passed|failed|error)", line)
        ]
        shards.append(
            {
                "shard": f"{shard}/{args.shards}",
                "combinations": len(range(shard - 1, total, args.shards)),
                "exit_code": code,
                "summary": summary[-1] if summary else text[-2000:],
            }
        )
    result = {
        "date": datetime.date.today().isoformat(),
        "commit": commit,
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "valid_combinations": total,
        "shards": shards,
        "wall_time_s": round(wall),
        "passed": all(code == 0 for code in codes),
    }
    out = ROOT / "benchmarks" / "full-matrix.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    for log, code in zip(logs, codes, strict=True):
        if code:
            print(f"--- {log}\n{log.read_text(errors='replace')[-6000:]}", file=sys.stderr)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
