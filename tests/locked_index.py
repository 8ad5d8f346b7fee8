"""Run make targets of a generated project where only what its locks name can be installed.

`run_locked(project, targets, store=..., work=...)`:

1. Reads the project's locks (uv.lock with its hashed build constraints, pdm.lock,
   poetry.lock, requirements/*.txt): every locked distribution as (name, sha256), with
   its file name where the lock records one.
2. Downloads exactly the locked files this interpreter can install (wheel tags; an sdist
   only where no wheel fits) from PyPI into `store`, each checked against its sha256.
3. Runs `make TARGETS` in the project with empty caches (a fresh HOME, UV_CACHE_DIR,
   PIP_CACHE_DIR, PDM_CACHE_DIR, POETRY_CACHE_DIR) behind a local HTTPS proxy that plays
   pypi.org and files.pythonhosted.org from the store, with a throwaway CA that is the
   only one the tools trust. Index pages list only locked files; every other request
   (another package, another file, another host, plain HTTP) is refused and recorded.
   Inside a new user and network namespace (`unshare`), the proxy on the loopback is the
   only network there is; where unprivileged namespaces are refused, the proxy variables
   alone steer the tools and the report says so.

The project's toolchain (.tools) is expected to be installed already: `make tools` installs
it from tools/toolchain.txt with --require-hashes --only-binary, so it cannot fetch anything
unlocked by construction. The report lists every request; `ok` is false when make failed or
anything was refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import html
import json
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import tomllib
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HOSTS = ("pypi.org", "files.pythonhosted.org")
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==\S+")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_files(project: Path) -> dict[str, set[str]]:
    """name -> the sha256 digests the project's locks name for it."""
    found: dict[str, set[str]] = {}

    def add(name: str, value: str) -> None:
        algorithm, _, digest = value.partition(":")
        if algorithm == "sha256" and digest:
            found.setdefault(canonical(name), set()).add(digest.lower())

    for lock in ("uv.lock", "pdm.lock", "poetry.lock"):
        path = project / lock
        if not path.exists():
            continue
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for package in data.get("package", []):
            artefacts = [
                package.get("sdist"),
                *package.get("wheels", []),
                *package.get("files", []),
            ]
            for artefact in filter(None, artefacts):
                add(package["name"], artefact.get("hash", ""))
        for constraint in data.get("manifest", {}).get("build-constraints", []):
            for value in constraint.get("hashes", []):
                add(constraint["name"], value)
    for path in sorted((project / "requirements").glob("*.txt")):
        text = path.read_text(encoding="utf-8").replace("\\\n", " ")
        for line in text.splitlines():
            if match := REQUIREMENT.match(line.strip()):
                for value in re.findall(r"--hash=(\S+)", line):
                    add(match[1], value)
    assert found, f"no lock in {project}"
    return found


@dataclass
class Entry:
    filename: str
    url: str
    sha256: str
    requires_python: str | None
    upload_time: str | None  # uv's exclude-newer needs it
    size: int | None


def interpreter_tags(python: str) -> set[str]:
    code = "import json; from packaging import tags; print(json.dumps([str(t) for t in tags.sys_tags()]))"
    result = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, check=False)
    if result.returncode != 0:  # that interpreter lacks packaging: this one has the same tags
        from packaging import tags

        return {str(t) for t in tags.sys_tags()}
    return set(json.loads(result.stdout))


def fits(filename: str, tags: set[str]) -> bool:
    pythons, abis, platforms = filename[:-4].split("-")[-3:]
    return any(
        f"{p}-{a}-{pl}" in tags
        for p in pythons.split(".")
        for a in abis.split(".")
        for pl in platforms.split(".")
    )


def materialise(locked: dict[str, set[str]], store: Path, tags: set[str]) -> dict[str, list[Entry]]:
    """Fetch the installable locked files into the store; the index to serve."""
    (store / "files").mkdir(parents=True, exist_ok=True)
    (store / "index").mkdir(parents=True, exist_ok=True)
    served = {}
    for name, digests in sorted(locked.items()):
        page = store / "index" / f"{name}.json"
        if not page.exists():
            request = urllib.request.Request(
                f"https://pypi.org/simple/{name}/", headers={"Accept": SIMPLE_JSON}
            )
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                page.write_bytes(response.read())
        by_hash = {f["hashes"].get("sha256"): f for f in json.loads(page.read_bytes())["files"]}
        missing = digests - set(by_hash)
        assert not missing, f"{name}: locked files not on PyPI: {sorted(missing)}"
        entries = [
            Entry(
                f["filename"],
                f["url"],
                digest,
                f.get("requires-python"),
                f.get("upload-time"),
                f.get("size"),
            )
            for digest in sorted(digests)
            for f in [by_hash[digest]]
        ]
        wheels = [e for e in entries if e.filename.endswith(".whl") and fits(e.filename, tags)]
        chosen = wheels or [e for e in entries if not e.filename.endswith(".whl")]
        for entry in chosen:
            target = store / "files" / entry.sha256
            if not target.exists():
                with urllib.request.urlopen(entry.url, timeout=300) as response:  # noqa: S310
                    data = response.read()
                assert hashlib.sha256(data).hexdigest() == entry.sha256, entry.url
                target.with_suffix(".part").write_bytes(data)
                target.with_suffix(".part").replace(target)
        served[name] = chosen
    return served


class Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: Path, served: dict[str, list[Entry]], context: ssl.SSLContext):
        super().__init__(("127.0.0.1", 0), Handler)
        self.store, self.served, self.context = store, served, context
        self.by_path = {
            urllib.parse.urlsplit(e.url).path: e for entries in served.values() for e in entries
        }
        self.log: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def record(self, method: str, url: str, status: int, note: str = "") -> None:
        with self.lock:
            self.log.append({"method": method, "url": url, "status": status, "note": note})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Proxy
    host = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def refuse(self, status: int, note: str) -> None:
        url = f"https://{self.host}{self.path}" if self.host else self.path
        self.server.record(self.command, url, status, note)
        self.send(status, f"refused: {note}\n".encode(), "text/plain")

    def send(self, status: int, data: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_CONNECT(self) -> None:
        host, _, port = self.path.partition(":")
        if host not in HOSTS or port != "443":
            self.refuse(403, f"{self.path} is not PyPI")
            self.close_connection = True
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        try:
            tls = self.server.context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError) as error:
            self.server.record("CONNECT", self.path, 0, f"TLS handshake failed: {error}")
            self.close_connection = True
            return
        Tunnel.serve(tls, self.client_address, self.server, host)
        self.close_connection = True

    def do_GET(self) -> None:
        if not self.host:
            self.refuse(403, "plain HTTP")
            return
        path = urllib.parse.urlsplit(self.path).path
        if self.host == "files.pythonhosted.org":
            entry = self.server.by_path.get(path)
            if entry is None:
                self.refuse(404, "a file the locks do not name")
                return
            self.send(
                200,
                (self.server.store / "files" / entry.sha256).read_bytes(),
                "application/octet-stream",
            )
            self.server.record(self.command, f"https://{self.host}{path}", 200, entry.filename)
            return
        match = re.fullmatch(r"/simple/([^/]+)/?", path)
        name = canonical(urllib.parse.unquote(match[1])) if match else ""
        if self.host != "pypi.org" or name not in self.server.served:
            self.refuse(404, f"not an index page of a locked package ({name or path})")
            return
        entries = sorted(self.server.served[name], key=lambda e: e.filename)
        if SIMPLE_JSON in self.headers.get("Accept", ""):
            files = [
                {
                    "filename": e.filename,
                    "url": e.url,
                    "hashes": {"sha256": e.sha256},
                    **({"requires-python": e.requires_python} if e.requires_python else {}),
                    **({"upload-time": e.upload_time} if e.upload_time else {}),
                    **({"size": e.size} if e.size is not None else {}),
                }
                for e in entries
            ]
            body = json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": files})
            self.send(200, body.encode(), SIMPLE_JSON)
        else:
            links = "".join(
                f'<a href="{html.escape(e.url)}#sha256={e.sha256}"'
                + (
                    f' data-requires-python="{html.escape(e.requires_python)}"'
                    if e.requires_python
                    else ""
                )
                + f">{html.escape(e.filename)}</a><br/>\n"
                for e in entries
            )
            self.send(
                200, f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode(), "text/html"
            )
        self.server.record(self.command, f"https://{self.host}{path}", 200, f"{len(entries)} files")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        self.refuse(403, "POST")


class Tunnel(Handler):
    """The same handler, reading requests from inside a CONNECT tunnel's TLS session."""

    @classmethod
    def serve(cls, connection: ssl.SSLSocket, address: Any, server: Proxy, host: str) -> None:
        self = cls.__new__(cls)
        self.request = self.connection = connection
        self.client_address, self.server, self.host = address, server, host
        self.rfile = connection.makefile("rb", -1)
        self.wfile = connection.makefile("wb", 0)
        self.close_connection = False
        try:
            while not self.close_connection:
                self.handle_one_request()
        except (OSError, ssl.SSLError):
            pass
        finally:
            for stream in (self.wfile, self.rfile):
                with contextlib.suppress(OSError):
                    stream.close()

    def do_CONNECT(self) -> None:
        self.refuse(403, "CONNECT inside a tunnel")


