"""Build the committed sources a second time, elsewhere and differently, and compare.

Usage: .tools/bin/python -I tools/rebuild_check.py [--dist dist] [--commit HEAD] [--keep]

`make build` wrote dist/ from this checkout. This script checks out the same commit into
a fresh directory under a different path (`git worktree add --detach`), then runs that
commit's own tools/build.py there with everything a build should not depend on changed:

- the directory (another absolute path, with a space in it),
- the time zone (TZ=Pacific/Kiritimati, UTC+14),
- the locale (LC_ALL/LANG: another installed locale than the caller's),
- the umask (077 instead of the caller's 022, so checked-out files are 0600),
- the clock of the build (a second later, at least).

It fails unless the second build produces the same file names with the same sha256 as
dist/, and then says what differs inside the archives (member names, contents, modes,
times, owners), so a non-reproducible step is easy to find. The worktree is removed
afterwards (--keep leaves it, and the second dist, for inspection).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import locale
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

TIMEZONE = "Pacific/Kiritimati"
PREFERRED_LOCALES = ["tr_TR.UTF-8", "de_DE.UTF-8", "C.UTF-8", "POSIX"]
UMASK = 0o077


GIT = shutil.which("git") or "git"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def distributions(directory: Path) -> dict[str, str]:
    files = {
        p.name: sha256(p)
        for p in sorted(directory.iterdir())
        if p.name.endswith((".whl", ".tar.gz"))
    }
    if not any(n.endswith(".tar.gz") for n in files) or not any(n.endswith(".whl") for n in files):
        raise SystemExit(f"error: {directory} must hold an sdist and a wheel: run 'make build'")
    return files


def installed_locales() -> list[str]:
    try:
        program = shutil.which("locale") or "locale"
        done = subprocess.run(  # noqa: S603 (locale -a)
            [program, "-a"], capture_output=True, text=True, check=False
        )
    except OSError:
        return []
    out = done.stdout if done.returncode == 0 else ""
    return [line.strip() for line in out.splitlines() if line.strip()]


def other_locale() -> str:
    """A locale that is installed and differs from the caller's."""
    current = os.environ.get("LC_ALL") or os.environ.get("LANG") or "C"
    available = {name.lower().replace("utf-8", "utf8") for name in installed_locales()}
    for name in PREFERRED_LOCALES:
        key = name.lower().replace("utf-8", "utf8")
        if key in available and key != current.lower().replace("utf-8", "utf8"):
            return name
    return "POSIX" if current not in ("C", "POSIX") else "C.UTF-8"


def members(path: Path) -> dict[str, tuple]:
    """name -> (sha256 of content, mode, mtime, owner) for every member of a wheel or sdist."""
    result: dict[str, tuple] = {}
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                data = archive.read(info)
                result[info.filename] = (
                    hashlib.sha256(data).hexdigest()[:16],
                    oct(info.external_attr >> 16),
                    info.date_time,
                    f"create_system={info.create_system}",
                )
    else:
        raw = path.read_bytes()
        header = raw[:10]
        result["<gzip header>"] = (header.hex(), "", int.from_bytes(header[4:8], "little"), "")
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as archive:
            for info in archive.getmembers():
                member = archive.extractfile(info) if info.isfile() else None
                data = member.read() if member else b""
                result[info.name] = (
                    hashlib.sha256(data).hexdigest()[:16],
                    oct(info.mode),
                    info.mtime,
                    f"{info.uid}:{info.gid} {info.uname}:{info.gname} type={info.type!r}",
                )
    return result


def explain(first: Path, second: Path) -> list[str]:
    a, b = members(first), members(second)
    lines = []
    for name in sorted(set(a) | set(b)):
        if name not in b:
            lines.append(f"    only in the first build: {name}")
        elif name not in a:
            lines.append(f"    only in the second build: {name}")
        elif a[name] != b[name]:
            fields = ("content", "mode", "time", "owner/type")
            for field, x, y in zip(fields, a[name], b[name], strict=True):
                if x != y:
                    lines.append(f"    {name}: {field} {x} != {y}")
    if not lines and first.read_bytes() != second.read_bytes():
        lines.append("    same members, different bytes (member order or archive metadata)")
    return lines


def git(*args: str, check: bool = True) -> str:
    return subprocess.run(  # noqa: S603 (git with arguments from this script)
        [GIT, *args], capture_output=True, text=True, check=check
    ).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=Path("dist"))
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    if not args.dist.is_dir():
        raise SystemExit(f"error: {args.dist} does not exist; run 'make build' first")
    expected = distributions(args.dist)
    try:
        commit = git("rev-parse", "--verify", args.commit + "^{commit}")
    except subprocess.CalledProcessError:
        raise SystemExit(f"error: {args.commit} is not a commit of this repository") from None

    chosen_locale = other_locale()
    workdir = Path(tempfile.mkdtemp(prefix="rebuild-check-"))
    source = workdir / "second build" / "source"
    output = workdir / "second build" / "dist"
    old_umask = os.umask(UMASK)
    try:
        source.parent.mkdir(parents=True)
        git("worktree", "add", "--quiet", "--detach", str(source), commit)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("LC_", "SOURCE_DATE_EPOCH", "PYTHON"))
        }
        env.update(TZ=TIMEZONE, LC_ALL=chosen_locale, LANG=chosen_locale)
        time.sleep(1.1)  # a build that records its own clock now differs by at least a second
        print(
            f"Rebuilding {commit[:12]} in {source} "
            f"(TZ={TIMEZONE}, LC_ALL={chosen_locale}, umask {UMASK:03o})",
            flush=True,
        )
        # The commit's own tools/build.py, run by this (the toolchain's) interpreter.
        build = subprocess.run(  # noqa: S603
            [sys.executable, "-I", str(source / "tools" / "build.py"), str(output)],
            cwd=source,
            env=env,
            check=False,
        )
        if build.returncode != 0:
            print("error: the second build failed", file=sys.stderr)
            return 1
        rebuilt = distributions(output)

        failed = False
        for name in sorted(set(expected) | set(rebuilt)):
            if name not in rebuilt:
                print(f"MISMATCH {name}: only in {args.dist}")
                failed = True
            elif name not in expected:
                print(f"MISMATCH {name}: only in the second build")
                failed = True
            elif expected[name] != rebuilt[name]:
                print(f"MISMATCH {name}: sha256 {expected[name]} != {rebuilt[name]}")
                for line in explain(args.dist / name, output / name):
                    print(line)
                failed = True
            else:
                print(f"same     {name}: sha256 {expected[name]}")
        if failed:
            print(
                "error: the distributions are not reproducible from commit "
                f"{commit[:12]}: do not release them",
                file=sys.stderr,
            )
            return 1
        print(f"Reproducible: {len(expected)} files rebuilt bit for bit from {commit[:12]}")
        return 0
    finally:
        os.umask(old_umask)
        if args.keep:
            print(f"Kept {workdir}")
        else:
            git("worktree", "remove", "--force", str(source), check=False)
            git("worktree", "prune", check=False)
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    locale.setlocale(locale.LC_ALL, "C")
    sys.exit(main())
