"""Time `make lock`, `make install` and `make test` in a generated project, per lock tool.

    uv run python scripts/benchmark_lock_tools.py [--runs 3]

For each tool: render the default project with that lock tool (real copier CLI, no
--trust), install its toolchain, warm the caches with one full round, then time each
target `--runs` times from a clean state (lock file and .venv removed) and keep the median.
Writes benchmarks/lock-tools.json and prints a Markdown table for the README.
This is a measurement, not a test: numbers depend on the machine and the network.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import clean_env, copier_copy, run, snapshot_template  # noqa: E402
from tests.variants import LOCK_VARIANTS, adapt_for_this_machine  # noqa: E402

TARGETS = ("lock", "install", "test")


def timed(project: Path, env: dict[str, str], target: str) -> float:
    start = time.perf_counter()
    run(["make", "--no-print-directory", target], project, env)
    return time.perf_counter() - start


def reset(project: Path, lock_files: list[str]) -> None:
    for name in lock_files:
        (project / name).unlink(missing_ok=True)
    shutil.rmtree(project / ".venv", ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        env = clean_env(tmp_path / "home")
        template = snapshot_template(tmp_path / "template", env)
        for variant in LOCK_VARIANTS:
            project = tmp_path / variant.id / "project"
            copier_copy(template, project, variant.answers, env)
            adapt_for_this_machine(project, variant)
            run(["git", "init", "-q"], project, env)
            run(["make", "--no-print-directory", "tools"], project, env)
            lock_files = subprocess.run(
                ["make", "--no-print-directory", "-s", "-f", "Makefile", "-f", "-", "print"],
                input="print:\n\t@echo $(LOCK_FILES)\n",
                cwd=project,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            for target in TARGETS:  # warm the caches
                timed(project, env, target)
            samples: dict[str, list[float]] = {target: [] for target in TARGETS}
            for _ in range(args.runs):
                reset(project, lock_files)
                for target in TARGETS:
                    samples[target].append(timed(project, env, target))
            medians = {t: round(statistics.median(s), 2) for t, s in samples.items()}
            medians["total"] = round(sum(medians[t] for t in TARGETS), 2)
            results[variant.id] = {"median_seconds": medians, "samples": samples}
            print(variant.id, medians, flush=True)
    out = ROOT / "benchmarks" / "lock-tools.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "what": "median wall time of make lock / install / test, warm caches",
                "runs": args.runs,
                "machine": f"{platform.machine()}, {platform.python_version()}, "
                f"{len(__import__('os').sched_getaffinity(0))} cores",
                "date": time.strftime("%Y-%m-%d"),
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print("\n| Lock tool | lock | install | test | total |\n| --- | --- | --- | --- | --- |")
    for tool, result in results.items():
        m = result["median_seconds"]
        print(f"| {tool} | {m['lock']} s | {m['install']} s | {m['test']} s | {m['total']} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
