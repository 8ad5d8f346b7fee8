"""Check the licences of the locked runtime dependencies against license-policy.toml.

Usage: python -I tools/licenses.py SBOM RUNTIME [--policy license-policy.toml]

SBOM is the CycloneDX JSON that `make sbom` writes from the installed environment: it
carries each package's declared licence (a PEP 639 License-Expression, an SPDX id, or
a trove classifier). RUNTIME is the lock exported without development groups: only those
packages are checked, because only they reach users.

A package passes when its licence expression is satisfied by the allowed licences (any
side of an OR, every side of an AND), or when an [[exception]] names it with a reason.
A package without readable licence metadata fails: review it and add an exception.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

# Trove classifiers (PEP 639 deprecates them, many packages still use only them) and the
# SPDX licences each may mean. A classifier that can mean several passes if any is allowed.
CLASSIFIERS = {
    "Apache Software License": ["Apache-2.0"],
    "BSD License": ["BSD-3-Clause", "BSD-2-Clause", "0BSD"],
    "GNU Affero General Public License v3": ["AGPL-3.0-only"],
    "GNU Affero General Public License v3 or later (AGPLv3+)": ["AGPL-3.0-or-later"],
    "GNU General Public License v2 (GPLv2)": ["GPL-2.0-only"],
    "GNU General Public License v2 or later (GPLv2+)": ["GPL-2.0-or-later"],
    "GNU General Public License v3 (GPLv3)": ["GPL-3.0-only"],
    "GNU General Public License v3 or later (GPLv3+)": ["GPL-3.0-or-later"],
    "GNU Lesser General Public License v2 (LGPLv2)": ["LGPL-2.1-only"],
    "GNU Lesser General Public License v2 or later (LGPLv2+)": ["LGPL-2.1-or-later"],
    "GNU Lesser General Public License v3 (LGPLv3)": ["LGPL-3.0-only"],
    "GNU Lesser General Public License v3 or later (LGPLv3+)": ["LGPL-3.0-or-later"],
    "Historical Permission Notice and Disclaimer (HPND)": ["HPND"],
    "ISC License (ISCL)": ["ISC"],
    "MIT License": ["MIT"],
    "MIT No Attribution License (MIT-0)": ["MIT-0"],
    "Mozilla Public License 2.0 (MPL 2.0)": ["MPL-2.0"],
    "Python Software Foundation License": ["PSF-2.0"],
    "The Unlicense (Unlicense)": ["Unlicense"],
    "Universal Permissive License (UPL)": ["UPL-1.0"],
    "Zero-Clause BSD (0BSD)": ["0BSD"],
    "zlib/libpng License": ["Zlib"],
}
OPERATORS = ("OR", "AND")  # loosest first
SYMBOL = re.compile(r"\(|\)|[A-Za-z0-9.+:-]+")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def satisfied(expression: str, allowed: set[str]) -> bool:
    """Evaluate an SPDX expression: OR needs one allowed side, AND needs all."""
    symbols = SYMBOL.findall(expression)
    position = 0

    def parse(level: int = 0) -> bool:
        """One precedence level: OR (any operand allowed), then AND (every operand)."""
        nonlocal position
        if level == len(OPERATORS):
            return parse_term()
        operands = [parse(level + 1)]
        while position < len(symbols) and symbols[position].upper() == OPERATORS[level]:
            position += 1
            operands.append(parse(level + 1))
        return any(operands) if OPERATORS[level] == "OR" else all(operands)

    def parse_term() -> bool:
        nonlocal position
        if position >= len(symbols):
            return False
        symbol = symbols[position]
        position += 1
        if symbol == "(":
            result = parse()
            position += 1  # ")"
        else:
            result = symbol.removesuffix("+").lower() in allowed
        if position < len(symbols) and symbols[position].upper() == "WITH":
            position += 2  # an exception (e.g. LLVM-exception) only ever grants more
        return result

    return parse()


def declared(component: dict) -> list[str]:
    """The licence expressions a component declares; several entries mean any of them."""
    expressions = []
    for entry in component.get("licenses", []):
        if "expression" in entry:
            expressions.append(entry["expression"])
            continue
        licence = entry.get("license", {})
        if "id" in licence:
            expressions.append(licence["id"])
        elif "name" in licence:
            name = licence["name"].removeprefix("License :: ").removeprefix("OSI Approved :: ")
            if name in CLASSIFIERS:
                expressions.append(" OR ".join(CLASSIFIERS[name]))
            elif re.fullmatch(r"[A-Za-z0-9.+-]+", name):
                expressions.append(name)  # an SPDX id given as a name
    return expressions


def runtime_names(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    return {
        canonical(match[1])
        for line in text.splitlines()
        if (match := re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==", line))
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="Check runtime dependency licences.")
    parser.add_argument("sbom", type=Path)
    parser.add_argument("runtime", type=Path)
    parser.add_argument("--policy", type=Path, default=Path("license-policy.toml"))
    args = parser.parse_args()

    policy = tomllib.loads(args.policy.read_text(encoding="utf-8"))
    allowed = {licence.lower() for licence in policy.get("allowed", [])}
    exceptions, problems = {}, []
    for number, entry in enumerate(policy.get("exception", []), start=1):
        if not entry.get("package") or not entry.get("reason"):
            problems.append(f"{args.policy}: exception #{number} needs a package and a reason")
        else:
            exceptions[canonical(entry["package"])] = entry["reason"]

    runtime = runtime_names(args.runtime)
    components = json.loads(args.sbom.read_text(encoding="utf-8")).get("components", [])
    checked = 0
    for component in sorted(components, key=lambda c: canonical(c["name"])):
        name = canonical(component["name"])
        if name not in runtime:
            continue
        checked += 1
        expressions = declared(component)
        if any(satisfied(expression, allowed) for expression in expressions):
            continue
        if name in exceptions:
            print(f"Accepted by exception: {component['name']} ({exceptions[name]})")
            continue
        found = " | ".join(expressions) or "no readable licence"
        problems.append(
            f"{component['name']} {component.get('version', '')}: {found} is not allowed by "
            f"{args.policy}; allow the licence there, or add an [[exception]] with a reason"
        )
    missing = runtime - {canonical(c["name"]) for c in components}
    if missing:  # locked for another platform or Python (an environment marker)
        print(f"Not installed here, so not checked: {', '.join(sorted(missing))}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print(f"Licences: {checked} runtime dependencies, all allowed by {args.policy}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
