"""What the template's layout promises a maintainer, checked: every multi-choice question
has a registry (includes/data/<question>s.yml), and every generated file that differs by
that question has one part per choice (includes/parts/<file>/<question>/<choice>.jinja),
each defining the same insertion points. `problems()` says what is missing, by name."""

from __future__ import annotations

from pathlib import Path

import yaml
from jinja2 import Environment, nodes

from tests.rendering import ROOT


def _load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def choice_questions(root: Path = ROOT) -> list[str]:
    config = _load(root / "copier.yml")
    return [
        name
        for name, details in config.items()
        if isinstance(details, dict) and "choices" in details and not name.startswith("_")
    ]


def registries(root: Path = ROOT) -> dict[str, dict]:
    """{question: registry} for every choice question that has one."""
    found = {}
    for question in choice_questions(root):
        path = root / "includes" / "data" / f"{question}s.yml"
        if path.exists():
            found[question] = _load(path)
    return found


def _names(path: Path, kind: type[nodes.Node]) -> set[str]:
    tree = Environment(autoescape=False).parse(path.read_text(encoding="utf-8"))  # noqa: S701 (parsed, never rendered)
    return {node.name for node in tree.find_all(kind)}


def part_folders(root: Path = ROOT) -> dict[str, list[Path]]:
    """{question: [includes/parts/<file>/<question>, ...]}"""
    folders: dict[str, list[Path]] = {}
    for folder in sorted((root / "includes" / "parts").glob("*/*")):
        if folder.is_dir():
            folders.setdefault(folder.name, []).append(folder)
    return folders


def problems(root: Path = ROOT) -> list[str]:
    found: list[str] = []
    known = registries(root)
    for question in part_folders(root):
        if question not in known:
            found.append(f"includes/parts/*/{question}: {question} is not a choice question")
    for question, registry in known.items():
        for folder in part_folders(root).get(question, []):
            where = folder.relative_to(root).as_posix()
            present = {path.stem: path for path in folder.glob("*.jinja")}
            found += [
                f"{where}/{choice}.jinja is missing" for choice in registry if choice not in present
            ]
            found += [
                f"{where}/{stem}.jinja has no entry in includes/data/{question}s.yml"
                for stem in present
                if stem not in registry
            ]
            base = folder.parent / "base.jinja"
            if base.exists():  # each choice extends the file's base and fills its blocks
                wanted = _names(base, nodes.Block)
                kind, label = nodes.Block, "block"
            else:  # each choice defines the same macros
                wanted = set().union(*(_names(p, nodes.Macro) for p in present.values()))
                kind, label = nodes.Macro, "macro"
            for stem, path in sorted(present.items()):
                defined = _names(path, kind)
                found += [
                    f"{where}/{stem}.jinja lacks {label} {name}"
                    for name in sorted(wanted - defined)
                ]
                found += [
                    f"{where}/{stem}.jinja defines {label} {name}, which base.jinja does not have"
                    for name in sorted(defined - wanted)
                    if base.exists()
                ]
    found += _facts(root, known)
    return found


def _facts(root: Path, known: dict[str, dict]) -> list[str]:
    """Registry entries that name other data must name data that exists."""
    found = []
    data = root / "includes" / "data"
    tools = _load(data / "tools.yml")
    images = _load(data / "images.yml")
    for tool, entry in known.get("lock_tool", {}).items():
        if tool not in tools["lock_tools"]:
            found.append(f"includes/data/tools.yml: lock_tools.{tool} (its toolchain) is missing")
        if entry.get("backend") not in tools["backends"]:
            found.append(f"includes/data/tools.yml: backends.{entry.get('backend')} is missing")
        if not (root / "includes" / "locks" / f"{tool}.txt").exists():
            found.append(f"includes/locks/{tool}.txt is missing: run scripts/lock_toolchains.py")
    for scanner in known.get("vulnerability_scanner", {}):
        if scanner != "none" and scanner not in images:
            found.append(f"includes/data/images.yml: {scanner} (its image) is missing")
    hosts = set(known.get("repository_host", {}))
    for publisher, entry in known.get("publisher", {}).items():
        found += [
            f"includes/data/publishers.yml: {publisher} names unknown host {host}"
            for host in entry.get("hosts", [])
            if host not in hosts
        ]
    for host, entry in known.get("repository_host", {}).items():
        if entry.get("publisher") not in known.get("publisher", {}):
            found.append(f"includes/data/repository_hosts.yml: {host}'s publisher is unknown")
        scanning = known.get("code_scanning", {}).get(entry.get("code_scanning"))
        if scanning is None or host not in scanning.get("hosts", []):
            found.append(
                f"includes/data/repository_hosts.yml: {host}'s code_scanning is not a choice "
                "of code_scannings.yml for that host"
            )
    for choice, entry in known.get("code_scanning", {}).items():
        found += [
            f"includes/data/code_scannings.yml: {choice} names unknown host {host}"
            for host in entry.get("hosts", [])
            if host not in hosts
        ]
    return found
