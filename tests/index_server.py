"""A local package index for tests, serving recorded real PyPI data (stdlib only).

tools/admit.py reads a package index's metadata APIs. The machines that test this template
reach PyPI's latest-version JSON but neither its per-version JSON nor its integrity API, so
tests point admit.py here instead, through its own index setting, the way an organisation
points it at a mirror. Served, from tests/data/ (see tests/data/README.md):

  GET /pypi/<name>/json             the recorded latest JSON (`releases`: every version)
  GET /pypi/<name>/<version>/json   derived from it: that version's files in `urls`
  GET /simple/<name>/               PEP 691 JSON, with PEP 700 upload times, PEP 740
                                    `provenance` URLs and PEP 792 `project-status`
  GET /integrity/<name>/<version>/<filename>/provenance
                                    PEP 740 provenance, for the files with real assets
  GET /files/<filename>             404, unless a test serves that file's bytes (`served`):
                                    the `url` of every file points here, so a test can
                                    prove that nothing was downloaded

Every answer carries `X-Test-Data: recorded | derived | synthetic`. Every request is
counted (`requests`, `count()`). Negative cases are built from the real data with the
attributes below (set them before the code under test runs): a tampered hash, provenance
served for another file or with another publisher, provenance withheld, a release made
younger than the cooldown (upload times relative to the fixed `now`), a version yanked, a
project archived or quarantined. A test can also publish a release of its own (`publish`,
for the files a generated project built), serve any file's bytes (`served`, tampered or
not) and leave files out of the listing (`hidden`). Optionally the index sits under a path
prefix and wants HTTP basic credentials, like an organisation's mirror.

Run standalone with `python tests/index_server.py [PORT]`.
"""

from __future__ import annotations

import base64
import copy
import datetime
import gzip
import hashlib
import json
import re
import sys
import threading
from collections import Counter
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

DATA = Path(__file__).parent / "data"
PYPI = DATA / "pypi"
PROVENANCE = DATA / "provenance"
# The day the data was recorded: tests pin admit.py's "now" to it.
NOW = datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC)

GITLAB_PROJECT = "gitlab-oidc-project"
GITHUB = "https://github.com"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@cache
def recorded(name: str) -> dict[str, Any] | None:
    """The recorded latest JSON of a project (never modified), or None."""
    if name == GITLAB_PROJECT:
        return _gitlab_project()
    path = PYPI / f"{name}.json.gz"
    if not path.is_file():
        return None
    return json.loads(gzip.decompress(path.read_bytes()))


def _gitlab_project() -> dict[str, Any]:
    """Synthetic JSON for the GitLab-signed example sdist, which is not on PyPI: its real
    sha256; its upload time is the moment its attestation entered the transparency log."""
    attestation = json.loads(
        (PROVENANCE / "gitlab_oidc_project-0.0.3.tar.gz.publish.attestation").read_text()
    )
    integrated = int(
        attestation["verification_material"]["transparency_entries"][0]["integratedTime"]
    )
    uploaded = datetime.datetime.fromtimestamp(integrated, datetime.UTC)
    filename = "gitlab_oidc_project-0.0.3.tar.gz"
    sha256 = (PROVENANCE / f"{filename}.sha256").read_text().strip()
    release = [
        {
            "filename": filename,
            "packagetype": "sdist",
            "digests": {"sha256": sha256},
            "size": 5679,
            "requires_python": None,
            "upload_time": uploaded.strftime("%Y-%m-%dT%H:%M:%S"),
            "upload_time_iso_8601": iso(uploaded),
            "url": f"https://files.example/{filename}",
            "yanked": False,
            "yanked_reason": None,
        }
    ]
    info = {
        "name": GITLAB_PROJECT,
        "version": "0.0.3",
        "license": None,
        "license_expression": "MIT",
        "classifiers": [],
        "yanked": False,
        "yanked_reason": None,
        "project_urls": {"Source": "https://gitlab.com/facutuesca/gitlab-oidc-project"},
    }
    return {"info": info, "releases": {"0.0.3": release}, "urls": release, "synthetic": True}


def _wrap(attestation_file: str, publisher: dict[str, Any]) -> dict[str, Any]:
    attestation = json.loads((PROVENANCE / attestation_file).read_text())
    return {
        "version": 1,
        "attestation_bundles": [{"publisher": publisher, "attestations": [attestation]}],
    }


