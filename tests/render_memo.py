"""What the suite's in-process renders reuse: Jinja's compiled code and parsed YAML.

Rendering the template compiles about 500 Jinja sources (the files, the macros, every
question's default, help and validator) and parses the data tables (includes/data/*.yml)
with PyYAML's pure-Python loader; together that is most of a render's CPU, and the suite
renders the same sources hundreds of times per process. Both are pure functions of their
input, so each result is kept and reused, and the rendered output is the same byte for
byte:
- compiled code per (environment syntax settings, source, template name); only the file
  name Python records for tracebacks may be an earlier clone's, because copier clones
  the template into a new folder for every render;
- `from_yaml` per text, handed out as a deep copy, so a template that changes what it
  parsed cannot change the next render's;
- copier's question, for every file it writes, whether the destination's git sets
  `core.fileMode = false` (one `git config` process per file; the answer cannot change
  during a render): asked once per render, and only when the answer is "false" does
  copier's own per-file index update run.
A source that fails (a compile warning, which this suite makes an error; a YAML error) is
not kept: every later use raises again.

The real-CLI tests (test_cli.py, test_answers.py) and scripts/benchmark_template.py run
copier in their own processes, without any of this.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

from copier._main import Worker
from copier._vcs import get_git
from jinja2 import Environment
from jinja2_ansible_filters import core_filters
from plumbum import ProcessExecutionError

_compile = Environment.compile
_from_yaml = core_filters.from_yaml
_COMPILED: dict[tuple[Any, ...], Any] = {}
_PARSED: dict[str, Any] = {}
_sync_mode = Worker._sync_git_index_executable_bit
_FILE_MODE_OFF = "_render_memo_file_mode_off"  # kept on each Worker, for its one render


def _settings(env: Environment) -> tuple[Any, ...]:
    """Everything of an environment that changes what compile() makes of a source."""
    return (
        type(env),
        env.block_start_string,
        env.block_end_string,
        env.variable_start_string,
        env.variable_end_string,
        env.comment_start_string,
        env.comment_end_string,
        env.line_statement_prefix,
        env.line_comment_prefix,
        env.trim_blocks,
        env.lstrip_blocks,
        env.newline_sequence,
        env.keep_trailing_newline,
        tuple(sorted(env.extensions)),
        env.optimized,
        env.autoescape if isinstance(env.autoescape, bool) else id(env.autoescape),
        env.finalize is not None,
        env.is_async,
        env.code_generator_class,
        env.context_class,
    )


def _memoized_compile(
    self: Environment,
    source: Any,
    name: str | None = None,
    filename: str | None = None,
    raw: bool = False,
    defer_init: bool = False,
) -> Any:
    if not isinstance(source, str):  # an already parsed template: compile as usual
        return _compile(self, source, name, filename, raw, defer_init)
    key = (_settings(self), source, name, raw, defer_init)
    if key not in _COMPILED:
        _COMPILED[key] = _compile(self, source, name, filename, raw, defer_init)
    return _COMPILED[key]


def _memoized_from_yaml(data: Any) -> Any:
    if not isinstance(data, str):
        return _from_yaml(data)
    if data not in _PARSED:
        _PARSED[data] = _from_yaml(data)
    return copy.deepcopy(_PARSED[data])


def _file_mode_off(worker: Worker) -> bool:
    """The guard copier's _sync_git_index_executable_bit starts with, asked once."""
    if _FILE_MODE_OFF not in worker.__dict__:
        git = get_git(context_dir=worker.subproject.local_abspath)
        try:
            setting = git("config", "--type=bool", "--get", "core.fileMode").strip()
        except ProcessExecutionError:
            setting = ""
        worker.__dict__[_FILE_MODE_OFF] = setting == "false"
    return worker.__dict__[_FILE_MODE_OFF]


def _sync_mode_once(self: Worker, dst_relpath: Any, src_mode: int) -> None:
    if _file_mode_off(self):
        _sync_mode(self, dst_relpath, src_mode)


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Copier's environments take their filters from core_filters when they are made."""
    Environment.compile = _memoized_compile  # type: ignore[method-assign]
    core_filters.from_yaml = _memoized_from_yaml
    Worker._sync_git_index_executable_bit = _sync_mode_once  # type: ignore[method-assign]
    try:
        yield
    finally:
        Environment.compile = _compile  # type: ignore[method-assign]
        core_filters.from_yaml = _from_yaml
        Worker._sync_git_index_executable_bit = _sync_mode  # type: ignore[method-assign]
