"""Compile the hash-locked toolchains that generated projects install.

Reads includes/data/tools.yml (and each lock tool's backend from lock_tools.yml) and
writes includes/locks/<name>.txt with
`uv pip compile --universal --generate-hashes`, resolved as of `resolved_at` so the
result is reproducible. Run it after changing a tool version, then commit the locks:

    uv run python scripts/lock_toolchains.py          # rewrite the locks
    uv run python scripts/lock_toolchains.py --check  # fail if a lock is out of date
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "includes" / "data"
LOCKS = ROOT / "includes" / "locks"


def oldest_supported_python() -> str:
    python = yaml.safe_load((DATA / "python.yml").read_text())
    reviewed = python["reviewed"]
    supported = [
        r["version"]
        for r in python["releases"]
        if r["first_release"] <= reviewed < r["end_of_life"]
    ]
    return supported[0]


def toolchains() -> dict[str, list[str]]:
    tools = yaml.safe_load((DATA / "tools.yml").read_text())
    registry = yaml.safe_load((DATA / "lock_tools.yml").read_text())
    chains = {}
    for name, tool in tools["lock_tools"].items():
        backend = tools["backends"][registry[name]["backend"]]["requirement"]
        chains[name] = [*tool["requirements"], backend, *tools["common"]]
    chains["publish"] = list(tools["publish"])
    return chains


def compile_lock(name: str, requirements: list[str], resolved_at: str, python: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"{name}.in"
        source.write_text("\n".join(requirements) + "\n")
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "uv",
                "pip",
                "compile",
                str(source),
                "--universal",
                "--generate-hashes",
                "--no-header",
                "--quiet",
                "--only-binary",
                ":all:",
                "--python-version",
                python,
                "--exclude-newer",
                resolved_at,
                "--index-url",
                "https://pypi.org/simple",
                "--no-config",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    # uv annotates each pin with the .in file it came from; that path is a temp file.
    return out.replace(f"{source}", f"{name}.in").replace(str(Path(tmp)), "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a lock is stale")
    args = parser.parse_args()
    tools = yaml.safe_load((DATA / "tools.yml").read_text())
    python = oldest_supported_python()
    LOCKS.mkdir(exist_ok=True)
    stale = []
    for name, requirements in toolchains().items():
        text = compile_lock(name, requirements, tools["resolved_at"], python)
        path = LOCKS / f"{name}.txt"
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.relative_to(ROOT))
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)} ({text.count('==')} pins)")
    if stale:
        print("stale toolchain locks, run scripts/lock_toolchains.py:", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
