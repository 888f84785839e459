"""The human-readable VDR activity report (VER-TFR-MHR) written from the VER records
(`services.ver.records`), and the accepted-vulnerability summary for the Ongoing Certification
Report (CCM-OCR-AVL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine

from poam.domain.rules import UTC
from poam.errors import ValueRefused
from poam.exporters import fedramp_schemas
from poam.services import audit, exporting, systems
from poam.services.ver import Period, Written, _aware, _unfinished, _uri, _warnings, records

REPORT_SUFFIXES = (".html", ".htm", ".pdf")


def export_report(
    engine: Engine,
    path: Path,
    system: str | None,
    actor: str,
    within: Period,
    schemas_dir: Path | None = None,
    now: dt.datetime | None = None,
) -> Written:
    """Write the human-readable VDR activity report (VER-TFR-MHR) for the period, as HTML or PDF by
    the file's suffix, from the same records as the VDR and AVI."""
    from poam.exporters.reports import render, vdr_activity

    suffix = path.suffix.lower()
    if suffix not in REPORT_SUFFIXES:
        raise ValueRefused(f"{path}: the VDR activity report is written as .html or .pdf, not {suffix or 'no suffix'}")
    render.require()
    schemas = fedramp_schemas.load(schemas_dir)
    now = _aware(now or dt.datetime.now(UTC)).replace(microsecond=0)
    exporting._check_target(path)
    with exporting.Deliverable(path) as out, engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        uri = _uri(info)
        found = records(conn, info, min(within.end, now), within)
        activity = vdr_activity.Activity(
            info.name, uri, within.start, within.end, now, schemas.version("vdr"), tuple(found)
        )
        text = vdr_activity.html(activity)
        if suffix == ".pdf":
            vdr_activity.pdf(text, out.temp)
        else:
            out.temp.write_text(text, encoding="utf-8")
        accepted = sum(1 for r in found if r.accepted)
        detail = {
            "file": str(path),
            "format": suffix.lstrip("."),
            "records": len(found),
            "accepted": accepted,
            "period": [within.start.date().isoformat(), within.end.date().isoformat()],
        }
        audit.record(conn, actor, [audit.Event("export.vdr-report", "system", str(info.id), detail, info.id)])
        out.install()
    warnings = (*_warnings(info, found), *_unfinished(within, now))
    return Written(path, "vdr-report", info.name, len(found), accepted, schemas.version("vdr"), warnings)


def both(
    engine: Engine,
    system: str | None,
    actor: str,
    within: Period,
    html_path: Path,
    pdf_path: Path,
    now: dt.datetime | None = None,
) -> tuple[Written, Written]:
    """Both forms of the report: HTML at `html_path`, PDF at `pdf_path`."""
    now = _aware(now or dt.datetime.now(UTC)).replace(microsecond=0)
    return (
        export_report(engine, html_path, system, actor, within, now=now),
        export_report(engine, pdf_path, system, actor, within, now=now),
    )


def accepted_summary(engine: Engine, system: str | None, day: dt.date) -> str:
    """The Ongoing Certification Report's accepted-vulnerability summary (CCM-OCR-AVL) on `day`."""
    from poam.exporters.reports.vdr_activity import accepted_summary as summary
    from poam.store import db

    as_of = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=UTC)
    with db.read(engine) as conn:
        info = systems.resolve(conn, system, audit.default_actor())
        return summary(records(conn, info, as_of, Period(as_of, as_of)), day)
