"""Build the sdist and the wheel into OUTDIR, reproducibly, with the hash-locked backend.

Usage: .tools/bin/python -I tools/build.py [OUTDIR]      (`make build`: dist)

Every timestamp is the last commit's (SOURCE_DATE_EPOCH, from `git log -1 --format=%ct`;
315532800, 1980-01-01, outside a git checkout), including the one in the sdist's gzip
header, which not every backend sets (pdm-backend 2.5 writes the time of the build there).
The build runs without isolation, so the backend is the one the toolchain lock installed.
OUTDIR is replaced only when the build succeeds; a failed build leaves no OUTDIR at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

FALLBACK_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip file can hold


def commit_time() -> int:
    git = shutil.which("git")
    if git is None:
        return FALLBACK_EPOCH
    result = subprocess.run(  # noqa: S603 (git, fixed arguments)
        [git, "log", "-1", "--format=%ct"], capture_output=True, text=True, check=False
    )
    text = result.stdout.strip()
    return int(text) if result.returncode == 0 and text.isdigit() else FALLBACK_EPOCH


def fix_gzip_header(path: Path, epoch: int) -> None:
    """Set the gzip header's MTIME (bytes 4 to 7) to epoch; nothing else changes."""
    data = bytearray(path.read_bytes())
    if data[:2] != b"\x1f\x8b":
        raise SystemExit(f"error: {path} is not a gzip file")
    data[4:8] = epoch.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def main() -> int:
    outdir = Path(sys.argv[1] if len(sys.argv) > 1 else "dist")
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or commit_time())
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch))
    staging = outdir.with_name(outdir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(outdir, ignore_errors=True)
    command = [sys.executable, "-I", "-m", "build", "--no-isolation", "--outdir", str(staging)]
    # This interpreter (the toolchain's) running the hash-locked `build` on this folder.
    if subprocess.run([*command, "."], env=env, check=False).returncode != 0:  # noqa: S603
        shutil.rmtree(staging, ignore_errors=True)
        print(f"error: the build failed; nothing was written to {outdir}", file=sys.stderr)
        return 1
    for sdist in staging.glob("*.tar.gz"):
        fix_gzip_header(sdist, epoch)
    staging.rename(outdir)
    for path in sorted(outdir.iterdir()):
        print(f"Built {path} (SOURCE_DATE_EPOCH={epoch})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
