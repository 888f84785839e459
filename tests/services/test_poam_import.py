"""Importing a hand-kept POA&M workbook: every cell round-trips through `poam export fedramp`, the
items are stored with their milestones, deviations and vendor check-ins, sealed in the audit log;
importing again changes nothing; a changed workbook updates its items (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from poam.cli import cli
from poam.domain.imported import ImportedItem
from poam.exporters.fedramp_xlsx import HEADERS
from poam.parsers import poam_xlsx
from poam.services import audit, exporting, poam_import
from poam.services.importer import import_file
from poam.store.tables import (
    audit_events,
    deviations,
    findings,
    items,
    milestone_changes,
    milestones,
    systems,
    vendor_checkins,
)
from tests.builders import Host, Item, write_nessus
from tests.conftest import reference_file
from tests.fixtures import poam_workbooks as pw


def _import(engine: Engine, path: Path) -> poam_import.PoamImportResult:
    reader = poam_import.reader_for(path)
    assert reader is not None and reader.origin == "poam-xlsx"
    return poam_import.import_document(engine, path, reader, actor="cli:tester")


def _export(engine: Engine, path: Path) -> Path:
    exporting.export_fedramp(engine, path, None, "cli:tester", poam_date=dt.date(2026, 12, 4))
    return path


def _verify(engine: Engine) -> audit.Verification:
    with engine.connect() as conn:
        return audit.verify(conn)


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return pw.fill_template(reference_file(pw.TEMPLATES["2024"]), tmp_path / "kept-by-hand.xlsx")


@pytest.mark.parametrize("version", sorted(pw.TEMPLATES))
def test_round_trip_every_cell_of_every_item(engine: Engine, tmp_path: Path, version: str) -> None:
    template = reference_file(pw.TEMPLATES[version])
    source = pw.fill_template(template, tmp_path / f"in{template.suffix}")
    result = _import(engine, source)
    assert result.warnings == 2  # V-7's free milestone text, V-8 left out
    exported = pw.data_rows(_export(engine, tmp_path / "out.xlsx"))
    given = pw.data_rows(source)
    compared = 0
    for sheet, rows in given.items():
        for poam_id, cells in rows.items():
            if poam_id == "V-8":  # the row that could not be read
                assert poam_id not in exported[sheet]
                continue
            out = exported[sheet][poam_id]
            for header in HEADERS:
                want = cells.get(header)
                if (poam_id, header) == ("V-7", "Scheduled Completion Date"):
                    assert want is None  # the template's formula, never computed in this file
                    want = dt.datetime(2026, 5, 31)  # what it gives: 2026-03-02 + 90 days (Moderate)
                assert out[header] == want, (sheet, poam_id, header)
                compared += 1
    sheets = 3 if version == "2024" else 2
    assert compared == 31 * (sheets + 1)  # V-1, V-7 on Open, V-3 on Closed, CM-4 on Configuration Findings


def test_round_trip_into_a_copy_of_the_template(sqlite_engine: Engine, workbook: Path, tmp_path: Path) -> None:
    """`poam export fedramp --template`: the same cells, written into the user's copy of the template."""
    _import(sqlite_engine, workbook)
    out = tmp_path / "out.xlsx"
    template = reference_file(pw.TEMPLATES["2024"])
    exporting.export_fedramp(sqlite_engine, out, None, "cli:tester", poam_date=dt.date(2026, 12, 4), template=template)
    exported, given = pw.data_rows(out), pw.data_rows(workbook)
    for sheet, rows in given.items():
        for poam_id, cells in rows.items():
            if poam_id == "V-8":
                continue
            want = {**cells, "Scheduled Completion Date": dt.datetime(2026, 5, 31)} if poam_id == "V-7" else cells
            assert {h: exported[sheet][poam_id][h] for h in HEADERS} == {h: want.get(h) for h in HEADERS}


def test_formula_text_is_exported_as_text(engine: Engine, workbook: Path, tmp_path: Path) -> None:
    _import(engine, workbook)
    ws = openpyxl.load_workbook(_export(engine, tmp_path / "out.xlsx"))[pw.OPEN]
    row = next(r for r in range(8, 12) if ws.cell(r, 1).value == "V-7")
    comment = ws.cell(row, HEADERS.index("Comments") + 1)
    assert comment.value == '=HYPERLINK("http://evil.example/x","click")'
    assert comment.data_type == "s"  # a string cell (never a formula), quote-prefixed
    assert comment.quotePrefix


