"""Pack the PyPA advisory database (OSV YAML, one file per advisory) into the single
gzipped JSON file that tests/osv_server.py serves.

    uv run python scripts/vendor_advisories.py PATH/TO/pypa-advisory-database

The snapshot is CC-BY-4.0; tests/data/README.md records where it came from.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "pypa-advisories.json.gz"


def main() -> int:
    source = Path(sys.argv[1])
    advisories = []
    for path in sorted((source / "vulns").glob("*/*.yaml")):
        advisory = yaml.safe_load(path.read_text(encoding="utf-8"))
        # JSON has no dates: keep OSV's RFC 3339 strings as strings.
        advisories.append(json.loads(json.dumps(advisory, default=str)))
    payload = json.dumps(advisories, sort_keys=True, separators=(",", ":")).encode()
    with gzip.GzipFile(OUT, "wb", mtime=0) as out:
        out.write(payload)
    print(f"wrote {OUT} ({len(advisories)} advisories, {OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
