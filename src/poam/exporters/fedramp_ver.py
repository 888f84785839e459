"""FedRAMP CR26 VER reports as JSON: the Vulnerability Detail Report (VER-RPT-VDT), Accepted
Vulnerability Info (VER-RPT-AVI) and Historical VER Activity (VER-TFR-MRH).

Pure functions over `VerRecord`s (built from the database by `services.ver`). Each record becomes a
`vulnerabilityDetail` with the fields of VER-RPT-VDT the data has, and an `x-poam` object with
poam's own details (the schemas allow extra keys). What the schema set in use cannot hold is said in
`x-poam`: common-definitions 0.1.x has no `Remediated` final disposition (reported as `Fully
Mitigated`, the nearest value: the risk is gone) and no slot for the reductions (VER-RPT-VDT item 7,
`x-poam.reductions`); 0.3.0 has both (`Remediated`, `painReductionEvents`). Nothing
exploit-enabling is written (VER-RPT-NID): no plugin output, payloads, ports or asset names.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poam.exporters.fedramp_schemas import SchemaSet

UTC = dt.UTC
DISPOSITIONS = {
    "false-positive": "False Positive",
    "fully-mitigated": "Fully Mitigated",
    "partially-mitigated": "Partially Mitigated",
    "remediated": "Remediated",
}
"""poam's dispositions and FedRAMP's spelling (common-definitions `finalDisposition`)."""


@dataclass(frozen=True)
class Reduction:
    """A completed and evaluated PAIN reduction (VER-RPT-VDT item 7)."""

    at: dt.datetime
    rating: int


@dataclass(frozen=True)
class VerRecord:
    """One vulnerability as the VER reports give it. `disposition` is poam's final disposition
    (None while the vulnerability is active); `extension` is the `x-poam` object."""

    poam_id: str
    detected_at: dt.datetime
    detection_source: str
    description: str
    potential_impact: str | None = None
    evaluated_at: dt.datetime | None = None
    irv: bool | None = None
    lev: bool | None = None
    pain: int | None = None
    next_reduction: tuple[dt.datetime, int] | None = None
    overdue: bool = False
    overdue_explanation: str | None = None
    supplementary: str | None = None
    disposition: str | None = None
    reductions: tuple[Reduction, ...] = ()
    accepted: bool = False
    acceptance_rationale: str | None = None
    acceptance: dict[str, Any] = field(default_factory=dict)
    status: str = "open"
    closed_at: dt.date | None = None
    extension: dict[str, Any] = field(default_factory=dict)


def stamp(value: dt.datetime) -> str:
    """A date-time as the schemas' `format: date-time` wants it, in UTC: `2026-12-08T14:30:00Z`."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%SZ")


def final_disposition(disposition: str, schemas: SchemaSet) -> tuple[str, str | None]:
    """FedRAMP's value for poam's disposition under this schema set, and a note when the schema
    has no such value (common-definitions 0.1.x: `remediated` becomes `Fully Mitigated`)."""
    wanted = DISPOSITIONS[disposition]
    allowed = schemas.dispositions
    if wanted in allowed or not allowed:
        return wanted, None
    if disposition == "remediated" and "Fully Mitigated" in allowed:
        return "Fully Mitigated", (
            f"remediated (no longer detected); common-definitions {schemas.files['common'].version} has no "
            "'Remediated' final disposition, so it is reported as 'Fully Mitigated' (FedRAMP added 'Remediated' "
            "in common-definitions 0.3.0)"
        )
    raise ValueError(f"final disposition {wanted!r} is not allowed by the schema")  # pragma: no cover


def detail(record: VerRecord, schemas: SchemaSet) -> dict[str, Any]:
    """The `vulnerabilityDetail` of one record, with its `x-poam` extension."""
    r = record
    out: dict[str, Any] = {
        "providerTrackingId": r.poam_id,
        "detection": {"detectedAt": stamp(r.detected_at), "detectionSource": r.detection_source},
        "vulnerabilityDescription": r.description,
    }
    if r.potential_impact:
        out["potentialAgencyImpact"] = r.potential_impact
    if r.evaluated_at is not None:
        out["evaluationCompletedAt"] = stamp(r.evaluated_at)
    if r.irv is not None:
        out["isInternetReachable"] = r.irv
    if r.lev is not None:
        out["isLikelyExploitable"] = r.lev
    if r.pain is not None:
        out["currentRating"] = r.pain
    if r.next_reduction is not None:
        out["projectedNextReduction"] = {
            "estimatedAt": stamp(r.next_reduction[0]),
            "targetRating": r.next_reduction[1],
        }
    overdue: dict[str, Any] = {"isOverdue": r.overdue}
    if r.overdue_explanation:
        overdue["explanation"] = r.overdue_explanation
    out["overdueStatus"] = overdue
    if r.supplementary:
        out["supplementaryRiskInformation"] = r.supplementary
    if schemas.has_reduction_events and r.reductions:
        out["painReductionEvents"] = [{"reducedAt": stamp(x.at), "rating": x.rating} for x in r.reductions]
    extension = dict(r.extension)
    if r.disposition is not None:
        value, note = final_disposition(r.disposition, schemas)
        out["finalDisposition"] = value
        if note:
            extension["finalDispositionNote"] = note
    if not schemas.has_reduction_events:
        extension["reductionsNote"] = (
            f"common-definitions {schemas.files['common'].version} has no field for completed reductions "
            "(VER-RPT-VDT item 7): they are in x-poam.reductions"
        )
    out["x-poam"] = extension
    return out


def accepted_info(record: VerRecord, schemas: SchemaSet) -> dict[str, Any]:
    """The `acceptedVulnerabilityInfo` of one accepted record."""
    return {
        "vulnerabilityDetail": detail(record, schemas),
        "acceptanceRationale": record.acceptance_rationale or "",
        "x-poam": dict(record.acceptance),
    }


def _period(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    return {"from": stamp(start), "to": stamp(end)}


def vdr(
    uri: str, start: dt.datetime, end: dt.datetime, records: Sequence[VerRecord], schemas: SchemaSet
) -> dict[str, Any]:
    """The Vulnerability Detail Report: the non-accepted records (the caller selects them)."""
    return {
        "certificationPackageOverviewUri": uri,
        "reportPeriod": _period(start, end),
        "vulnerabilities": [detail(r, schemas) for r in records if not r.accepted],
    }


def avi(
    uri: str, start: dt.datetime, end: dt.datetime, records: Sequence[VerRecord], schemas: SchemaSet
) -> dict[str, Any]:
    """Accepted Vulnerability Info: the accepted records."""
    return {
        "certificationPackageOverviewUri": uri,
        "reportPeriod": _period(start, end),
        "acceptedVulnerabilities": [accepted_info(r, schemas) for r in records if r.accepted],
    }


def history(uri: str, generated_at: dt.datetime, records: Sequence[VerRecord], schemas: SchemaSet) -> dict[str, Any]:
    """Historical VER Activity: every active record and every accepted one, at `generated_at`."""
    return {
        "certificationPackageOverviewUri": uri,
        "generatedAt": stamp(generated_at),
        "activeVulnerabilities": [detail(r, schemas) for r in records if not r.accepted],
        "acceptedVulnerabilities": [accepted_info(r, schemas) for r in records if r.accepted],
    }


def write(path: Path, document: dict[str, Any]) -> None:
    """The document as UTF-8 JSON, two-space indented, keys in the order built."""
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