def _row(engine: Engine, poam_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(items).where(items.c.poam_id == poam_id)).one()


def test_what_is_stored(engine: Engine, workbook: Path) -> None:
    result = _import(engine, workbook)
    assert result.created_ids == ["V-1", "V-7", "V-3", "CM-4"]
    v1 = _row(engine, "V-1")
    assert (v1.origin, v1.status, v1.tool, v1.vuln_id, v1.weakness_id) == ("poam-xlsx", "open", "Nessus", "12345", None)
    assert v1.asset_text == "10.0.0.1 (443/tcp)\nhttps://portal.example.com/login"
    assert json.loads(v1.extra) == {}
    assert (v1.detection_date, v1.scheduled_completion_date, v1.status_date) == (
        dt.date(2026, 1, 5),
        dt.date(2026, 2, 4),
        dt.date(2026, 2, 1),
    )
    assert (v1.original_risk, v1.adjusted_risk, v1.risk_adjustment, v1.operational_requirement) == (
        "High",
        "Moderate",
        "Yes",
        "Pending",
    )
    assert (v1.kev, v1.kev_due_date, v1.cves, v1.poc_set) == (
        True,
        dt.date(2026, 1, 26),
        "CVE-2024-1234,CVE-2024-5678",
        True,
    )
    assert v1.vendor_release_date == dt.date(2026, 1, 20)
    with engine.connect() as conn:
        ms = conn.execute(
            select(milestones.c.number, milestones.c.due_date, milestones.c.text, milestones.c.placeholder)
            .where(milestones.c.item_id == v1.id)
            .order_by(milestones.c.number)
        ).all()
        assert [tuple(m) for m in ms] == [
            (1, dt.date(2026, 1, 15), "Test the new cipher list", False),
            (2, dt.date(2026, 1, 30), "Deploy to production", False),
        ]
        ch = conn.execute(
            select(milestone_changes.c.number, milestone_changes.c.kind, milestone_changes.c.change_date).where(
                milestone_changes.c.item_id == v1.id
            )
        ).all()
        assert [tuple(c) for c in ch] == [(2, "Update", dt.date(2026, 2, 1))]
        devs = conn.execute(
            select(
                deviations.c.type,
                deviations.c.status,
                deviations.c.rationale,
                deviations.c.requested_risk,
                deviations.c.approver,
            )
            .where(deviations.c.item_id == v1.id)
            .order_by(deviations.c.type)
        ).all()
        assert [tuple(d) for d in devs] == [
            ("operational-requirement", "pending", "Legacy clients", None, None),
            ("risk-adjustment", "approved", "Reachable from the VPN only", "Moderate", "imported"),
        ]
        checkins = conn.execute(
            select(vendor_checkins.c.checkin_date, vendor_checkins.c.product).where(vendor_checkins.c.item_id == v1.id)
        ).all()
        assert [tuple(c) for c in checkins] == [(dt.date(2026, 1, 28), "Example Firewall")]
        # V-7 had no milestone in the grammar: poam's automatic first one, its free text kept in extra
        v7 = conn.execute(select(items).where(items.c.poam_id == "V-7")).one()
        ms7 = conn.execute(select(milestones).where(milestones.c.item_id == v7.id)).all()
        assert [(m.number, m.due_date, m.placeholder) for m in ms7] == [(1, dt.date(2026, 5, 31), True)]
        extra = json.loads(v7.extra)
        assert extra["milestones_text"] == "call the vendor next week"
        assert sorted(extra["cells"]) == [
            "Auto-Approve",
            "Controls",
            "Original Detection Date",
            "Original Risk Rating",
            "Planned Milestones",
            "Status Date",
            "Vendor Dependency",
        ]
        v3 = conn.execute(select(items).where(items.c.poam_id == "V-3")).one()
        assert (v3.status, v3.closed_at) == ("closed", dt.date(2025, 5, 25))
        cm4 = conn.execute(select(items).where(items.c.poam_id == "CM-4")).one()
        assert (cm4.status, cm4.is_config) == ("open", True)
        # next_seq moved past V-7 (the largest of the system's V-<n> ids); CM-4 took a number of its own
        assert conn.execute(select(systems.c.next_seq)).scalar_one() == 9
        assert cm4.seq == 8
        actions = [r.action for r in conn.execute(select(audit_events.c.action).order_by(audit_events.c.id))]
    assert actions.count("poam.import") == 1 and actions.count("item.import") == 4
    assert "items.sealed" in actions
    assert _verify(engine).ok


