"""The human-readable monthly VDR activity report (VER-TFR-MHR: "report vulnerability detection and
response activity ... in a consistent format that is human readable at least monthly"), made from
the same `VerRecord`s as the JSON reports, and the accepted-vulnerability summary for the Ongoing
Certification Report (CCM-OCR-AVL, the OCR schema's `acceptedVulnerabilities` string).

    text = vdr_activity.html(activity)      # the HTML page (charts inline as SVG)
    vdr_activity.pdf(text, path)            # the PDF
    vdr_activity.accepted_summary(records, day)

Counts over the period: detected (detection time in the period), evaluated (first evaluation in
it), reductions (completed in it), closed (closed in it); open at the start is what was detected
before the period and still open then. Like the JSON reports, nothing exploit-enabling is shown.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poam.exporters.fedramp_ver import DISPOSITIONS, VerRecord, stamp
from poam.exporters.reports import charts, render

TEMPLATE = "vdr_activity.html"
RATINGS = ("N5", "N4", "N3", "N2", "N1", "Not evaluated")


@dataclass(frozen=True)
class Activity:
    """What the report shows: the system, the period and the records (VDR and AVI together)."""

    system: str
    cpo_uri: str
    start: dt.datetime
    end: dt.datetime
    generated_at: dt.datetime
    schema_version: str
    records: Sequence[VerRecord]


def _rating(r: VerRecord) -> str:
    return f"N{r.pain}" if r.pain else "Not evaluated"


def _within(value: dt.datetime | dt.date | None, a: Activity) -> bool:
    if value is None:
        return False
    if isinstance(value, dt.datetime):
        return a.start <= value <= a.end
    return a.start.date() <= value <= a.end.date()


def figures(a: Activity) -> dict[str, Any]:
    """The period's counts (see the module's text)."""
    recs = list(a.records)
    open_end = [r for r in recs if r.status == "open"]
    closed = [r for r in recs if r.status == "closed" and _within(r.closed_at, a)]
    return {
        "records": len(recs),
        "open_start": sum(1 for r in recs if r.detected_at < a.start),
        "detected": sum(1 for r in recs if _within(r.detected_at, a)),
        "evaluated": sum(1 for r in recs if _within(r.evaluated_at, a)),
        "reductions": sum(1 for r in recs for x in r.reductions if _within(x.at, a)),
        "closed": len(closed),
        "open_end": len(open_end),
        "overdue": sum(1 for r in open_end if r.overdue),
        "accepted": sum(1 for r in open_end if r.accepted),
        "unevaluated": sum(1 for r in open_end if r.pain is None),
        "by_rating": Counter(_rating(r) for r in open_end),
        "by_disposition": Counter(DISPOSITIONS.get(r.disposition or "", "") for r in closed),
    }


def accepted_summary(records: Sequence[VerRecord], day: dt.date) -> str:
    """The Ongoing Certification Report's `acceptedVulnerabilities` text (CCM-OCR-AVL): how many
    accepted vulnerabilities are open, by rating, with their ids."""
    accepted = [r for r in records if r.accepted and r.status == "open"]
    if not accepted:
        return f"No accepted vulnerabilities as of {day.isoformat()}. Full records are reported per VER-RPT-AVI."
    counts = Counter(_rating(r) for r in accepted)
    by = ", ".join(f"{k} {counts[k]}" for k in RATINGS if counts[k])
    ids = ", ".join(r.poam_id for r in accepted[:20]) + (", ..." if len(accepted) > 20 else "")
    return (
        f"{len(accepted)} accepted vulnerabilit{'y' if len(accepted) == 1 else 'ies'} as of {day.isoformat()} "
        f"({by}): {ids}. Full records are reported per VER-RPT-AVI."
    )


def _row(r: VerRecord) -> dict[str, Any]:
    nxt = r.next_reduction
    return {
        "id": r.poam_id,
        "name": r.description.split(": ", 1)[0],
        "detected": stamp(r.detected_at)[:10],
        "source": r.detection_source,
        "evaluated": stamp(r.evaluated_at)[:10] if r.evaluated_at else "",
        "irv": "" if r.irv is None else ("IRV" if r.irv else "NIRV"),
        "lev": "" if r.lev is None else ("LEV" if r.lev else "NLEV"),
        "rating": _rating(r),
        "next": f"N{nxt[1]} by {nxt[0].date().isoformat()}" if nxt else "",
        "overdue": r.overdue,
        "explanation": r.overdue_explanation or "",
        "disposition": DISPOSITIONS.get(r.disposition or "", ""),
        "accepted": r.accepted,
        "rationale": r.acceptance_rationale or "",
        "reductions": [f"N{x.rating} on {x.at.date().isoformat()}" for x in r.reductions],
    }


def context(a: Activity) -> dict[str, Any]:
    """The template's context: the counts, the charts and the tables."""
    f = figures(a)
    open_end = [r for r in a.records if r.status == "open"]
    ages = [0] * len(charts.BUCKETS)  # one series: the charts' colours are for the FedRAMP levels, not N1-N5
    for r in open_end:
        ages[charts.bucket((a.end.date() - r.detected_at.date()).days)] += 1
    rows = [_row(r) for r in a.records]
    return {
        "title": f"Vulnerability detection and response activity: {a.system}",
        "footer": f"{a.system} - VDR activity {a.start.date().isoformat()} to {a.end.date().isoformat()} - poam",
        "a": a,
        "f": f,
        "ratings": RATINGS,
        "charts": {
            "burn_down": render.svg(charts.burn_down(f["open_start"], f["detected"], f["closed"], f["open_end"])),
            "ageing": render.svg(charts.ageing({"Open": ages})),
        },
        "overdue": [x for x in rows if x["overdue"]],
        "active": [x for x in rows if not x["accepted"]],
        "accepted": [x for x in rows if x["accepted"]],
        "summary": accepted_summary(a.records, min(a.end, a.generated_at).date()),
    }


def html(a: Activity) -> str:
    """The report as one HTML page."""
    return render.html(TEMPLATE, context(a))


def pdf(html_text: str, path: Path) -> None:
    """The report as a PDF file."""
    render.pdf(html_text, path)
