"""Write the project's accepted vulnerability exceptions as VEX, next to the SBOM: `make vex`.

Usage: python -I tools/vex.py --sbom SBOM --findings FINDINGS \
           --cyclonedx OUT.cdx.json [--openvex OUT.openvex.json]

FINDINGS is what `tools/audit.py --findings` wrote: each exception of audit-exceptions.toml
that is in force (ID, reason, expiry) and the locked packages it covers. Every one becomes:

- in the CycloneDX 1.6 VEX (an independent BOM, for scanners that read it with the SBOM): one
  vulnerability per identifier (the exception's ID and each alias of what it covers), with
  `affects` pointing into the SBOM by BOM-Link (urn:cdx:SERIAL/VERSION#BOM-REF), the reason
  as the analysis' detail and the expiry as a property. The document is validated against
  the CycloneDX 1.6 JSON schema that cyclonedx-python-lib ships before it is written.
- in the OpenVEX 0.2.0 document (for scanners that read OpenVEX, on any target): one
  statement, for this project's purl, with the affected package as a subcomponent.

An exception says the project accepts a risk for a while and why, not that a vulnerability
cannot affect anyone. So the state is CycloneDX `in_triage` (OpenVEX `under_investigation`):
scanners keep reporting the vulnerability; the VEX records the decision, the reason and the
date by which it is reviewed again.

A BOM-Link needs the SBOM's serialNumber: if the SBOM has none (cyclonedx-py's reproducible
output has none), one is derived from its content (UUID version 5) and written into it, with
the root component's purl if missing. The same SBOM always gets the same serial, and the
VEX's timestamps are the last commit's (SOURCE_DATE_EPOCH): the output is reproducible.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

NAMESPACE = uuid.NAMESPACE_URL
PROPERTY = "audit-exceptions"


class BadInput(Exception):
    pass


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def source_for(identifier: str) -> dict[str, str]:
    if identifier.startswith("CVE-"):
        return {"name": "NVD", "url": f"https://nvd.nist.gov/vuln/detail/{identifier}"}
    if identifier.startswith("GHSA-"):
        return {"name": "GitHub", "url": f"https://github.com/advisories/{identifier}"}
    return {"name": "OSV", "url": f"https://osv.dev/vulnerability/{identifier}"}


def epoch() -> int:
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        return int(os.environ["SOURCE_DATE_EPOCH"])
    git = shutil.which("git")
    if git:
        result = subprocess.run(  # noqa: S603 (git, fixed arguments)
            [git, "log", "-1", "--format=%ct"], capture_output=True, text=True, check=False
        )
        if result.returncode == 0 and result.stdout.strip().isdigit():
            return int(result.stdout.strip())
    return 315532800


def iso(seconds: int) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BadInput(f"cannot read the {what} {path}: {error}") from None


def write_json(path: Path, document: dict) -> None:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def with_serial(sbom: dict, path: Path) -> dict:
    """The SBOM with a serialNumber (and a root purl), written back if either was added."""
    if sbom.get("bomFormat") != "CycloneDX":
        raise BadInput(f"{path} is not a CycloneDX SBOM")
    root = sbom.setdefault("metadata", {}).get("component")
    if not root or not root.get("name") or not root.get("version"):
        raise BadInput(f"{path} names no root component with a version (metadata.component)")
    changed = False
    if not root.get("purl"):
        root["purl"] = f"pkg:pypi/{canonical(root['name'])}@{root['version']}"
        changed = True
    if not sbom.get("serialNumber"):
        content = json.dumps(sbom, sort_keys=True, separators=(",", ":")).encode()
        serial = f"urn:uuid:{uuid.uuid5(NAMESPACE, hashlib.sha256(content).hexdigest())}"
        ordered: dict = {}
        for key, value in sbom.items():
            ordered[key] = value
            if key == "specVersion":
                ordered["serialNumber"] = serial
        ordered.setdefault("serialNumber", serial)
        sbom = ordered
        changed = True
    if changed:
        write_json(path, sbom)
        print(f"{path}: serialNumber {sbom['serialNumber']}, root purl {root['purl']}")
    return sbom


def load_findings(path: Path) -> list[dict]:
    document = read_json(path, "findings")
    exceptions = document.get("exceptions") if isinstance(document, dict) else None
    if not isinstance(exceptions, list):
        raise BadInput(f"{path} is not what tools/audit.py --findings writes")
    for entry in exceptions:
        if not all(isinstance(entry.get(key), str) for key in ("id", "reason", "expires")):
            raise BadInput(f"{path}: an exception lacks its id, reason or expiry: {entry}")
    return exceptions


def build(exceptions: list[dict], sbom: dict, now: int) -> tuple[dict, dict]:
    root = sbom["metadata"]["component"]
    serial = sbom["serialNumber"].removeprefix("urn:uuid:")
    link = f"urn:cdx:{serial}/{sbom.get('version', 1)}"
    components = {
        (canonical(c.get("name", "")), c.get("version")): c
        for c in sbom.get("components", [])
        if c.get("bom-ref")
    }
    vulnerabilities: list[dict] = []
    statements: list[dict] = []
    emitted: set[str] = set()  # an alias two exceptions share is stated once
    for exception in exceptions:
        identifiers = [exception["id"]]
        affected: list[dict] = []
        for finding in exception.get("findings", []):
            identifiers += [i for i in finding["ids"] if i not in identifiers]
            component = components.get((canonical(finding["name"]), finding["version"]))
            if component is None:
                raise BadInput(
                    f"{exception['id']}: {finding['name']} {finding['version']} is locked but "
                    "not in the SBOM: run make sbom again"
                )
            if component not in affected:
                affected.append(component)
        refs = [c["bom-ref"] for c in affected] or (
            [root["bom-ref"]] if root.get("bom-ref") else []
        )
        analysis = {"state": "in_triage", "detail": exception["reason"], "lastUpdated": iso(now)}
        for identifier in identifiers:
            if identifier in emitted:
                continue
            emitted.add(identifier)
            entry: dict = {
                "bom-ref": f"vex:{identifier}",
                "id": identifier,
                "source": source_for(identifier),
            }
            others = [i for i in identifiers if i != identifier]
            if others:
                entry["references"] = [{"id": i, "source": source_for(i)} for i in others]
            entry["analysis"] = analysis
            if refs:
                entry["affects"] = [{"ref": f"{link}#{ref}"} for ref in refs]
            entry["properties"] = [
                {"name": f"{PROPERTY}:id", "value": exception["id"]},
                {"name": f"{PROPERTY}:expires", "value": exception["expires"]},
            ]
            vulnerabilities.append(entry)
        product: dict = {"@id": root["purl"]}
        subcomponents = [{"@id": c["purl"]} for c in affected if c.get("purl")]
        if subcomponents:
            product["subcomponents"] = subcomponents
        statement: dict = {
            "vulnerability": {"name": exception["id"]},
            "products": [product],
            "status": "under_investigation",
            "status_notes": f"{exception['reason']} (accepted until {exception['expires']})",
        }
        if identifiers[1:]:
            statement["vulnerability"]["aliases"] = identifiers[1:]
        statements.append(statement)

    body = hashlib.sha256(json.dumps(vulnerabilities, sort_keys=True).encode()).hexdigest()
    cyclonedx = {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{uuid.uuid5(NAMESPACE, f'vex:{serial}:{body}')}",
        "version": 1,
        "metadata": {
            "timestamp": iso(now),
            "component": {
                key: root[key]
                for key in ("type", "bom-ref", "name", "version", "purl")
                if key in root
            },
        },
        "vulnerabilities": vulnerabilities,
    }
    document = hashlib.sha256(json.dumps(statements, sort_keys=True).encode()).hexdigest()
    openvex = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": f"urn:uuid:{uuid.uuid5(NAMESPACE, f'openvex:{serial}:{document}')}",
        "author": f"{root['name']} maintainers",
        "timestamp": iso(now),
        "version": 1,
        "tooling": "tools/vex.py, from audit-exceptions.toml",
        "statements": statements,
    }
    return cyclonedx, openvex


def validate(document: dict) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(document))
    if error is not None:
        raise BadInput(f"the VEX does not validate against the CycloneDX 1.6 schema: {error}")


def main() -> int:
    parser = argparse.ArgumentParser(description="audit-exceptions.toml as VEX")
    parser.add_argument("--sbom", type=Path, required=True)
    parser.add_argument("--findings", type=Path, required=True)
    parser.add_argument("--cyclonedx", type=Path, required=True)
    parser.add_argument("--openvex", type=Path)
    args = parser.parse_args()
    try:
        exceptions = load_findings(args.findings)
        sbom = with_serial(read_json(args.sbom, "SBOM"), args.sbom)
        cyclonedx, openvex = build(exceptions, sbom, epoch())
        validate(cyclonedx)
    except BadInput as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    write_json(args.cyclonedx, cyclonedx)
    count = len(exceptions)
    print(f"Wrote {args.cyclonedx}: {count} exceptions, valid CycloneDX 1.6 VEX")
    if args.openvex:
        # OpenVEX needs at least one statement: with no exceptions there is no document.
        if openvex["statements"]:
            write_json(args.openvex, openvex)
            print(f"Wrote {args.openvex}: {count} OpenVEX statements")
        else:
            args.openvex.unlink(missing_ok=True)
            print(f"No exceptions: no {args.openvex} (OpenVEX needs a statement)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
