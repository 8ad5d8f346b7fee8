"""Benchmark the template: `copier copy` and `copier update` against copier's own floor,
and the test suites' wall time. Writes benchmarks/template.json; the README quotes it.

    python3 -m uv run --locked python scripts/benchmark_template.py [--runs 7] [--suites]

- copy: the real CLI (`python -m copier copy --defaults`, no --trust) of the default project
  from a git checkout of this template, against the same command on a one-file template
  (copier's floor: interpreter start, import, clone, one question, one file), interleaved,
  in one process of this script; the ratio of the medians.
- copier's floor for this shape: the same command on a template with the default
  project's file paths and copier.yml's question names, every file and question trivial
  (`{{ project_name }}` in each file, `default: x` for each question). What it costs over
  the one-file floor is copier's own per-file and per-question work, which no template of
  this size can avoid.
- All repositories are packed (`git gc`) after their commit, as a git host serves them.
  Copier clones a local template with hardlinks, so loose objects (what a fresh commit
  leaves) cost it a file, and its clean-up a file and a directory, per object: about 0.1 s
  on this template that no user pays.
- update: `copier update --defaults` of a default project across one template release
  (a pin moved), against a copy of the same template; the ratio of the medians.
- suites (--suites): the default suite's wall time, and the pairwise matrix with the full
  static bar alone, each run once.
"""

from __future__ import annotations

import argparse
import json
import os
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

import copier  # noqa: E402
import yaml  # noqa: E402

from tests.conftest import clean_env, snapshot_template  # noqa: E402

COPIER = [sys.executable, "-m", "copier"]
ANSWERS = ".copier-answers.yml"


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def pack(repository: Path, env: dict[str, str]) -> Path:
    """Pack a repository's objects, as a git host serves them."""
    subprocess.run(["git", "gc", "-q"], cwd=repository, env=env, check=True)
    return repository


def floor_template(path: Path, env: dict[str, str]) -> Path:
    (path / "template").mkdir(parents=True)
    (path / "copier.yml").write_text(
        "_subdirectory: template\nname:\n  type: str\n  default: floor\n"
    )
    (path / "template" / "README.md.jinja").write_text("# {{ name }}\n")
    (path / "template" / "{{_copier_conf.answers_file}}.jinja").write_text(
        "{{ _copier_answers|to_nice_yaml -}}\n"
    )
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "floor"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True)
    return pack(path, env)


def shape_template(path: Path, project: Path, env: dict[str, str]) -> Path:
    """The default project's shape with trivial contents: one file per rendered file (the
    answers file rendered as copier's own), one `str` question per question of copier.yml."""
    questions = [
        name
        for name in yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))
        if not name.startswith("_")
    ]
    (path / "template").mkdir(parents=True)
    (path / "copier.yml").write_text(
        "_subdirectory: template\n"
        + "".join(f"{name}:\n  type: str\n  default: x\n" for name in questions)
    )
    for file in project.rglob("*"):
        relative = file.relative_to(project).as_posix()
        if not file.is_file() or relative.startswith(".git/") or relative == ANSWERS:
            continue
        target = path / "template" / f"{relative}.jinja"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("{{ project_name }}\n")
    (path / "template" / "{{_copier_conf.answers_file}}.jinja").write_text(
        "{{ _copier_answers|to_nice_yaml -}}\n"
    )
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "shape"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True)
    return pack(path, env)


def copy_command(template: Path, dst: Path) -> list[str]:
    return [*COPIER, "copy", "--defaults", "--quiet", "--vcs-ref", "HEAD", str(template), str(dst)]


