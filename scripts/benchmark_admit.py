"""Time `tools/admit.py` for a project with 53 locked distributions, cold and warm.

    python3 -m uv run --locked python scripts/benchmark_admit.py [--runs 3] [--python PATH]

The project is the example lock in tests/data/locks/ (53 distributions, 754 file hashes,
all groups; 48 of them runtime), with the licence lists the template seeds; the index is
tests/index_server.py serving recorded real PyPI data on 127.0.0.1, in this process. admit
runs as the Makefile runs it, `PYTHON -I tools/admit.py`, with PYTHON the dev environment's
interpreter (the same pypi-attestations and sigstore as the toolchain) or --python (a
project's .tools/bin/python).

- cold: no record: every distribution is fetched (per-version JSON, simple JSON, and the
  integrity API where the simple API lists provenance) and checked, provenance verified;
- warm: the record admits the whole lock: nothing is fetched;
- check: the offline gate before `make install`.

Writes benchmarks/admit.json. A measurement, not a test: the numbers depend on the machine
(the index server shares it), not on the network.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.index_server import NOW, IndexServer  # noqa: E402

ADMIT = ROOT / "template" / "tools" / "admit.py"
LOCKS = ROOT / "tests" / "data" / "locks"


def policy_text() -> str:
    data = yaml.safe_load((ROOT / "extensions" / "data" / "dependency_licenses.yml").read_text())
    runtime = data["permissive"] + data["weak_copyleft"]
    dev = runtime + [entry["id"] for entry in data["strong_copyleft"]]
    return f"[licenses]\nruntime = {json.dumps(runtime)}\ndev = {json.dumps(dev)}\n"


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed, result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()

    samples: dict[str, list[float]] = {"cold": [], "warm": [], "check": []}
    requests: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp, IndexServer() as index:
        project = Path(tmp)
        (project / "dependency-policy.toml").write_text(policy_text())
        lock = [str(LOCKS / "example-all.txt"), "--runtime", str(LOCKS / "example-runtime.txt")]
        common = ["--now", NOW.isoformat(), "--index-url", index.simple_url]
        admit = [args.python, "-I", str(ADMIT), "admit", *lock, *common]
        check = [args.python, "-I", str(ADMIT), "check", *lock]
        timed(admit, project)  # the server loads its data once, as a long-lived index would
        for _ in range(args.runs):
            (project / "dependency-admissions.toml").unlink()
            before = index.count()
            elapsed, _ = timed(admit, project)
            samples["cold"].append(elapsed)
            requests["cold"] = sum((index.count() - before).values())
            before = index.count()
            elapsed, out = timed(admit, project)
            samples["warm"].append(elapsed)
            requests["warm"] = sum((index.count() - before).values())
            assert "53 already admitted" in out, out
            samples["check"].append(timed(check, project)[0])
    medians = {name: round(statistics.median(values), 2) for name, values in samples.items()}
    result = {
        "what": "wall time of tools/admit.py (make admit) and its offline check, 53 locked "
        "distributions (754 files) against the local index of recorded PyPI data",
        "runs": args.runs,
        "machine": f"{platform.machine()}, {platform.python_version()}, 2 cores",
        "date": datetime.date.today().isoformat(),
        "interpreter": "the dev environment's" if args.python == sys.executable else args.python,
        "index_requests": requests,
        "median_seconds": medians,
        "samples": samples,
    }
    out = ROOT / "benchmarks" / "admit.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"median_seconds": medians, "index_requests": requests}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