def certificate_authority(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for PyPI's two hosts (openssl)."""
    ca_key, ca, key, csr, cert = (
        directory / n for n in ("ca.key", "ca.pem", "host.key", "host.csr", "host.pem")
    )
    extensions = directory / "host.ext"
    extensions.write_text(
        "subjectAltName=" + ",".join(f"DNS:{h}" for h in HOSTS) + "\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    openssl = ["openssl"]
    quiet = {"check": True, "capture_output": True}
    subprocess.run(
        [*openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=locked_index throwaway CA", "-keyout", ca_key, "-out", ca,
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        **quiet,
    )  # fmt: skip
    subprocess.run(
        [*openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=pypi.org", "-keyout", key, "-out", csr],
        **quiet,
    )  # fmt: skip
    subprocess.run(
        [*openssl, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-days", "2", "-extfile", extensions, "-out", cert],
        **quiet,
    )  # fmt: skip
    return ca, cert, key


def loopback_up() -> None:
    """Bring `lo` up inside a fresh network namespace (SIOCGIFFLAGS, SIOCSIFFLAGS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, 0x8913, request))[1]
        fcntl.ioctl(sock, 0x8914, struct.pack("16sh", b"lo", flags | 0x1))


def can_unshare() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = ["unshare", "--user", "--map-root-user", "--net", "true"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def environment(base: dict[str, str], home: Path, proxy: str, ca: Path) -> dict[str, str]:
    dropped = ("PIP_", "UV_", "PDM_", "POETRY_", "VIRTUAL_ENV", "XDG_")
    env = {k: v for k, v in base.items() if not k.startswith(dropped)}
    for key in list(env):
        if key.lower() in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}:
            del env[key]
    caches = home / "cache"
    env.update(
        {
            "HOME": str(home),
            "XDG_CACHE_HOME": str(caches),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "UV_CACHE_DIR": str(caches / "uv"),
            "PIP_CACHE_DIR": str(caches / "pip"),
            "PDM_CACHE_DIR": str(caches / "pdm"),
            "POETRY_CACHE_DIR": str(caches / "poetry"),
            "POETRY_CONFIG_DIR": str(home / "config" / "poetry"),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            **{
                name: proxy
                for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")
            },
            **{name: str(ca) for name in ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")},
        }
    )
    return env


def inner(config_file: Path) -> int:
    """Inside the namespace (or not): the proxy, then make; writes the report."""
    config = json.loads(config_file.read_text())
    if config["isolated"]:
        loopback_up()
    work, store = Path(config["work"]), Path(config["store"])
    ca, cert, key = certificate_authority(work)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])
    served = {n: [Entry(**e) for e in entries] for n, entries in config["served"].items()}
    proxy = Proxy(store, served, context)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    env = environment(
        config["env"], work / "home", f"http://127.0.0.1:{proxy.server_address[1]}", ca
    )
    result = subprocess.run(
        ["make", "--no-print-directory", *config["targets"]],
        cwd=config["project"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    proxy.shutdown()
    refused = [entry for entry in proxy.log if entry["status"] != 200]
    report = {
        "isolated_network": config["isolated"],
        "returncode": result.returncode,
        "stdout": result.stdout[-8000:],
        "stderr": result.stderr[-8000:],
        "requests": proxy.log,
        "refused": refused,
        "ok": result.returncode == 0 and not refused,
    }
    Path(config["report"]).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def run_locked(
    project: Path, targets: list[str], *, store: Path, work: Path, env: dict[str, str]
) -> dict[str, Any]:
    """Run `make TARGETS` in project with only its locked files reachable; the report."""
    served = materialise(locked_files(project), store, interpreter_tags(sys.executable))
    isolated = can_unshare()
    config = work / "config.json"
    report = work / "report.json"
    config.write_text(
        json.dumps(
            {
                "project": str(project),
                "work": str(work),
                "store": str(store),
                "report": str(report),
                "targets": targets,
                "isolated": isolated,
                "env": env,
                "served": {n: [asdict(e) for e in entries] for n, entries in served.items()},
            }
        )
    )
    command = [sys.executable, "-I", __file__, str(config)]
    if isolated:
        command = ["unshare", "--user", "--map-root-user", "--net", "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    assert report.exists(), f"locked_index.py failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(report.read_text())


if __name__ == "__main__":
    raise SystemExit(inner(Path(sys.argv[1])))