def test_deviation_decisions_as_the_workbook_records_them(engine: Engine, tmp_path: Path) -> None:
    row = {
        **pw.V1,
        "Risk Adjustment": "Yes",
        "Auto-Approve": "Yes",  # the AVRAF's automated adjustment: approved by the process that requested it
        "False Positive": "Pending",
        "Operational Requirement": "No",
        "Deviation Rationale": "The scanner reads a banner the patch does not change",  # no `Type :` label
    }
    _import(engine, pw.fill_template(reference_file(pw.TEMPLATES["2024"]), tmp_path / "p.xlsx", {pw.OPEN: [row]}))
    with engine.connect() as conn:
        devs = conn.execute(
            select(deviations.c.type, deviations.c.status, deviations.c.rationale, deviations.c.approver).order_by(
                deviations.c.type
            )
        ).all()
    rationale = "The scanner reads a banner the patch does not change"
    assert [tuple(d) for d in devs] == [
        ("false-positive", "pending", rationale, None),
        ("risk-adjustment", "approved", rationale, "cli:tester"),
    ]
    assert _row(engine, "V-1").status == "open"  # on the Open sheet: open, whatever its deviations


def test_importing_the_same_workbook_again_changes_nothing(engine: Engine, workbook: Path) -> None:
    _import(engine, workbook)
    with engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
        before = conn.execute(select(items).order_by(items.c.id)).all()
    again = _import(engine, workbook)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_events)).scalar_one() == events
        assert conn.execute(select(items).order_by(items.c.id)).all() == before
    verification = _verify(engine)
    assert verification.ok and verification.items_checked == 4


def test_a_changed_workbook_updates_its_items(engine: Engine, tmp_path: Path) -> None:
    template = reference_file(pw.TEMPLATES["2024"])
    _import(engine, pw.fill_template(template, tmp_path / "november.xlsx"))
    v1 = {
        **pw.V1,
        "Milestone Changes": pw.V1["Milestone Changes"] + "\n\n(3) New 2026-02-10 : Replace the firewall",
        "Comments": "Vendor fix released 2026-01-20.\nWindow booked for 2026-02-12.",
        "Operational Requirement": "Yes",
    }
    v7 = {**pw.V7, "Status Date": dt.datetime(2026, 3, 20)}  # closed: moved to the Closed sheet
    rows = {pw.OPEN: [v1], pw.CLOSED: [pw.V3, v7], pw.CONFIG: [pw.C4]}
    result = _import(engine, pw.fill_template(template, tmp_path / "december.xlsx", rows))
    assert (result.created, result.updated_ids, result.unchanged) == (0, ["V-1", "V-7"], 2)
    closed = _row(engine, "V-7")
    assert (closed.status, closed.closed_at, closed.status_date) == (
        "closed",
        dt.date(2026, 3, 20),
        dt.date(2026, 3, 20),
    )
    row = _row(engine, "V-1")
    assert row.comments == "Window booked for 2026-02-12."
    assert row.operational_requirement == "Yes"
    with engine.connect() as conn:
        kinds = conn.execute(
            select(milestone_changes.c.number, milestone_changes.c.kind).where(milestone_changes.c.item_id == row.id)
        ).all()
        assert sorted(tuple(k) for k in kinds) == [(2, "Update"), (3, "New")]
        devs = conn.execute(
            select(deviations.c.type, deviations.c.status, deviations.c.approver).where(deviations.c.item_id == row.id)
        ).all()
        assert sorted(tuple(d) for d in devs) == [
            ("operational-requirement", "approved", "imported"),
            ("risk-adjustment", "approved", "imported"),
        ]
        event = conn.execute(
            select(audit_events).where(audit_events.c.action == "item.import_update", audit_events.c.entity_id == "V-1")
        ).one()
    detail = json.loads(event.detail)
    assert detail["comments"] == ["Waiting for the maintenance window.", "Window booked for 2026-02-12."]
    assert detail["operational_requirement"] == ["Pending", "Yes"]
    assert detail["milestone_changes"] == "1 added"
    assert detail["deviations"] == ["operational-requirement approved"]
    assert _verify(engine).ok
    # the export now writes the changed cells
    out = pw.data_rows(_export(engine, tmp_path / "out.xlsx"))[pw.OPEN]["V-1"]
    assert out["Milestone Changes"] == v1["Milestone Changes"]
    assert out["Comments"] == v1["Comments"]


