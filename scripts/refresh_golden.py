"""Re-render the golden projects (tests/golden/<name>/) from the working tree.

    python3 -m uv run --locked python scripts/refresh_golden.py

Run it after an intended template change, then review `git diff tests/golden`: it is the
change every generated project of that kind receives. tests/test_golden.py fails until the
golden copies match the template.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from copier import run_copy  # noqa: E402

from tests.rendering import golden_variants, plain_snapshot, write_golden  # noqa: E402


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Path(tmp) / "settings.yml"
        settings.write_text("{}\n")
        os.environ["COPIER_SETTINGS_PATH"] = str(settings)  # nobody's own defaults
        template = plain_snapshot(Path(tmp) / "template")
        for name, answers in golden_variants().items():
            project = Path(tmp) / "projects" / name
            run_copy(
                str(template),
                project,
                defaults=True,
                data=answers,
                unsafe=False,
                quiet=True,
            )
            write_golden(name, project)
            print(f"tests/golden/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
