"""`poam formats` lists the POA&M document readers; `poam import` refuses the scan-only options
for a POA&M document before importing anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select

from poam.cli import cli
from poam.parsers.registry import parsers
from poam.services import poam_import
from poam.store.tables import audit_events, findings, items, scans
from tests.builders import Host, Item, write_nessus
from tests.conftest import reference_file
from tests.fixtures import poam_workbooks as pw


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_formats_lists_the_poam_documents() -> None:
    listed = json.loads(run("formats", "--json").stdout)
    by_id = {f["id"]: f for f in listed}
    assert {r.format for r in poam_import.READERS} == {"fedramp-poam-xlsx", "oscal-poam"}
    for r in poam_import.READERS:
        entry = by_id[r.format]
        assert entry["kind"] == "poam" and entry["name"] == r.name and entry["closes_by_coverage"] is False
    scans_listed = [f for f in listed if f["kind"] == "scan"]
    assert [f["id"] for f in scans_listed] == list(parsers())  # every scan parser, in the registry's order
    for f in scans_listed:  # the scan entries' fields as before, and their kind
        p = parsers()[f["id"]]
        assert f == {
            "id": p.id,
            "name": p.name,
            "maps_to": p.maps_to,
            "closes_by_coverage": p.closes_by_coverage,
            "kind": "scan",
        }
    table = run("formats").stdout
    assert "fedramp-poam-xlsx" in table and "oscal-poam" in table and "POA&M document" in table


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (audit_events, items, findings, scans)
        )


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--scan-date", "2026-01-05"], "--scan-date applies"),
        (["--asset", "repo"], "--asset applies"),
        (["--scan-date", "2026-01-05", "--asset", "repo"], "--scan-date and --asset apply"),
    ],
)
def test_scan_options_are_refused_for_a_poam_document(
    engine: Engine, db_url: str, tmp_path: Path, options: list[str], said: str
) -> None:
    """Exit 2, one line naming the file; the scan before it in the list is not imported either."""
    assert run("system", "add", "S", "--db", db_url).exit_code == 0
    scan = write_nessus(tmp_path / "jan.nessus", [Host("web01", ip="10.0.0.1", items=[Item("100", severity=3)])])
    workbook = pw.fill_template(reference_file(pw.TEMPLATES["2024"]), tmp_path / "kept.xlsx")
    before = _counts(engine)
    r = run("import", str(scan), str(workbook), *options, "--db", db_url)
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [
        f"poam: error: {workbook}: {said} to scan files only, not to a POA&M document; nothing was imported"
    ]
    assert r.stdout == ""
    assert _counts(engine) == before
    oscal = tmp_path / "poam.json"
    oscal.write_text(reference_file("oscal/fedramp/FedRAMP-POAM-OSCAL-Template.json").read_text())
    r = run("import", str(oscal), "--format", "oscal-poam", *options, "--db", db_url, "--json")
    assert r.exit_code == 2 and str(oscal) in r.stderr and r.stdout == ""
    assert _counts(engine) == before


def test_scan_options_still_work_for_scan_files(engine: Engine, db_url: str, tmp_path: Path) -> None:
    scan = write_nessus(tmp_path / "jan.nessus", [Host("web01", ip="10.0.0.1", items=[Item("100", severity=3)])])
    r = run("import", str(scan), "--scan-date", "2026-01-05", "--db", db_url, "--json")
    assert r.exit_code == 0, r.output
    (entry,) = json.loads(r.stdout)
    assert entry["date_source"] == "option"