def test_poams_own_export_imported_again_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    """Export, open in Excel, import again: items from scans and imported ones stay as they are."""
    scan = write_nessus(tmp_path / "jan.nessus", [Host("10.0.0.9", ip="10.0.0.9", items=[Item("99999", severity=3)])])
    _import(engine, pw.fill_template(reference_file(pw.TEMPLATES["2024"]), tmp_path / "kept.xlsx"))
    import_file(engine, scan, actor="cli:tester")
    with engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
    result = _import(engine, _export(engine, tmp_path / "out.xlsx"))
    assert (result.created, result.updated, result.unchanged) == (0, 0, 5)
    assert result.warning_lines == [  # V-7's own free text, written back as it was
        "Open POA&M Items row 9, column M (Planned Milestones): not in the template's form (expected an entry like "
        "'(1) 2026-01-15: text', got 'call the vendor next week'); kept as free text"
    ]
    with engine.connect() as conn:  # the export's own event only
        assert conn.execute(select(func.count()).select_from(audit_events)).scalar_one() == events + 1
    assert _verify(engine).ok


def test_a_reported_milestone_is_never_rewritten(engine: Engine, tmp_path: Path) -> None:
    template = reference_file(pw.TEMPLATES["2024"])
    _import(engine, pw.fill_template(template, tmp_path / "a.xlsx", {pw.OPEN: [pw.V1]}, dt.date(2026, 2, 1)))
    changed = {**pw.V1, "Planned Milestones": "(1) 2026-01-20: Test the new cipher list\n\n(2) 2026-01-30: Deploy"}
    result = _import(engine, pw.fill_template(template, tmp_path / "b.xlsx", {pw.OPEN: [changed]}, dt.date(2026, 2, 1)))
    assert result.warning_lines == [
        "Open POA&M Items row 8: milestone (1) of V-1 differs from the one recorded, which is permanent once "
        "reported (record the change in Milestone Changes); kept",
        "Open POA&M Items row 8: milestone (2) of V-1 differs from the one recorded, which is permanent once "
        "reported (record the change in Milestone Changes); kept",
    ]
    with engine.connect() as conn:
        texts = conn.execute(select(milestones.c.text).order_by(milestones.c.number)).scalars().all()
    assert texts == ["Test the new cipher list", "Deploy to production"]
    assert _verify(engine).ok


def test_scans_after_the_import_continue_the_poam(engine: Engine, workbook: Path, tmp_path: Path) -> None:
    _import(engine, workbook)
    scan = write_nessus(
        tmp_path / "jan.nessus",
        [Host("10.0.0.9", ip="10.0.0.9", items=[Item("12345", severity=3), Item("99999", severity=2)])],
    )
    result = import_file(engine, scan, actor="cli:tester")
    assert result.opened_ids == ["V-9"]  # a new item never takes an imported id
    v1 = _row(engine, "V-1")
    with engine.connect() as conn:  # the same weakness as the imported V-1 (Nessus 12345): its finding joins V-1
        assert conn.execute(select(func.count()).where(findings.c.item_id == v1.id)).scalar_one() == 1
    out = pw.data_rows(_export(engine, tmp_path / "out.xlsx"))[pw.OPEN]
    assert out["V-1"]["Asset Identifier"] == "10.0.0.1 (443/tcp)\nhttps://portal.example.com/login\n10.0.0.9 (443/tcp)"
    assert _verify(engine).ok


def test_the_oscal_reader_calls_import_items(engine: Engine, workbook: Path) -> None:
    """`import_items` as another reader calls it: records, origin `oscal`, its own warnings."""
    records = [
        ImportedItem(item=i.item, where=f"risks[{n}]", asset_text=i.asset_text, extra={"uuid": f"u-{n}"})
        for n, i in enumerate(poam_xlsx.read(workbook).items)
    ]
    result = poam_import.import_items(
        engine, workbook, records, None, "cli:tester", "oscal", warnings=["risks[9]: no title; left out"]
    )
    assert (result.origin, result.format, result.created, result.warnings) == ("oscal", "oscal", 4, 1)
    row = _row(engine, "V-1")
    assert (row.origin, json.loads(row.extra)) == ("oscal", {"uuid": "u-0"})
    again = poam_import.import_items(engine, workbook, records, None, "cli:tester", "oscal")
    assert again.unchanged == 4
    assert _verify(engine).ok


