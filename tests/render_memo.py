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
  parsed cannot change the next render's.
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

from jinja2 import Environment
from jinja2_ansible_filters import core_filters

_compile = Environment.compile
_from_yaml = core_filters.from_yaml
_COMPILED: dict[tuple[Any, ...], Any] = {}
_PARSED: dict[str, Any] = {}


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


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Copier's environments take their filters from core_filters when they are made."""
    Environment.compile = _memoized_compile  # type: ignore[method-assign]
    core_filters.from_yaml = _memoized_from_yaml
    try:
        yield
    finally:
        Environment.compile = _compile  # type: ignore[method-assign]
        core_filters.from_yaml = _from_yaml
