"""Create the GitLab Release for the tag, with permanent assets, with the job token only.

Usage (a tag pipeline's job, `make gitlab-release`):
  python -I tools/gitlab_release.py FILE[=NAME]...

Each FILE (the distributions, their provenance, the SBOM and the VEX), under NAME if given,
is uploaded to the project's generic package registry (PUT /projects/:id/packages/generic/
release-assets/TAG/NAME, header JOB-TOKEN), where it stays until someone deletes it: job
artifacts expire, packages do not. The registry's sha256 of each upload must equal the
local file's. Then the release is created (POST /projects/:id/releases) with one asset link
per file, each with a permanent address (/-/releases/TAG/downloads/dist/NAME for the
distributions, .../evidence/NAME for the rest).

Running it again is safe: a file already in the registry with the same sha256 is kept (one
with another sha256 is an error: a release's files never change), and an existing release
only gets the links it lacks. Needs CI_API_V4_URL, CI_PROJECT_ID, CI_COMMIT_TAG and
CI_JOB_TOKEN, which GitLab sets; the job token may call all three APIs.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

PACKAGE = "release-assets"


class Refused(Exception):
    pass


def env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise Refused(f"{name} is not set: run this in a GitLab CI/CD tag pipeline")
    return value


def quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


class Api:
    def __init__(self) -> None:
        self.base = env("CI_API_V4_URL").rstrip("/")
        if not self.base.startswith(("https://", "http://")):
            raise Refused(f"CI_API_V4_URL is not an http(s) URL: {self.base}")
        self.project = f"{self.base}/projects/{quote(env('CI_PROJECT_ID'))}"
        self.token = env("CI_JOB_TOKEN")

    def call(self, method: str, path: str, body: bytes | None = None, media: str = ""):
        request = urllib.request.Request(self.project + path, data=body, method=method)  # noqa: S310 (the API's URL)
        request.add_header("JOB-TOKEN", self.token)
        if media:
            request.add_header("Content-Type", media)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            return error.code, {"error": error.read().decode(errors="replace")[:300]}

    def json(self, method: str, path: str, body: dict):
        return self.call(method, path, json.dumps(body).encode(), "application/json")


PER_PAGE = 100


def every_page(api: Api, path: str, query: dict[str, str], what: str) -> list[dict]:
    """Every item of a paginated list, page after page until a short one."""
    items: list[dict] = []
    page = 1
    while True:
        pages = urllib.parse.urlencode({**query, "per_page": PER_PAGE, "page": page})
        status, batch = api.call("GET", f"{path}?{pages}")
        if status != 200 or not isinstance(batch, list):
            raise Refused(f"cannot list {what} ({status}): {batch}")
        items += batch
        if len(batch) < PER_PAGE:
            return items
        page += 1


def existing_files(api: Api, version: str) -> dict[str, str]:
    """File name -> sha256 of what the registry already holds for this release (a project
    keeps one generic package version per release: after a hundred, they span pages)."""
    query = {"package_type": "generic", "package_name": PACKAGE}
    found: dict[str, str] = {}
    for item in every_page(api, "/packages", query, "the package registry"):
        if item.get("name") != PACKAGE or item.get("version") != version:
            continue
        files = every_page(
            api, f"/packages/{item['id']}/package_files", {}, f"the files of {PACKAGE} {version}"
        )
        for entry in files:
            found[entry["file_name"]] = entry.get("file_sha256") or ""
    return found


def upload(api: Api, version: str, path: Path, name: str, already: dict[str, str]) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if name in already:
        if already[name] != digest:
            raise Refused(
                f"{PACKAGE} {version} already holds a different {name} (sha256 "
                f"{already[name]}, here {digest}): a release's files never change"
            )
        return f"kept     {name} (already uploaded, same sha256)"
    target = f"/packages/generic/{quote(PACKAGE)}/{quote(version)}/{quote(name)}"
    status, answer = api.call(
        "PUT", f"{target}?select=package_file", path.read_bytes(), "application/octet-stream"
    )
    if status not in (200, 201):
        raise Refused(f"uploading {name} failed ({status}): {answer}")
    if answer.get("file_sha256") != digest:
        raise Refused(f"the registry stored {name} with sha256 {answer.get('file_sha256')}")
    return f"uploaded {name} (sha256 {digest})"


def release(files: list[tuple[Path, str]]) -> str:
    api = Api()
    tag = env("CI_COMMIT_TAG")
    already = existing_files(api, tag)
    for path, name in files:
        print(upload(api, tag, path, name, already), flush=True)
    links = []
    for _path, name in files:
        folder = "dist" if name.endswith((".whl", ".tar.gz")) else "evidence"
        links.append(
            {
                "name": name,
                "url": f"{api.project}/packages/generic/{PACKAGE}/{quote(tag)}/{quote(name)}",
                "link_type": "package",
                "direct_asset_path": f"/{folder}/{name}",
            }
        )
    lines = [
        f"{tag}: the distributions published to PyPI, their signed SLSA provenance "
        "(`*.intoto.jsonl`), the SBOM and the VEX. RELEASING.md says how to verify them.",
        "",
        "| File | SHA-256 |",
        "| --- | --- |",
    ]
    lines += [f"| `{name}` | `{hashlib.sha256(p.read_bytes()).hexdigest()}` |" for p, name in files]
    body = {"tag_name": tag, "name": tag, "description": "\n".join(lines)}
    status, answer = api.json("POST", "/releases", {**body, "assets": {"links": links}})
    if status == 201:
        return f"Created release {tag} with {len(links)} assets"
    if status != 409:
        raise Refused(f"creating release {tag} failed ({status}): {answer}")
    status, existing = api.call("GET", f"/releases/{quote(tag)}")
    if status != 200:
        raise Refused(f"release {tag} exists but cannot be read ({status}): {existing}")
    have = {link["name"]: link for link in existing.get("assets", {}).get("links", [])}
    for link in links:
        if link["name"] in have:
            if have[link["name"]]["url"] != link["url"]:
                raise Refused(f"release {tag} links {link['name']} elsewhere: {have[link['name']]}")
            continue
        status, answer = api.json("POST", f"/releases/{quote(tag)}/assets/links", link)
        if status != 201:
            raise Refused(f"adding {link['name']} to release {tag} failed ({status}): {answer}")
        print(f"linked   {link['name']}")
    return f"Release {tag} has all {len(links)} assets"


def main() -> int:
    given = [argument.partition("=") for argument in sys.argv[1:]]
    files = [(Path(path), name or Path(path).name) for path, _, name in given]
    try:
        missing = [str(path) for path, _ in files if not path.is_file()]
        if not files or missing:
            raise Refused(f"give the files to release; not found: {', '.join(missing) or 'none'}")
        names = [name for _, name in files]
        if len(set(names)) != len(names):
            raise Refused("two files have the same name: release assets need unique names")
        print(release(files))
    except Refused as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
