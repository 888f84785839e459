"""The human-readable monthly VDR activity report (VER-TFR-MHR) and the accepted-vulnerability summary
for the Ongoing Certification Report (CCM-OCR-AVL): counts worked out by hand, the PDF's text and
page count."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from poam.cli import cli
from poam.exporters.fedramp_ver import Reduction, VerRecord
from poam.exporters.reports import vdr_activity
from poam.services import ver, ver_activity
from tests.services.test_ver import PAYLOAD, setup

pypdf = pytest.importorskip("pypdf")
pytest.importorskip("weasyprint")
UTC = dt.UTC
START = dt.datetime(2026, 2, 1, tzinfo=UTC)
END = dt.datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC)


def rec(poam_id: str, detected: dt.datetime, **kw: object) -> VerRecord:
    return VerRecord(poam_id, detected, "Nessus", f"Weakness {poam_id}", **kw)  # type: ignore[arg-type]


RECORDS = (
    rec("V-1", dt.datetime(2026, 1, 5, tzinfo=UTC), pain=3, evaluated_at=dt.datetime(2026, 1, 6, tzinfo=UTC),
        reductions=(Reduction(dt.datetime(2026, 1, 8, tzinfo=UTC), 3), Reduction(dt.datetime(2026, 2, 3, tzinfo=UTC),
                                                                                  3)), overdue=True),
    rec("V-2", dt.datetime(2026, 2, 10, tzinfo=UTC), pain=2, evaluated_at=dt.datetime(2026, 2, 11, tzinfo=UTC),
        accepted=True, acceptance_rationale="Vendor appliance"),
    rec("V-3", dt.datetime(2026, 1, 20, tzinfo=UTC), status="closed", closed_at=dt.date(2026, 2, 5),
        disposition="remediated"),
    rec("V-4", dt.datetime(2026, 2, 20, tzinfo=UTC)),
    rec("V-5", dt.datetime(2026, 1, 2, tzinfo=UTC), pain=4, accepted=True, acceptance_rationale="No fix exists"),
)  # fmt: skip


def activity(records: tuple[VerRecord, ...] = RECORDS) -> vdr_activity.Activity:
    return vdr_activity.Activity("cso", "https://cso.example.com/cpo.json", START, END, END, "0.1.0", records)


def test_figures_of_the_period() -> None:
    f = vdr_activity.figures(activity())
    counted = {k: v for k, v in f.items() if k not in ("by_rating", "by_disposition")}
    assert counted == {
        "records": 5,
        "open_start": 3,  # V-1, V-3, V-5 were detected in January
        "detected": 2,  # V-2, V-4
        "evaluated": 1,  # V-2 (V-1 was evaluated in January)
        "reductions": 1,  # V-1 on 02-03
        "closed": 1,  # V-3
        "open_end": 4,
        "overdue": 1,
        "accepted": 2,
        "unevaluated": 1,  # V-4
    }
    assert dict(f["by_rating"]) == {"N3": 1, "N2": 1, "Not evaluated": 1, "N4": 1}
    assert dict(f["by_disposition"]) == {"Remediated": 1}


def test_accepted_summary_for_the_ongoing_certification_report() -> None:
    assert vdr_activity.accepted_summary(RECORDS, dt.date(2026, 2, 28)) == (
        "2 accepted vulnerabilities as of 2026-02-28 (N4 1, N2 1): V-2, V-5. Full records are reported per VER-RPT-AVI."
    )
    assert vdr_activity.accepted_summary(RECORDS[:1], dt.date(2026, 2, 28)) == (
        "No accepted vulnerabilities as of 2026-02-28. Full records are reported per VER-RPT-AVI."
    )


def test_html_escapes_text_and_fetches_nothing() -> None:
    hostile = rec("V-9", dt.datetime(2026, 2, 2, tzinfo=UTC), pain=2, accepted=True,
                  acceptance_rationale='<img src="https://evil.example/x.png">')  # fmt: skip
    text = vdr_activity.html(activity((hostile,)))
    assert "<img" not in text and "&lt;img src=" in text
    assert text.count("<svg") == 2  # burn-down and ageing, inline


def test_pdf_from_the_database(sqlite_engine: Engine, tmp_path: Path) -> None:
    setup(sqlite_engine, tmp_path)
    out = tmp_path / "vdr-2026-02.pdf"
    done = ver_activity.export_report(
        sqlite_engine, out, "cso", "alice", ver.period(dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
        now=dt.datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
    )  # fmt: skip
    assert (done.records, done.accepted) == (3, 1)
    reader = pypdf.PdfReader(io.BytesIO(out.read_bytes()))
    assert len(reader.pages) == 2
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in reader.pages))
    for expected in (
        "Vulnerability detection and response activity",
        "Report period 2026-02-01 to 2026-02-28",
        "Open at the start of the period 3",
        "Closed in the period 1",
        "Burn-down of the month",
        "Overdue vulnerabilities (1)",  # V-1: the VDR-TFR-PVR deadline of 01-24 (V-3 closed on 02-05)
        "VDR-TFR-PVR",
        "1 accepted vulnerability as of 2026-02-28 (N2 1): V-2.",
        "Vendor appliance; compensating network control",
        "Page 2 of 2",
    ):
        assert expected in text, expected
    assert "PAYLOAD-XYZ" not in text and PAYLOAD not in text and "10.0.0.5" not in text


def test_report_suffix_is_checked(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        cli,
        ["export", "vdr-report", str(tmp_path / "r.docx"), "--from", "2026-01-01", "--to", "2026-01-31",
         "--db", str(tmp_path / "p.db")],
    )  # fmt: skip
    assert r.exit_code == 2 and "written as .html or .pdf" in r.stderr


def test_the_monthly_package_hook_writes_both_forms(sqlite_engine: Engine, tmp_path: Path) -> None:
    setup(sqlite_engine, tmp_path)
    html_path, pdf_path = tmp_path / "a.html", tmp_path / "a.pdf"
    written = ver.activity_report(
        sqlite_engine, "cso", "alice", ver.period(dt.date(2026, 2, 1), dt.date(2026, 2, 28)), html_path, pdf_path,
        now=dt.datetime(2026, 3, 1, tzinfo=UTC),
    )  # fmt: skip
    assert [w.records for w in written] == [3, 3]
    assert html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert pdf_path.read_bytes().startswith(b"%PDF-")
