"""The FedRAMP CR26 VER JSON schemas (VER-RPT-VDT, VER-RPT-AVI, VER-TFR-MRH), pinned by SHA-256.

poam ships the files of FedRAMP/schemas @ ae0dc43e (report schemas 0.1.0, common-definitions
0.1.1). FedRAMP corrects these files in place under the same names, so a file is accepted only when
its digest is listed in `schemas/fedramp/pins.json` (the shipped files and the corrected versions
whose digests are known: report schemas 0.1.1, common-definitions 0.3.0). A folder of corrected
files is chosen with `--schemas DIR` or `$POAM_FEDRAMP_SCHEMAS`; a file missing there is taken from
the shipped set. The 0.1.0 files write `$ref` as `...schema-2026-06-24.json/$defs/x` (no `#`, which
no resolver reads): it is rewritten to `#/$defs/x` when loading, and common-definitions is
registered under its `$id` so references resolve offline (nothing is fetched).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from poam.domain.problems import Problem
from poam.errors import InputError, printable

HERE = Path(__file__).resolve().parent / "schemas" / "fedramp"
ENV = "POAM_FEDRAMP_SCHEMAS"
FILES = {
    "vdr": "fedramp-vulnerability-detail-report-schema-2026-06-24.json",
    "avi": "fedramp-accepted-vulnerability-info-schema-2026-06-24.json",
    "ver-history": "fedramp-historical-ver-activity-schema-2026-06-24.json",
    "common": "fedramp-common-definitions-schema-2026-06-24.json",
}
REPORTS = ("vdr", "avi", "ver-history")
COMMON_ID = "https://fedramp.gov/schemas/fedramp-common-definitions-schema-2026-06-24.json"
_NO_HASH_REF = re.compile(r"(\.json)/\$defs/")
MAX_SCHEMA_BYTES = 1 << 20
VALUE_WIDTH = 120


@dataclass(frozen=True)
class SchemaFile:
    """One pinned schema file as loaded (its `$ref`s already rewritten)."""

    name: str
    version: str
    sha256: str
    origin: str  # "shipped" or the file's path
    data: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True, eq=False)
class SchemaSet:
    """The four schema files the VER reports are checked against."""

    files: dict[str, SchemaFile]

    def version(self, kind: str) -> str:
        """`0.1.0 (common-definitions 0.1.1)`: the report schema's version and the definitions'."""
        return f"{self.files[kind].version} (common-definitions {self.files['common'].version})"

    def _detail(self) -> dict[str, Any]:
        defs = self.files["common"].data.get("$defs", {})
        detail = defs.get("vulnerabilityDetail", {})
        return detail if isinstance(detail, dict) else {}

    @property
    def dispositions(self) -> tuple[str, ...]:
        """The `finalDisposition` values the definitions allow."""
        prop = self._detail().get("properties", {}).get("finalDisposition", {})
        return tuple(str(v) for v in prop.get("enum", ()))

    @property
    def has_reduction_events(self) -> bool:
        """Whether `vulnerabilityDetail` has `painReductionEvents` (common-definitions 0.3.0)."""
        return "painReductionEvents" in self._detail().get("properties", {})


@cache
def pins() -> dict[str, dict[str, dict[str, Any]]]:
    """File name -> sha256 -> {version, source, shipped}."""
    data = json.loads((HERE / "pins.json").read_text(encoding="utf-8"))
    return {str(k): dict(v) for k, v in data["files"].items()}


def _pinned_list(name: str) -> str:
    return ", ".join(f"{p['version']} {digest[:12]}" for digest, p in pins()[name].items())


def _read(path: Path, name: str, origin: str) -> SchemaFile:
    try:
        if path.stat().st_size > MAX_SCHEMA_BYTES:
            raise InputError(str(path), "too large for a FedRAMP schema file")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read the schema file ({exc.strerror or type(exc).__name__})") from None
    digest = hashlib.sha256(raw).hexdigest()
    pin = pins()[name].get(digest)
    if pin is None:
        raise InputError(
            str(path),
            f"sha256 {digest[:16]}... is not a pinned FedRAMP schema (pinned: {_pinned_list(name)}); "
            "poam uses only schema files whose digest it knows",
        )
    text = _NO_HASH_REF.sub(r"\1#/$defs/", raw.decode("utf-8"))
    return SchemaFile(name, str(pin["version"]), digest, origin, json.loads(text))


def folder_from_env() -> Path | None:
    value = os.environ.get(ENV, "").strip()
    return Path(value) if value else None


def load(folder: Path | None = None) -> SchemaSet:
    """The schema set: files from `folder` (or `$POAM_FEDRAMP_SCHEMAS`) where present, each checked
    against the pins, the shipped files otherwise."""
    folder = folder if folder is not None else folder_from_env()
    return _load(str(folder.resolve()) if folder is not None else None)


@cache
def _load(folder: str | None) -> SchemaSet:
    files: dict[str, SchemaFile] = {}
    found = 0
    if folder is not None and not Path(folder).is_dir():
        raise InputError(folder, "is not a folder of FedRAMP schema files (--schemas / $POAM_FEDRAMP_SCHEMAS)")
    for key, name in FILES.items():
        theirs = Path(folder) / name if folder is not None else None
        if theirs is not None and theirs.is_file():
            files[key] = _read(theirs, name, str(theirs))
            found += 1
        else:
            files[key] = _read(HERE / name, name, "shipped")
    if folder is not None and not found:
        raise InputError(folder, f"holds none of the FedRAMP VER schema files ({', '.join(FILES.values())})")
    return SchemaSet(files)


@cache
def _validator(schemas: SchemaSet, kind: str) -> Any:
    import jsonschema_rs

    common = schemas.files["common"].data
    registry = jsonschema_rs.Registry([(str(common.get("$id") or COMMON_ID), common)])
    return jsonschema_rs.Draft202012Validator(
        schemas.files[kind].data, registry=registry, validate_formats=True, offline=True
    )


def json_path(parts: list[str | int] | tuple[str | int, ...]) -> str:
    """`$.vulnerabilities[3].overdueStatus` from the path's parts."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", p):
            out += f".{p}"
        else:
            out += "[" + json.dumps(p) + "]"
    return out


def shown(value: Any, width: int = VALUE_WIDTH) -> str:
    """A value as short printable text: JSON, cut to `width` characters with `...`."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = printable(text)
    return text if len(text) <= width else text[: width - 3] + "..."


def _message(err: Any) -> str:
    """The validator's message; for a value outside an `enum`, every allowed value named."""
    options = getattr(err.kind, "options", None)
    if isinstance(options, list) and len(options) <= 12:
        allowed = ", ".join(json.dumps(o, ensure_ascii=False) for o in options)
        return printable(f"not one of the allowed values: {allowed}")
    return printable(str(err.message))


def problems(document: Any, kind: str, schemas: SchemaSet | None = None) -> list[Problem]:
    """Where the document breaks the schema of `kind` (vdr, avi, ver-history); empty when valid."""
    schemas = schemas or load()
    found = []
    for err in _validator(schemas, kind).iter_errors(document):
        found.append(Problem(json_path(list(err.instance_path)), shown(err.instance), _message(err)))
    return found
