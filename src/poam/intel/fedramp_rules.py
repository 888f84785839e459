"""The FedRAMP Consolidated Rules 2026 dataset (FedRAMP/rules, `fedramp-consolidated-rules.json`):
the definitions, rules and timeframe tables the `fedramp-cr26` rule set reads.

A copy is shipped in the package (version 2026.07.14.01 of 2026-07-14, FedRAMP/rules @ 12fe1b60,
US Government work) and checked against its SHA-256 before use; `poam intel load` takes a newer one,
checked against the dataset's own JSON schema (shipped too). Nothing is fetched.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from poam.domain.rules import Duration
from poam.domain.rules.cr26 import Cr26Tables
from poam.errors import InputError
from poam.parsers import jsonio

DATA = Path(__file__).resolve().parent.parent / "data"
BUNDLED = DATA / "fedramp-consolidated-rules.json.gz"
BUNDLED_SHA256 = "135707003f0aaa5ceb10d7d32c2681e5b1585a4eaf4403d0d135837787e5ae8e"
"""Of the uncompressed file, as PROVENANCE.md of the reference data records it."""
SCHEMA = DATA / "fedramp-consolidated-rules.schema.json"
MAX_SIZE = 64 * 1024 * 1024
_RULE_ID = re.compile(r"[A-Z]{2,5}-[A-Z]{2,5}-[A-Z0-9]{2,8}")


@dataclass(frozen=True, slots=True)
class Rules:
    version: str
    last_updated: str
    document: dict[str, Any]

    def rule_count(self) -> int:
        """How many rules (entries keyed by a rule id such as VER-TFR-EVU) the dataset's FRR holds."""
        count, stack = 0, [self.document.get("FRR", {})]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for key, value in node.items():
                    if isinstance(value, dict) and _RULE_ID.fullmatch(key):
                        count += 1  # a rule (its parts, by class or level, are not more rules)
                    elif isinstance(value, dict | list):
                        stack.append(value)
            elif isinstance(node, list):
                stack.extend(v for v in node if isinstance(v, dict | list))
        return count


def looks_like(head: bytes) -> bool:
    return (
        head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"{")
        and b'"FRR"' in head
        or (b'"FedRAMP Consolidated Rules' in head)
    )


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else -1 for p in version.split("."))


def check(document: Any, source: str) -> Rules:
    """The dataset, once it matches its schema (InputError with the first problems otherwise)."""
    errors = []
    for err in _validator().iter_errors(document):
        path = "/".join(str(p) for p in err.instance_path)
        errors.append(f"/{path}: {err.message[:200]}")
        if len(errors) >= 3:
            break
    if errors:
        raise InputError(source, "not a valid FedRAMP consolidated rules file: " + "; ".join(errors))
    info = document["info"]
    return Rules(str(info["version"]), str(info.get("last_updated", "")), document)


@cache
def _validator() -> Any:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))


@cache
def bundled() -> Rules:
    """The shipped dataset, after checking that it is the pinned file."""
    data = gzip.decompress(BUNDLED.read_bytes())
    if hashlib.sha256(data).hexdigest() != BUNDLED_SHA256:
        raise RuntimeError(f"{BUNDLED}: not the pinned FedRAMP rules file (SHA-256 differs); reinstall poam")
    return check(json.loads(data), str(BUNDLED))


def read(data: bytes, source: str) -> Rules:
    """A rules file a user loads: valid, and not older than the one shipped."""
    document = jsonio.load(io.BytesIO(data), source, MAX_SIZE)
    rules = check(document, source)
    try:
        cr26_tables(rules)  # the timeframes poam reads must be there and readable before it is loaded
    except InputError as exc:
        raise InputError(source, exc.problem) from None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise InputError(source, f"the VDR/VER timeframe tables cannot be read ({type(exc).__name__})") from None
    shipped = bundled()
    if _version_key(rules.version) < _version_key(shipped.version):
        raise InputError(
            source, f"version {rules.version} is older than the {shipped.version} poam ships: load a newer one"
        )
    return rules


def cr26_tables(rules: Rules) -> Cr26Tables:
    """The VDR/VER timeframes the `fedramp-cr26` rule set needs, read from the dataset:
    VER-TFR-EVU (evaluation windows), VDR-TFR-PVR (`pain_timeframes`), VER-TFR-MAV (192 days),
    VER-TFR-IRI and VER-TFR-NRI (incident forces), each by class."""
    vdr = _rule(rules.document, "VDR", "VDR-TFR-PVR")
    evu = _rule(rules.document, "VER", "VER-TFR-EVU")
    mav = _rule(rules.document, "VER", "VER-TFR-MAV")
    iri = _rule(rules.document, "VER", "VER-TFR-IRI")
    nri = _rule(rules.document, "VER", "VER-TFR-NRI")
    classes = ("b", "c", "d")
    pain: dict[str, dict[int, dict[str, Duration]]] = {}
    for cls in classes:
        cells = vdr["varies_by_class"][cls]["pain_timeframes"]
        pain[cls] = {
            int(rating): {col: _duration(cell) for col, cell in row.items()} for rating, row in cells.items() if row
        }
    return Cr26Tables(
        version=rules.version,
        evaluation={c: _duration(evu["varies_by_class"][c]) for c in classes},
        pain=pain,
        accepted=_duration(mav),
        incident_force={c: str(iri["varies_by_class"][c]["force"]) for c in classes},
        nirv_incident_force={c: str(nri["varies_by_class"][c]["force"]) for c in classes},
        evaluation_force={c: str(evu["varies_by_class"][c]["force"]) for c in classes},
        pain_force={c: str(vdr["varies_by_class"][c]["force"]) for c in classes},
    )


def _rule(document: dict[str, Any], family: str, rule_id: str) -> dict[str, Any]:
    """A rule of FRR.<family>, wherever the dataset files it (`all` or `rev5`, under its subset)."""
    data = document["FRR"][family]["data"]
    for bucket in ("rev5", "all"):
        for subset in (data.get(bucket) or {}).values():
            if isinstance(subset, dict) and rule_id in subset:
                return subset[rule_id]  # type: ignore[no-any-return]
    raise InputError("FedRAMP rules", f"{rule_id} is missing from the rules dataset")


def _duration(cell: dict[str, Any]) -> Duration:
    kind, num = cell.get("timeframe_type"), cell.get("timeframe_num")
    if kind not in ("days", "hours") or not isinstance(num, int) or num <= 0:
        raise InputError("FedRAMP rules", f"a timeframe poam cannot read: {kind!r} {num!r}")
    return Duration(num, kind)
