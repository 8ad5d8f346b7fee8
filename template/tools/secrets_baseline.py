"""Keep .secrets.baseline reviewed and deterministic (the detect-secrets baseline).

Run by `make secrets`, `make secrets-baseline` and `make secrets-audit` as
`.tools/bin/python -I tools/secrets_baseline.py ACTION BASELINE`:

  check      fail unless every finding in the baseline was reviewed with
             `make secrets-audit` and judged not to be a secret ("is_secret": false);
             detect-secrets itself accepts any finding that is in the baseline.
  normalise  drop the `generated_at` timestamp that `detect-secrets scan` and `audit`
             write, so the file changes only when the findings do.

Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

FIX = (
    "Review them with 'make secrets-audit' (answer y only for strings that are not secrets), "
    "then commit .secrets.baseline. A real secret: remove it, rotate it, and run "
    "'make secrets-baseline' again."
)


def load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        sys.exit(f"error: {path} is missing. Run 'make secrets-baseline' and commit it.")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        sys.exit(f"error: {path} is not valid JSON ({error}). Restore it from git.")
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        sys.exit(f"error: {path} is not a detect-secrets baseline: it has no 'results' table.")
    return data


def problems(data: dict[str, Any]) -> list[str]:
    """Every finding that is not a reviewed false positive, as `file:line (type): why`."""
    found = []
    for filename, findings in sorted(data["results"].items()):
        for finding in findings if isinstance(findings, list) else [findings]:
            if not isinstance(finding, dict):
                found.append(f"{filename}: an entry that is not a finding: {finding!r}")
                continue
            where = f"{filename}:{finding.get('line_number', '?')} ({finding.get('type', '?')})"
            verdict = finding.get("is_secret")
            if verdict is None:
                found.append(f"{where}: not reviewed")
            elif verdict is not False:
                found.append(f"{where}: reviewed as a real secret")
    return found


def check(path: Path) -> int:
    found = problems(load(path))
    if not found:
        return 0
    print(f"error: {path} holds findings that are not reviewed false positives:", file=sys.stderr)
    for problem in found:
        print(f"  {problem}", file=sys.stderr)
    print(FIX, file=sys.stderr)
    return 1


def normalise(path: Path) -> int:
    data = load(path)
    data.pop("generated_at", None)
    text = json.dumps(data, indent=2) + "\n"
    if path.read_text(encoding="utf-8") != text:
        # Written next to the baseline and renamed over it: never half-written.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, path.stat().st_mode & 0o777)
        Path(temporary).replace(path)
    return 0


ACTIONS: dict[str, Callable[[Path], int]] = {"check": check, "normalise": normalise}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ACTIONS:
        print(__doc__, file=sys.stderr)
        return 2
    return ACTIONS[argv[0]](Path(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
