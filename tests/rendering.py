"""Rendering the template in this process, and the golden renders.

The suite renders through pytest-copie's `copie` fixture (in-process, a few tenths of a
second a project) from a plain copy of the template's working tree. That fixture passes
`unsafe=True`; the promise that the template needs no `--trust` is proven separately, by a
static test of copier.yml and by the real-CLI tests (tests/test_cli.py, tests/test_updates.py).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# What copier reads from this repository: the questions, the project and the includes.
TEMPLATE_PARTS = ("copier.yml", "template", "includes")
GOLDEN = ROOT / "tests" / "golden"
# Generated verbatim from includes/locks; large, and tested on their own.
GOLDEN_SKIPS = {"tools/toolchain.txt", "tools/publish.txt"}


def golden_files(project: Path) -> set[str]:
    """What a golden copy keeps: the rendered files, not the ones copied verbatim from
    template/ (those are in the diff already) nor the generated toolchain locks."""
    return {
        relative
        for relative in tree(project) - GOLDEN_SKIPS
        if not (ROOT / "template" / relative).is_file()
    }


def working_tree_files(root: Path = ROOT) -> list[str]:
    """Files git would commit (tracked, or untracked and not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    return [name for name in listed if name and (root / name).is_file()]


def plain_snapshot(dst: Path, root: Path = ROOT) -> Path:
    """The template's working tree, as a plain folder copier reads directly (no clone)."""
    for name in working_tree_files(root):
        if name.split("/", 1)[0] in TEMPLATE_PARTS:
            target = dst / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, target)
    return dst


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def normalised(path: Path, relative: str) -> bytes:
    """A rendered file as the golden copy keeps it: the answers file without the
    template's location and version, which differ between machines."""
    data = path.read_bytes()
    if relative == ".copier-answers.yml":
        data = re.sub(rb"(?m)^_(src_path|commit): .*\n", b"", data)
    return data


# The one default that follows the clock: golden copies are rendered as of this year,
# so they do not all change on 1 January (the default itself is tested on its own).
GOLDEN_YEAR = "2026"


def golden_variants() -> dict[str, dict[str, str]]:
    variants = yaml.safe_load((GOLDEN / "variants.yml").read_text(encoding="utf-8"))
    return {name: {"copyright_year": GOLDEN_YEAR, **answers} for name, answers in variants.items()}


def golden_differences(name: str, project: Path) -> list[str]:
    """How a fresh render differs from its golden copy, as unified diffs."""
    expected_root = GOLDEN / name
    rendered = golden_files(project)
    expected = tree(expected_root)
    problems = [f"new file: {p}" for p in sorted(rendered - expected)]
    problems += [f"file no longer rendered: {p}" for p in sorted(expected - rendered)]
    for relative in sorted(rendered & expected):
        new = normalised(project / relative, relative)
        old = (expected_root / relative).read_bytes()
        if new != old:
            diff = difflib.unified_diff(
                old.decode(errors="replace").splitlines(keepends=True),
                new.decode(errors="replace").splitlines(keepends=True),
                f"golden/{name}/{relative}",
                f"rendered/{relative}",
            )
            problems.append("".join(diff))
    return problems


def write_golden(name: str, project: Path) -> None:
    target = GOLDEN / name
    shutil.rmtree(target, ignore_errors=True)
    for relative in sorted(golden_files(project)):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(normalised(project / relative, relative))


def template_fingerprint(root: Path = ROOT) -> str:
    """Changes whenever anything copier reads changes."""
    digest = hashlib.sha256()
    for name in sorted(working_tree_files(root)):
        if name.split("/", 1)[0] in TEMPLATE_PARTS:
            digest.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def pairwise_combinations(config) -> list[dict[str, str]]:
    """The pairwise-covering set of answer combinations (tests/answer_space.py), computed
    once per template state and kept in pytest's cache (when pytest runs with one)."""
    cache = getattr(config, "cache", None)
    from tests.answer_space import AnswerSpace

    key = f"template/pairwise/{template_fingerprint()}"
    rows = cache.get(key, None) if cache is not None else None
    if rows is None:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Path(tmp) / "settings.yml"
            settings.write_text("{}\n")  # nobody's own copier defaults
            previous = os.environ.get("COPIER_SETTINGS_PATH")
            os.environ["COPIER_SETTINGS_PATH"] = str(settings)
            try:
                rows = AnswerSpace(plain_snapshot(Path(tmp) / "template")).pairwise()
            finally:
                if previous is None:
                    del os.environ["COPIER_SETTINGS_PATH"]
                else:
                    os.environ["COPIER_SETTINGS_PATH"] = previous
        if cache is not None:
            cache.set(key, rows)
    return rows
