"""`poam validate FILE`: what a file is, and whether the receiving side would accept it.

A FedRAMP VER report is recognised by its keys (`vulnerabilities` with a `reportPeriod`: a VDR;
`acceptedVulnerabilities` with a `reportPeriod`: AVI; `generatedAt` with `activeVulnerabilities`:
Historical VER Activity) and checked against its pinned FedRAMP schema. An OSCAL POA&M (root
`plan-of-action-and-milestones`, JSON or XML) is checked by `exporters.oscal_checks` (the NIST schema
of its version, then FedRAMP's rules); when that module is missing, by the NIST 1.1.2 schema alone.
A file that cannot be read or is none of these is an `InputError` (exit status 2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poam.domain.problems import Problem
from poam.errors import InputError
from poam.exporters import fedramp_schemas

MAX_BYTES = 256 << 20
"""Largest file read (256 MiB): a VDR of 20,000 records is about 60 MiB."""
KINDS = {
    "vdr": "FedRAMP Vulnerability Detail Report",
    "avi": "FedRAMP Accepted Vulnerability Info",
    "ver-history": "FedRAMP Historical VER Activity",
    "oscal-poam": "OSCAL POA&M",
}
OSCAL_ROOT = "plan-of-action-and-milestones"


@dataclass(frozen=True)
class Checked:
    """The result of checking one file."""

    file: str
    kind: str
    schema_version: str | None
    problems: tuple[Problem, ...]
    checks: str  # what was checked, for the report line

    @property
    def valid(self) -> bool:
        return not self.problems


def detect(document: Any) -> str | None:
    """The kind of a parsed JSON document, by the key holding its list of vulnerabilities (None: not
    one poam checks); a report missing its other required keys is then found invalid, naming them."""
    if not isinstance(document, dict):
        return None
    if OSCAL_ROOT in document:
        return "oscal-poam"
    keys = set(document)
    if "activeVulnerabilities" in keys or ("generatedAt" in keys and "acceptedVulnerabilities" in keys):
        return "ver-history"
    if "vulnerabilities" in keys:
        return "vdr"
    if "acceptedVulnerabilities" in keys:
        return "avi"
    return None  # a report missing its list is not told apart from any other JSON


def _read(path: Path) -> bytes:
    try:
        if not path.is_file():
            raise InputError(str(path), "no such file" if not path.exists() else "not a regular file")
        if path.stat().st_size > MAX_BYTES:
            raise InputError(str(path), f"larger than {MAX_BYTES >> 20} MiB; not read")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read the file ({exc.strerror or type(exc).__name__})") from None


def _json(path: Path, data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError(str(path), "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise InputError(str(path), "JSON nested too deeply to read") from None


def check_file(path: Path, schemas_dir: Path | None = None) -> Checked:
    """Read FILE, tell what it is and check it."""
    data = _read(path)
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<":
        return _check_xml(path, data)
    document = _json(path, data)
    kind = detect(document)
    if kind is None:
        raise InputError(
            str(path),
            "not a FedRAMP VER report (VDR, AVI, Historical VER Activity) nor an OSCAL POA&M "
            "(no `vulnerabilities`, `acceptedVulnerabilities`, `activeVulnerabilities` or "
            "`plan-of-action-and-milestones` at the top)",
        )
    if kind == "oscal-poam":
        return _check_oscal(path, document)
    schemas = fedramp_schemas.load(schemas_dir)
    found = fedramp_schemas.problems(document, kind, schemas)
    return Checked(str(path), kind, schemas.version(kind), tuple(found), "FedRAMP schema (pinned by SHA-256)")


def _oscal_version(document: dict[str, Any]) -> str | None:
    body = document.get(OSCAL_ROOT)
    meta = body.get("metadata") if isinstance(body, dict) else None
    version = meta.get("oscal-version") if isinstance(meta, dict) else None
    return str(version) if version is not None else None


def _check_oscal(path: Path, document: dict[str, Any]) -> Checked:
    try:
        from poam.exporters import oscal_checks
    except ImportError:  # the FedRAMP rule checks are not installed: the NIST schema alone
        from poam.exporters import oscal_poam

        found = [
            Problem(line.split(":", 1)[0].replace("/", ".").rstrip(".") or "$", "", line.split(":", 1)[-1].strip())
            for line in oscal_poam.schema_errors(document, limit=1000)
        ]
        return Checked(str(path), "oscal-poam", _oscal_version(document), tuple(found), "NIST OSCAL 1.1.2 schema")
    return Checked(
        str(path),
        "oscal-poam",
        _oscal_version(document),
        tuple(oscal_checks.problems(document)),
        "NIST OSCAL schema of its version and FedRAMP's POA&M rules",
    )


def _check_xml(path: Path, data: bytes) -> Checked:
    """An OSCAL POA&M in XML: read safely (no entities, no DTD, `parsers.xmlsafe`) into its JSON
    form by `parsers.oscal_xml`, then checked like JSON."""
    import io

    from poam.parsers import xmlsafe

    root, entities = xmlsafe.prolog(xmlsafe.strip_bom(data))
    if entities:
        raise InputError(str(path), "XML entity declarations are not accepted (possible XXE or entity expansion)")
    if root != OSCAL_ROOT:
        raise InputError(str(path), f"XML with root <{root or '?'}> is not an OSCAL POA&M")
    try:
        from poam.parsers import oscal_xml
    except ImportError:  # pragma: no cover - the OSCAL XML reader ships with poam
        return Checked(
            str(path),
            "oscal-poam",
            None,
            (Problem("$", "", "OSCAL XML is not checked: this poam has no OSCAL XML reader"),),
            "none (no OSCAL XML reader)",
        )
    return _check_oscal(path, oscal_xml.load(io.BytesIO(data), str(path)))


def report_json(c: Checked) -> dict[str, Any]:
    """`poam validate --json`."""
    return {
        "file": c.file,
        "kind": c.kind,
        "schema_version": c.schema_version,
        "valid": c.valid,
        "problems": [{"path": p.path, "value": p.value, "message": p.message} for p in c.problems],
    }
