"""Future releases of the template, made from today's working tree, for the update tests.

Each change is one a real release of this template will make, done the way the README's
"Changing the template safely" section says: pins move, a question is added with a
default, a question is renamed and reads its old answer, a choice is removed and maps to
its successor, a Python release reaches its end of life.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import pack, run

NEW_CHECKOUT_SHA = "0123456789abcdef0123456789abcdef01234567"
AHEAD_CHECKOUT_SHA = "fedcba9876543210fedcba9876543210fedcba98"
OLD_CHECKOUT = "3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"
NEW_CHECKOUT = f"{NEW_CHECKOUT_SHA} # v7.0.2"
AHEAD_CHECKOUT = f"{AHEAD_CHECKOUT_SHA} # v7.0.3"


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert text.count(old) >= count, f"{path}: {old!r} not found; update tests/template_versions.py"
    path.write_text(text.replace(old, new))


def bump_checkout(root: Path) -> None:
    """A newer actions/checkout, as the template's Renovate would propose."""
    _edit(
        root / "includes/data/actions.yml",
        "actions/checkout:\n  sha: 3d3c42e5aac5ba805825da76410c181273ba90b1\n  version: v7.0.1",
        f"actions/checkout:\n  sha: {NEW_CHECKOUT_SHA}\n  version: v7.0.2",
    )


def add_question(root: Path) -> None:
    """A new question, with a default, used by a template-owned file."""
    _edit(
        root / "copier.yml",
        "lock_tool:\n",
        "response_days:\n"
        "  type: str\n"
        "  help: Working days within which a vulnerability report is assessed\n"
        '  default: "10"\n'
        "  validator: \"{% if not response_days | regex_search('^[0-9]{1,2}$') %}"
        'a number of days{% endif %}"\n\n'
        "lock_tool:\n",
    )
    _edit(
        root / "template/SECURITY.md.jinja",
        "2. **Assess.** Within 10 working days",
        "2. **Assess.** Within {{ response_days }} working days",
    )


def reword_makefile(root: Path) -> None:
    """A template-owned file changes, far from where users edit it."""
    _edit(
        root / "template/Makefile.jinja",
        "clean: ## Remove .venv, .tools and build output",
        "clean: ## Remove the environments and everything built",
    )


def rename_question(root: Path) -> None:
    """security_contact becomes security_email; the old answer is its default."""
    paths = [
        root / "copier.yml",
        *root.glob("template/**/*.jinja"),
        *root.glob("includes/**/*.jinja"),
    ]
    for path in paths:
        text = path.read_text()
        if "security_contact" in text:
            path.write_text(re.sub(r"\bsecurity_contact\b", "security_email", text))
    text = (root / "copier.yml").read_text()
    block = text[text.index("security_email:") :]
    block = block[: block.index("\n\n")]
    new_block = block.replace(
        '  default: ""', "  default: \"{{ security_contact | default('') }}\""
    )
    assert new_block != block
    (root / "copier.yml").write_text(text.replace(block, new_block))
    # `copier update` still passes the old name's answer as data: retire it.
    _edit(
        root / "includes/helpers/validate.jinja",
        "{% set retired_questions = [] %}",
        "{% set retired_questions = ['security_contact'] %}",
    )


def remove_choice(root: Path) -> None:
    """BSD-2-Clause is no longer offered; projects that chose it move to BSD-3-Clause."""
    _edit(
        root / "includes/data/licenses.yml",
        'BSD-2-Clause: {name: BSD 2-Clause "Simplified" License, copyleft: false}\n',
        "",
    )
    _edit(
        root / "copier.yml",
        "  help: Licence of the project (an SPDX identifier; LICENSE gets its full text)\n"
        "  default: MIT\n",
        "  help: Licence of the project (an SPDX identifier; LICENSE gets its full text)\n"
        "  default: \"{{ {'BSD-2-Clause': 'BSD-3-Clause'}.get(license, 'MIT')"
        " if license is defined else 'MIT' }}\"\n",
    )


def retire_python(root: Path) -> None:
    """A year on: Python 3.11 has reached its end of life."""
    _edit(root / "includes/data/python.yml", 'reviewed: "2026-11-25"', 'reviewed: "2027-11-02"')


RELEASES = {
    "v1.1.0": [bump_checkout, add_question, reword_makefile],
    "v1.2.0": [rename_question, remove_choice, retire_python],
}


def release(root: Path, tag: str, env: dict[str, str]) -> None:
    for change in RELEASES[tag]:
        change(root)
    run(["git", "commit", "-q", "-am", f"Template {tag}"], root, env)
    run(["git", "tag", tag], root, env)
    pack(root, env)