def test_repeated_and_missing_ids_are_warned_about(engine: Engine, tmp_path: Path) -> None:
    template = reference_file(pw.TEMPLATES["2024"])
    path = pw.fill_template(template, tmp_path / "p.xlsx", {pw.OPEN: [pw.V1], pw.CLOSED: [{**pw.V3, "POAM ID": "V-1"}]})
    result = _import(engine, path)
    assert result.created_ids == ["V-1"]
    assert result.warning_lines == [
        "Closed POA&M Items row 6: POAM ID V-1 again (first at Open POA&M Items row 8); left out"
    ]


def test_cli_import_says_how_many_items_came_in(tmp_path: Path, workbook: Path) -> None:
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    first = runner.invoke(cli, ["--db", db, "import", str(workbook), "--user", "jane"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert (
        f"{workbook}: fedramp-poam-xlsx, 4 item(s) read into system default: 4 created, 0 updated, 0 unchanged; "
        "2 warning(s)" in first.output
    )
    again = runner.invoke(cli, ["--db", db, "import", str(workbook), "--json"], catch_exceptions=False)
    assert again.exit_code == 0
    (entry,) = json.loads(again.stdout)
    assert (entry["format"], entry["items"], entry["created"], entry["unchanged"], entry["refused"]) == (
        "fedramp-poam-xlsx",
        4,
        0,
        4,
        False,
    )
    assert entry["warning_lines"][1].startswith("Open POA&M Items row 10, column K (Original Detection Date)")
    shown = runner.invoke(cli, ["--db", db, "items", "--json"], catch_exceptions=False)
    v1 = next(i for i in json.loads(shown.stdout) if i["poam_id"] == "V-1")
    assert v1["assets"] == ["10.0.0.1 (443/tcp)", "https://portal.example.com/login"]  # as the workbook lists them


def test_cli_refuses_a_workbook_where_nothing_can_be_read(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    template = reference_file(pw.TEMPLATES["2024"])
    path = pw.fill_template(template, tmp_path / "bad.xlsx", {pw.OPEN: [pw.V8]})
    result = CliRunner().invoke(cli, ["--db", db, "import", str(path)], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"poam: error: {path}: no POA&M item could be read (first: Open POA&M Items row 8, column K (Original "
        "Detection Date): not a date: 'not a date'; row left out)"
    ]
    assert "Traceback" not in result.output


def test_the_workbooks_kev_tracking_sets_the_kev_deadline(engine: Engine, workbook: Path) -> None:
    """No KEV catalog is loaded: V-1's BOD 22-01 columns (Yes, 2026-01-26) are the only KEV source."""
    _import(engine, workbook)
    runner = CliRunner()
    url = engine.url.render_as_string(hide_password=False)
    listed = json.loads(runner.invoke(cli, ["--db", url, "items", "--json"], catch_exceptions=False).stdout)
    v1 = next(i for i in listed if i["poam_id"] == "V-1")
    v7 = next(i for i in listed if i["poam_id"] == "V-7")
    assert v1["kev"] is True and v7["kev"] is False
    kev = [d for d in v1["deadlines"] if d["kind"] == "kev"]
    assert [d["due"][:10] for d in kev] == ["2026-01-26"]
    assert [
        i["poam_id"]
        for i in json.loads(
            runner.invoke(cli, ["--db", url, "items", "--kev", "--json"], catch_exceptions=False).stdout
        )
    ] == ["V-1"]


def test_a_scan_of_some_assets_never_closes_an_imported_item_kept_on_others(
    engine: Engine, workbook: Path, tmp_path: Path
) -> None:
    """V-1's cell names 10.0.0.1 and the portal: a scan that found its weakness on 10.0.0.9, then
    showed it fixed there, never scanned them, so V-1 stays open; CM-4 style items are untouched."""
    _import(engine, workbook)
    feb, mar = dt.datetime(2026, 2, 9, 9, 0), dt.datetime(2026, 3, 9, 9, 0)
    found = write_nessus(tmp_path / "feb.nessus", [Host("10.0.0.9", ip="10.0.0.9", start=feb, items=[Item("12345")])])
    fixed = write_nessus(tmp_path / "mar.nessus", [Host("10.0.0.9", ip="10.0.0.9", start=mar, items=[Item("99999")])])
    import_file(engine, found, actor="cli:tester")
    result = import_file(engine, fixed, actor="cli:tester")
    assert "V-1" not in result.closed_ids
    assert _row(engine, "V-1").status == "open"
    with engine.connect() as conn:  # the scan's own finding on 10.0.0.9 is fixed all the same
        states = conn.execute(select(findings.c.status).where(findings.c.item_id == _row(engine, "V-1").id)).scalars()
        assert list(states) == ["fixed"]
    late = write_nessus(
        tmp_path / "jan.nessus", [Host("10.0.0.9", ip="10.0.0.9", start=dt.datetime(2026, 1, 20, 9, 0))]
    )
    import_file(engine, late, actor="cli:tester")  # an older scan imported late: the replay keeps V-1 open too
    assert _row(engine, "V-1").status == "open"
    assert _verify(engine).ok


def _named(path: Path, system_name: str) -> Path:
    """The workbook with this System Name in its header block (B3 of the open sheet)."""
    book = openpyxl.load_workbook(path)
    book[pw.OPEN]["B3"] = system_name
    book.save(path)
    return path


def test_a_workbook_of_another_system_is_warned_about(engine: Engine, tmp_path: Path) -> None:
    """Items are matched by POA&M id alone: a workbook whose System Name is not the target
    system's gets one warning line first, and is still imported."""
    from poam.services import systems as systems_service

    systems_service.add_system(engine, "Portal", "t", fedramp_id="F1234567890")
    template = reference_file(pw.TEMPLATES["2024"])
    other = _named(pw.fill_template(template, tmp_path / "other.xlsx"), "Billing Platform")
    assert poam_xlsx.read(other).system_name == "Billing Platform"
    first = _import(engine, other)  # into an empty system: nothing to mix up, no warning
    assert first.created == 4 and not any(w.startswith("document:") for w in first.warning_lines)
    result = _import(engine, other)
    assert result.unchanged == 4 and result.warnings == 3  # the system, V-7's free text, V-8 left out
    assert result.warning_lines[0] == (
        "document: names system 'Billing Platform', not 'Portal' (the system it is imported into); "
        "its items are matched to this system's by POA&M id alone"
    )
    for name in ("  portal ", "PORTAL", "f1234567890"):  # its name or FedRAMP id, whatever the case and spacing
        same = _named(pw.fill_template(template, tmp_path / "same.xlsx"), name)
        again = _import(engine, same)
        assert again.warnings == 2 and not any(w.startswith("document:") for w in again.warning_lines), name


def test_another_systems_oscal_export_is_warned_about(engine: Engine, workbook: Path, tmp_path: Path) -> None:
    """The reported case: system B's OSCAL export imported into system A, which has its own V-1."""
    from poam.services import systems as systems_service

    systems_service.add_system(engine, "Alpha", "t")
    systems_service.add_system(engine, "Beta Cloud", "t")
    reader = poam_import.reader_for(workbook)
    assert reader is not None
    for name in ("Alpha", "Beta Cloud"):
        poam_import.import_document(engine, workbook, reader, name, "t")
    beta = exporting.export_oscal(engine, tmp_path / "beta.json", "Beta Cloud", "t").path
    oscal = poam_import.reader_for(beta)
    assert oscal is not None and oscal.read(beta).system_names == ("Beta Cloud",)
    into_alpha = poam_import.import_document(engine, beta, oscal, "Alpha", "t")
    assert into_alpha.warning_lines[0] == (
        "document: names system 'Beta Cloud', not 'Alpha' (the system it is imported into); "
        "its items are matched to this system's by POA&M id alone"
    )
    into_beta = poam_import.import_document(engine, beta, oscal, "Beta Cloud", "t")
    assert not any(w.startswith("document:") for w in into_beta.warning_lines)


def test_no_system_name_no_warning(engine: Engine, workbook: Path) -> None:
    records, lines = poam_xlsx.read(workbook).items, ["x: y"]
    result = poam_import.import_items(engine, workbook, records, None, "t", warnings=lines, system_names=("", "  "))
    assert result.warning_lines == ["x: y"]
