"""The files of many rendered projects, each distinct one once.

Most files of the matrix's projects are the same, byte for byte, in many projects (a
workflow does not change with the licence). A check whose verdict depends only on a
file's path in the project and its content runs once per distinct (path, content), and
a validator that reads whole projects runs once per distinct set of the files it reads:
the same verdicts as checking every project, in a fraction of the time, which is what
lets the static bar run over every valid combination.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

FileKey = tuple[str, str]  # (path in the project, sha256 of the content)


class DistinctFiles:
    def __init__(self, projects: Iterable[Path]) -> None:
        self.projects = list(projects)
        # Each project's files, as keys; each key's first copy on disk.
        self.of_project: dict[Path, list[FileKey]] = {}
        self.path: dict[FileKey, Path] = {}
        for project in self.projects:
            keys = []
            for path in sorted(p for p in project.rglob("*") if p.is_file()):
                key = (path.relative_to(project).as_posix(), _digest(path))
                self.path.setdefault(key, path)
                keys.append(key)
            self.of_project[project] = keys

    def files(self, *patterns: str) -> Iterator[tuple[str, Path]]:
        """(path in the project, a copy on disk) of each distinct file matching any of the
        glob patterns (all files without one)."""
        for (relative, _), path in self.path.items():
            if not patterns or _matches(relative, patterns):
                yield relative, path

    def representatives(self, *patterns: str) -> list[Path]:
        """The fewest projects that, together, hold every distinct set of the files
        matching the patterns: one project per set (projects with none left out)."""
        chosen: dict[tuple[FileKey, ...], Path] = {}
        for project, keys in self.of_project.items():
            selected = tuple(key for key in keys if _matches(key[0], patterns))
            if selected:
                chosen.setdefault(selected, project)
        return list(chosen.values())


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _matches(relative: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(relative, pattern) for pattern in patterns)
