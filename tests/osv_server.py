"""A small OSV-compatible vulnerability service for tests, serving real advisories.

The public services (api.osv.dev, PyPI's JSON API) cannot be reached from the machines that
test this template, so the real pip-audit is pointed here instead, through its own
environment variables (PIP_AUDIT_VULNERABILITY_SERVICE=osv, PIP_AUDIT_OSV_URL=...), exactly
as an organisation would point it at a mirror.

It answers the subset of the OSV API that scanners use:
  POST /v1/query        {"package": {"name", "ecosystem"}, "version"} -> {"vulns": [...]}
  POST /v1/querybatch   {"queries": [...]} -> {"results": [{"vulns": [{"id", "modified"}]}]}
  GET  /v1/vulns/<id>   the advisory

Advisories: tests/data/pypa-advisories.json.gz, a snapshot of pypa/advisory-database
(see tests/data/README.md). Their timestamps are served as api.osv.dev serves them,
`%Y-%m-%dT%H:%M:%SZ`: the database also has forms such as '2023-10-10 14:28:19.389317+00:00',
which pip-audit cannot parse. Run standalone with `python tests/osv_server.py [PORT]`.
"""

from __future__ import annotations

import datetime
import gzip
import json
import re
import sys
import threading
from collections import defaultdict
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

DATA = Path(__file__).parent / "data" / "pypa-advisories.json.gz"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


TIMESTAMPS = ("modified", "published", "withdrawn")


def rfc3339(value: str) -> str:
    """A timestamp in the one form OSV clients parse: UTC, seconds, a trailing Z."""
    moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@cache
def advisories() -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    by_package: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_id: dict[str, dict[str, Any]] = {}
    for advisory in json.loads(gzip.decompress(DATA.read_bytes())):
        for key in TIMESTAMPS:
            if key in advisory:
                advisory[key] = rfc3339(advisory[key])
        by_id[advisory["id"]] = advisory
        for affected in advisory.get("affected", []):
            package = affected.get("package", {})
            if package.get("ecosystem") == "PyPI":
                by_package[canonical(package["name"])].append(advisory)
    return by_package, by_id


def _in_ranges(version: str, ranges: list[dict[str, Any]]) -> bool:
    try:
        current = Version(version)
    except InvalidVersion:
        return False
    for affected_range in ranges:
        if affected_range.get("type") != "ECOSYSTEM":
            continue
        introduced, fixed, last = None, None, None
        for event in affected_range.get("events", []):
            if "introduced" in event:
                if introduced is not None and _between(current, introduced, fixed, last):
                    return True
                introduced, fixed, last = event["introduced"], None, None
            fixed = event.get("fixed", fixed)
            last = event.get("last_affected", last)
        if introduced is not None and _between(current, introduced, fixed, last):
            return True
    return False


def _between(current: Version, introduced: str, fixed: str | None, last: str | None) -> bool:
    if introduced != "0" and current < Version(introduced):
        return False
    if fixed is not None and current >= Version(fixed):
        return False
    return not (last is not None and current > Version(last))


def vulnerabilities(name: str, version: str) -> list[dict[str, Any]]:
    by_package, _ = advisories()
    found = []
    for advisory in by_package.get(canonical(name), []):
        if advisory.get("withdrawn"):
            continue
        for affected in advisory["affected"]:
            package = affected.get("package", {})
            if canonical(package.get("name", "")) != canonical(name):
                continue
            if version in affected.get("versions", []) or _in_ranges(
                version, affected.get("ranges", [])
            ):
                found.append(advisory)
                break
    return found


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if self.path == "/v1/query":
            found = vulnerabilities(request["package"]["name"], request["version"])
            self._reply(200, {"vulns": found} if found else {})
        elif self.path == "/v1/querybatch":
            results = []
            for query in request.get("queries", []):
                found = vulnerabilities(query["package"]["name"], query["version"])
                results.append(
                    {"vulns": [{"id": v["id"], "modified": v["modified"]} for v in found]}
                )
            self._reply(200, {"results": results})
        else:
            self._reply(404, {"message": "not found"})

    def do_GET(self) -> None:
        _, by_id = advisories()
        match = re.fullmatch(r"/v1/vulns/(.+)", self.path)
        if match and match[1] in by_id:
            self._reply(200, by_id[match[1]])
        else:
            self._reply(404, {"message": "not found"})


class OsvServer:
    """Serve advisories on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, port: int = 0) -> None:
        advisories()  # load before accepting requests
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def query_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/query"

    def __enter__(self) -> OsvServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":
    with OsvServer(int(sys.argv[1]) if len(sys.argv) > 1 else 0) as server:
        print(server.query_url, flush=True)
        server.thread.join()
