"""The template's answer space, read from copier.yml itself.

Every question with `choices` is a dimension, with the values copier offers. Which
combinations are possible is decided by copier's own validators (a choice's validator,
which disables it, and the question's validator), evaluated by copier's own `Question`
class: the tests keep no copy of the rules. A new choice in a registry joins the matrix
without a change here.

- `pairwise()`: a small set of valid combinations in which every pair of values of every
  two questions that can occur together does occur (the default suite renders these).
- `every_combination()`: every valid combination (the full run).
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

from copier._main import Worker
from copier._user_data import Question, parse_yaml_string
from jinja2 import meta

Combination = dict[str, str]


class AnswerSpace:
    def __init__(self, template_dir: Path) -> None:
        # Copier wants a destination; nothing is written to it, and it goes once the
        # default context exists.
        destination = Path(tempfile.mkdtemp(prefix="answer-space-"))
        self._worker = Worker(
            src_path=str(template_dir), dst_path=destination, defaults=True, quiet=True
        )
        self._worker._ask()  # the default answers: the context every check starts from
        self._context = self._worker._render_context()
        destination.rmdir()
        self._details = {
            name: details
            for name, details in self._worker.template.questions_data.items()
            if "choices" in details and details.get("when") is not False
        }
        for details in self._details.values():  # what _refused_by relies on
            for field in ("choices", "validator"):
                assert "with context" not in str(details.get(field, "")), details
        self._refusals: dict[tuple, tuple[str, set[str]] | None] = {}
        self._choice_lists: dict[tuple, dict[str, str]] = {}
        self._read_by: dict[str, frozenset[str]] = {}

    def _question(self, name: str, context: dict) -> Question:
        worker = self._worker
        return Question(
            answers=worker.answers,
            context=context,
            jinja_env=worker.jinja_env,
            settings=worker.settings,
            var_name=name,
            **self._details[name],
        )

    def _choices(self, name: str, context: dict) -> list[tuple[str, str]]:
        """(value, validator template) for each choice, as copier renders the list."""
        question = self._question(name, context)
        raw = self._details[name]["choices"]
        rendered = parse_yaml_string(question.render_value(raw)) if isinstance(raw, str) else raw
        if isinstance(rendered, list):
            rendered = {str(item): item for item in rendered}
        result = []
        for value in rendered.values():
            if isinstance(value, dict):
                result.append((str(value["value"]), value.get("validator", "")))
            else:
                result.append((str(value), ""))
        return result

    def _variables(self, template: str) -> set[str]:
        if template not in self._read_by:
            parsed = self._worker.jinja_env.parse(template)
            self._read_by[template] = frozenset(meta.find_undeclared_variables(parsed))
        return set(self._read_by[template])

    @cached_property
    def questions(self) -> dict[str, list[str]]:
        """Each choice question and its values, minus those no combination can enable (a
        disabling validator that reads no other answer, such as an end-of-life Python)."""
        values = {}
        for name in self._details:
            values[name] = [
                value
                for value, validator in self._choices(name, self._context)
                if not (
                    validator
                    and not self._variables(validator)
                    and self._question(name, self._context).render_value(validator).strip()
                )
            ]
        return values

    def refusal(self, combination: Combination) -> tuple[str, set[str]] | None:
        """None if copier accepts the combination; else the refusing question and the
        answers its validator reads."""
        context = {**self._context, **combination}
        for name, value in combination.items():
            refused = self._refused_by(name, value, context)
            if refused is not None:
                return refused
        return None

    def _refused_by(self, name: str, value: str, context: dict) -> tuple[str, set[str]] | None:
        """Whether question `name` refuses `value`, decided once for each combination of
        the answers its choices and validators read (they import macros without context,
        so the answers they pass are all they can read): the full run asks this tens of
        thousands of times."""
        choices = self._details[name]["choices"]
        reads = self._variables(choices) if isinstance(choices, str) else set()
        reads |= self._variables(self._details[name].get("validator") or "")
        choice_validators = self._choice_validators(name, context, reads)
        reads |= self._variables(choice_validators.get(value, ""))
        key = (name, value, tuple(sorted((v, repr(context.get(v))) for v in reads)))
        if key not in self._refusals:
            self._refusals[key] = self._refusal_of(name, value, context)
        return self._refusals[key]

    def _choice_validators(self, name: str, context: dict, reads: set[str]) -> dict[str, str]:
        key = (name, tuple(sorted((v, repr(context.get(v))) for v in reads)))
        if key not in self._choice_lists:
            self._choice_lists[key] = dict(self._choices(name, context))
        return self._choice_lists[key]

    def _refusal_of(self, name: str, value: str, context: dict) -> tuple[str, set[str]] | None:
        question = self._question(name, context)
        for choice, validator in self._choices(name, context):
            if choice == value and validator and question.render_value(validator).strip():
                return name, self._variables(validator) | {name}
        validator = self._details[name].get("validator")
        if validator and question.render_value(validator, {name: value}).strip():
            return name, self._variables(validator) | {name}
        return None

    def _complete(self, seed: Combination, uncovered: set) -> Combination | None:
        """A valid combination that contains `seed`, covering as many uncovered pairs as
        possible; None if copier refuses every completion."""
        names = list(self.questions)
        row = dict(seed)
        for name in names:
            if name in row:
                continue
            row[name] = max(
                self.questions[name],
                key=lambda value, name=name: sum(
                    _pair(name, value, other, row[other]) in uncovered for other in row
                ),
            )
        row = {name: row[name] for name in names}
        tried: set[tuple] = set()
        frontier = [row]
        while frontier:  # repair: change what the refusing validator reads, seed excepted
            candidate = frontier.pop(0)
            refused = self.refusal(candidate)
            if refused is None:
                return candidate
            _, reads = refused
            for name in sorted(reads - set(seed)):
                for value in self.questions.get(name, []):
                    changed = {**candidate, name: value}
                    key = tuple(changed.items())
                    if key not in tried:
                        tried.add(key)
                        frontier.append(changed)
        return None

    def pairwise(self) -> list[Combination]:
        names = list(self.questions)
        uncovered = {
            _pair(a, value_a, b, value_b)
            for a, b in itertools.combinations(names, 2)
            for value_a in self.questions[a]
            for value_b in self.questions[b]
        }
        rows: list[Combination] = []
        while uncovered:
            (a, value_a), (b, value_b) = min(uncovered)
            row = self._complete({a: value_a, b: value_b}, uncovered)
            if row is None:  # copier refuses this pair in every combination
                uncovered.discard(_pair(a, value_a, b, value_b))
                continue
            rows.append(row)
            uncovered -= {_pair(x, row[x], y, row[y]) for x, y in itertools.combinations(names, 2)}
        return rows

    def every_combination(self) -> Iterator[Combination]:
        names = list(self.questions)
        for values in itertools.product(*(self.questions[name] for name in names)):
            combination = dict(zip(names, values, strict=True))
            if self.refusal(combination) is None:
                yield combination

    def structural(
        self, rotating: tuple[str, ...] = ("license", "python_min")
    ) -> list[Combination]:
        """Every valid combination of the other questions; each `rotating` question (which
        no validator couples to another) takes its values in turn, so each one appears."""
        fixed = [name for name in self.questions if name not in rotating]
        rows: list[Combination] = []
        for values in itertools.product(*(self.questions[name] for name in fixed)):
            index = len(rows)
            row = dict(zip(fixed, values, strict=True))
            for name in rotating:
                row[name] = self.questions[name][index % len(self.questions[name])]
            row = {name: row[name] for name in self.questions}
            if self.refusal(row) is None:
                rows.append(row)
        return rows


def _pair(a: str, value_a: str, b: str, value_b: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return tuple(sorted([(a, value_a), (b, value_b)]))  # type: ignore[return-value]


def combination_id(combination: Combination) -> str:
    return "-".join(combination.values())