@cache
def real_provenance() -> dict[str, tuple[dict[str, Any], str]]:
    """filename -> (PEP 740 provenance, how it was made)."""
    found: dict[str, tuple[dict[str, Any], str]] = {}
    for path in sorted(PROVENANCE.glob("*.provenance")):
        found[path.name.removesuffix(".provenance")] = (json.loads(path.read_text()), "recorded")
    found["gitlab_oidc_project-0.0.3.tar.gz"] = (
        _wrap(
            "gitlab_oidc_project-0.0.3.tar.gz.publish.attestation",
            {
                "kind": "GitLab",
                "repository": "facutuesca/gitlab-oidc-project",
                "workflow_filepath": ".gitlab-ci.yml",
                "environment": None,
            },
        ),
        "derived",
    )
    found["pypi_attestation_models-0.0.4a2.tar.gz"] = (
        _wrap(
            "pypi_attestation_models-0.0.4a2.tar.gz.publish.attestation",
            {
                "kind": "GitHub",
                "repository": "trailofbits/pypi-attestation-models",
                "workflow": "release.yml",
                "environment": None,
            },
        ),
        "derived",
    )
    return found


class IndexServer:
    """Serve the recorded index on 127.0.0.1 in a background thread; a context manager."""

    def __init__(
        self,
        *,
        now: datetime.datetime = NOW,
        prefix: str = "",
        credentials: tuple[str, str] | None = None,
        port: int = 0,
    ) -> None:
        self.now = now
        self.prefix = prefix.rstrip("/")
        self.credentials = credentials
        # Negative cases, keyed by file name or by (canonical name, version):
        self.tampered: dict[str, str] = {}  # filename -> the sha256 the index claims
        self.provenance_of: dict[str, str] = {}  # filename -> serve this file's provenance
        self.publisher: dict[str, dict[str, Any]] = {}  # filename -> claimed publisher
        self.withheld: set[str] = set()  # filenames whose provenance is not served
        self.young: dict[tuple[str, str], datetime.timedelta] = {}  # uploaded `now - age`
        self.yanked: dict[tuple[str, str], str] = {}  # version -> yanked reason
        self.status: dict[str, tuple[str, str | None]] = {}  # PEP 792 (status, reason)
        self.pep691 = True  # False: the simple API answers HTML only, like an old mirror
        self.served: dict[str, bytes] = {}  # filename -> the bytes /files/<filename> serves
        self.hidden: set[str] = set()  # filenames the simple API does not list
        self.published: dict[str, dict[str, Any]] = {}  # name -> a release a test made
        # name -> PyPI's latest JSON, recorded during the test session (`record_from_pypi`)
        self.session_recorded: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str], tuple[int, bytes, str, str]] = {}
        server = self

        class Handler(_Handler):
            index = server

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- addresses --------------------------------------------------------------------
    @property
    def address(self) -> str:
        """The base of the JSON and integrity APIs, without credentials."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{self.prefix}"

    @property
    def url(self) -> str:
        """The base of the JSON and integrity APIs, with the credentials if any."""
        if not self.credentials:
            return self.address
        user, password = (quote(part, safe="") for part in self.credentials)
        return self.address.replace("http://", f"http://{user}:{password}@", 1)

    @property
    def simple_url(self) -> str:
        """The index URL a lock tool or admit.py is configured with."""
        return f"{self.url}/simple"

    def count(self, kind: str | None = None) -> int | Counter[str]:
        """Requests so far, by kind: json, simple, integrity, files, other."""
        with self._lock:
            kinds = Counter(_kind(path) for path in self.requests)
        return kinds[kind] if kind else kinds

    def __enter__(self) -> IndexServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def state(self) -> str:
        """The negative cases in force: answers are cached per path and state."""
        hooks = (
            self.tampered,
            self.provenance_of,
            self.publisher,
            self.withheld,
            self.young,
            self.yanked,
            self.status,
            {"pep691": self.pep691},
            {name: hash(data) for name, data in self.served.items()},
            self.hidden,
            {name: repr(data) for name, data in self.published.items()},
            set(self.session_recorded),
        )
        return repr(
            [sorted(map(repr, hook.items() if isinstance(hook, dict) else hook)) for hook in hooks]
        )

    # -- what is served ---------------------------------------------------------------
    def publish(self, name: str, version: str, files: dict[str, bytes]) -> None:
        """A release of a project the recorded data does not have, as an upload makes it:
        the files are listed with their sha256 and served (without provenance)."""
        entries = [
            {
                "filename": filename,
                "packagetype": "sdist" if filename.endswith(".tar.gz") else "bdist_wheel",
                "digests": {"sha256": hashlib.sha256(data).hexdigest()},
                "size": len(data),
                "requires_python": None,
                "upload_time_iso_8601": iso(self.now),
                "upload_time": self.now.strftime("%Y-%m-%dT%H:%M:%S"),
                "yanked": False,
                "yanked_reason": None,
            }
            for filename, data in sorted(files.items())
        ]
        info = {"name": name, "version": version, "yanked": False, "yanked_reason": None}
        self.published[canonical(name)] = {
            "info": info,
            "releases": {version: entries},
            "urls": entries,
            "synthetic": True,
        }
        self.served.update(files)

    def record_from_pypi(self, wanted: dict[str, str]) -> list[str]:
        """Record PyPI's latest JSON (the same bytes scripts/record_index_data.py keeps) for
        each project whose wanted version the recorded data lacks; serve it as recorded.
        For the slow tests, whose projects lock whatever PyPI has today."""
        import urllib.request

        fetched = []
        for name, version in sorted(wanted.items()):
            have = self.project(name)
            if have and version in have.get("releases", {}):
                continue
            url = f"https://pypi.org/pypi/{name}/json"
            with urllib.request.urlopen(url, timeout=60) as response:
                self.session_recorded[name] = json.loads(response.read())
            fetched.append(name)
        return fetched

    def project(self, name: str) -> dict[str, Any] | None:
        return self.published.get(name) or self.session_recorded.get(name) or recorded(name)

    def file(self, name: str, version: str, entry: dict[str, Any]) -> dict[str, Any]:
        """One file of the JSON API, with the negative cases applied."""
        entry = dict(entry, digests=dict(entry["digests"]))
        entry["url"] = f"{self.address}/files/{entry['filename']}"
        if entry["filename"] in self.tampered:
            entry["digests"]["sha256"] = self.tampered[entry["filename"]]
            entry.pop("md5_digest", None)
            entry["digests"].pop("md5", None)
            entry["digests"].pop("blake2b_256", None)
        if (name, version) in self.young:
            moment = self.now - self.young[name, version]
            entry["upload_time_iso_8601"] = iso(moment)
            entry["upload_time"] = moment.strftime("%Y-%m-%dT%H:%M:%S")
        if (name, version) in self.yanked:
            entry["yanked"], entry["yanked_reason"] = True, self.yanked[name, version]
        return entry

    def label(self, name: str) -> str:
        data = self.project(name)
        changed = any(key[0] == name for key in [*self.young, *self.yanked]) or name in self.status
        if data and data.get("synthetic"):
            return "synthetic"
        releases = data["releases"] if data else {}
        files = {f["filename"] for files in releases.values() for f in files}
        if changed or files & set(self.tampered):
            return "synthetic"
        return "recorded"

    def latest_json(self, name: str) -> dict[str, Any] | None:
        data = self.project(name)
        if data is None:
            return None
        releases = {
            version: [self.file(name, version, f) for f in files]
            for version, files in data["releases"].items()
        }
        latest = data["info"]["version"]
        result = {key: value for key, value in data.items() if key != "synthetic"}
        result.update(releases=releases, urls=releases.get(latest, []))
        return result

    def version_json(self, name: str, version: str) -> dict[str, Any] | None:
        data = self.project(name)
        if data is None or version not in data["releases"]:
            return None
        files = [self.file(name, version, f) for f in data["releases"][version]]
        info = copy.deepcopy(data["info"])
        info["version"] = version
        info["yanked"] = bool(files) and all(f["yanked"] for f in files)
        info["yanked_reason"] = files[0]["yanked_reason"] if info["yanked"] else None
        return {
            "info": info,
            "urls": files,
            "vulnerabilities": [],
            "last_serial": data.get("last_serial", 0),
        }

    def provenance(self, filename: str) -> dict[str, Any] | None:
        if filename in self.withheld:
            return None
        found = real_provenance().get(self.provenance_of.get(filename, filename))
        if found is None:
            return None
        provenance = copy.deepcopy(found[0])
        if filename in self.publisher:
            for bundle in provenance["attestation_bundles"]:
                bundle["publisher"] = dict(self.publisher[filename])
        return provenance

    def has_provenance(self, filename: str) -> bool:
        return self.provenance(filename) is not None

    def simple_json(self, name: str) -> dict[str, Any] | None:
        data = self.latest_json(name)
        if data is None:
            return None
        files = []
        for version, entries in data["releases"].items():
            for f in entries:
                if f["filename"] in self.hidden:
                    continue
                files.append(
                    {
                        "filename": f["filename"],
                        "url": f["url"],
                        "hashes": {"sha256": f["digests"]["sha256"]},
                        "requires-python": f.get("requires_python"),
                        "size": f.get("size"),
                        "upload-time": f["upload_time_iso_8601"],
                        "yanked": (f["yanked_reason"] or True) if f["yanked"] else False,
                        "provenance": (
                            f"{self.address}/integrity/{name}/{version}/{f['filename']}/provenance"
                            if self.has_provenance(f["filename"])
                            else None
                        ),
                    }
                )
        files.sort(key=lambda f: f["filename"])
        page: dict[str, Any] = {
            "meta": {"api-version": "1.4"},
            "name": name,
            "versions": list(data["releases"]),
            "files": files,
        }
        if name in self.status:
            status, reason = self.status[name]
            page["project-status"] = {"status": status, **({"reason": reason} if reason else {})}
        return page


def _kind(path: str) -> str:
    for kind, pattern in (
        ("json", r".*/pypi/[^/]+(/[^/]+)?/json"),
        ("simple", r".*/simple/[^/]+/?"),
        ("integrity", r".*/integrity/.+/provenance"),
        ("files", r".*/files/.+"),
    ):
        if re.fullmatch(pattern, path):
            return kind
    return "other"


class _Handler(BaseHTTPRequestHandler):
    index: IndexServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        index = self.index
        path = unquote(self.path.split("?", 1)[0])
        with index._lock:
            index.requests.append(path)
        if index.credentials:
            expected = base64.b64encode(":".join(index.credentials).encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                self._reply(401, {"message": "credentials required"})
                return
        key = (path, index.state())
        with index._lock:
            cached = index._answers.get(key)
        if cached is None:
            cached = self._compute(path)
            with index._lock:
                index._answers[key] = cached
        self._send(*cached)

    def _compute(self, path: str) -> tuple[int, bytes, str, str]:
        index = self.index
        if not path.startswith(index.prefix + "/"):
            return _answer(None, "recorded")
        path = path[len(index.prefix) :]
        if match := re.fullmatch(r"/pypi/([^/]+)/json", path):
            name = canonical(match[1])
            return _answer(index.latest_json(name), index.label(name))
        if match := re.fullmatch(r"/pypi/([^/]+)/([^/]+)/json", path):
            name = canonical(match[1])
            label = "synthetic" if index.label(name) == "synthetic" else "derived"
            return _answer(index.version_json(name, match[2]), label)
        if match := re.fullmatch(r"/simple/([^/]+)/?", path):
            name = canonical(match[1])
            label = "synthetic" if index.label(name) == "synthetic" else "derived"
            page = index.simple_json(name)
            if page is not None and not index.pep691:
                links = "".join(
                    f'<a href="{f["url"]}">{f["filename"]}</a>\n' for f in page["files"]
                )
                html = f"<!DOCTYPE html><html><body>\n{links}</body></html>\n"
                return 200, html.encode(), label, "text/html"
            return _answer(page, label, "application/vnd.pypi.simple.v1+json")
        if match := re.fullmatch(r"/files/([^/]+)", path):
            data = index.served.get(match[1])
            if data is None:
                return _answer(None, "recorded")
            return 200, data, "synthetic", "application/octet-stream"
        if match := re.fullmatch(r"/integrity/([^/]+)/([^/]+)/([^/]+)/provenance", path):
            filename = match[3]
            changed = filename in index.provenance_of or filename in index.publisher
            origin = real_provenance().get(filename, ({}, "derived"))[1]
            return _answer(index.provenance(filename), "synthetic" if changed else origin)
        return _answer(None, "recorded")

    def _send(self, status: int, payload: bytes, label: str, media: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Test-Data", label)
        self.end_headers()
        self.wfile.write(payload)

    def _reply(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body).encode(), "recorded", "application/json")


def _answer(body: Any, label: str, media: str = "application/json") -> tuple[int, bytes, str, str]:
    if body is None:
        return 404, json.dumps({"message": "not found"}).encode(), label, "application/json"
    return 200, json.dumps(body).encode(), label, media


if __name__ == "__main__":
    with IndexServer(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0) as server:
        print(server.simple_url, flush=True)
        server.thread.join()