def bench_copy(work: Path, env: dict[str, str], runs: int) -> dict:
    template = pack(snapshot_template(work / "template", env), env)
    floor = floor_template(work / "floor", env)
    subprocess.run(copy_command(template, work / "sample"), cwd=work, env=env, check=True)
    shape = shape_template(work / "shape", work / "sample", env)
    ours, base, shaped = [], [], []
    for number in range(runs + 1):  # the first round warms the caches and is dropped
        a = timed(copy_command(template, work / f"ours{number}"), work, env)
        b = timed(copy_command(floor, work / f"floor{number}"), work, env)
        c = timed(copy_command(shape, work / f"shape{number}"), work, env)
        if number:
            ours.append(a)
            base.append(b)
            shaped.append(c)
    files = sum(1 for p in (work / "ours1").rglob("*") if p.is_file())
    shape_files = sum(1 for p in (work / "shape1").rglob("*") if p.is_file())
    assert shape_files == files, (shape_files, files)
    return {
        "template_median_s": round(statistics.median(ours), 3),
        "floor_median_s": round(statistics.median(base), 3),
        "ratio": round(statistics.median(ours) / statistics.median(base), 3),
        "files_rendered": files,
        # copier's own cost at this shape: the trivial template's ratio to the floor, and
        # ours to it (what this template's contents and data add).
        "same_shape_trivial_median_s": round(statistics.median(shaped), 3),
        "same_shape_ratio": round(statistics.median(shaped) / statistics.median(base), 3),
        "ratio_to_same_shape": round(statistics.median(ours) / statistics.median(shaped), 3),
        "runs": runs,
    }


def bench_update(work: Path, env: dict[str, str], runs: int) -> dict:
    template = snapshot_template(work / "versions", env, tag="v1.0.0")
    actions = template / "includes" / "data" / "actions.yml"
    text = actions.read_text()
    sha = text.split("actions/checkout:\n  sha: ", 1)[1][:40]
    actions.write_text(text.replace(sha, "0" * 40, 1))
    subprocess.run(["git", "commit", "-q", "-am", "v1.1.0"], cwd=template, env=env, check=True)
    subprocess.run(["git", "tag", "v1.1.0"], cwd=template, env=env, check=True)
    pack(template, env)
    updates, copies = [], []
    for number in range(runs + 1):
        project = work / f"project{number}"
        subprocess.run(
            [
                *COPIER,
                "copy",
                "--defaults",
                "--quiet",
                "--vcs-ref",
                "v1.0.0",
                str(template),
                str(project),
            ],
            cwd=work,
            env=env,
            check=True,
            capture_output=True,
        )
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "generated"]):
            subprocess.run(["git", *args], cwd=project, env=env, check=True)
        u = timed([*COPIER, "update", "--defaults", "--quiet", "--vcs-ref", "v1.1.0"], project, env)
        c = timed(
            [
                *COPIER,
                "copy",
                "--defaults",
                "--quiet",
                "--vcs-ref",
                "v1.1.0",
                str(template),
                str(work / f"copy{number}"),
            ],
            work,
            env,
        )
        if number:
            updates.append(u)
            copies.append(c)
    return {
        "update_median_s": round(statistics.median(updates), 3),
        "copy_median_s": round(statistics.median(copies), 3),
        "ratio": round(statistics.median(updates) / statistics.median(copies), 3),
        "runs": runs,
    }


def bench_suites(env: dict[str, str]) -> dict:
    results = {}
    for name, args in {
        "default_suite_s": [],
        "pairwise_matrix_with_static_bar_s": ["tests/test_static_bar.py"],
    }.items():
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
            cwd=ROOT,
            env={**os.environ, **{k: v for k, v in env.items() if k.startswith("GIT_")}},
            check=True,
            capture_output=True,
        )
        results[name] = round(time.perf_counter() - start, 1)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--suites", action="store_true", help="also time the test suites")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = clean_env(work / "home")
        python = platform.python_version()
        report = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {python}",
            # Whether copier's modules are compiled (.pyc): without, each CLI run compiles
            # copier from source first (PYTHONDONTWRITEBYTECODE and an uncompiled venv),
            # which adds about half a second to both sides and flatters the ratio.
            "bytecode_compiled": any(Path(copier.__file__).parent.glob("__pycache__/*.pyc")),
            "copy": bench_copy(work / "copy", env, args.runs),
            "update": bench_update(work / "update", env, args.runs),
        }
        if args.suites:
            report["suites"] = bench_suites(env)
    out = ROOT / "benchmarks" / "template.json"
    previous = json.loads(out.read_text()) if out.exists() else {}
    if not args.suites and "suites" in previous:
        report["suites"] = previous["suites"]
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
