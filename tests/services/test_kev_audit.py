from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from poam.errors import InputError
from poam.services import audit, kev
from poam.services.importer import import_file
from poam.store.tables import audit_events
from tests.builders import Host, Item, write_nessus
from tests.conftest import reference_file
from tests.services.test_import import JAN, items_of


def catalog(path: Path, entries: list[tuple[str, str]]) -> Path:
    path.write_text(
        json.dumps(
            {
                "catalogVersion": "2026.01.01",
                "dateReleased": "2026-01-01T00:00:00Z",
                "count": len(entries),
                "vulnerabilities": [
                    {
                        "cveID": c,
                        "vendorProject": "v",
                        "product": "p",
                        "vulnerabilityName": "n",
                        "dateAdded": "2025-12-20",
                        "shortDescription": "",
                        "requiredAction": "",
                        "dueDate": d,
                    }
                    for c, d in entries
                ],
            }
        )
    )
    return path


def test_kev_due_date_caps_new_items(engine: Engine, tmp_path: Path) -> None:
    kev.load_catalog(engine, catalog(tmp_path / "kev.json", [("CVE-2024-0001", "2026-01-20")]), "test")
    host = Host("h", ip="10.0.0.1", start=JAN, items=[Item("1", severity=2, cvss3=5.0, cves=("CVE-2024-0001",))])
    import_file(engine, write_nessus(tmp_path / "a.nessus", [host]))
    item = items_of(engine)["V-1"]
    assert item.kev and item.kev_due_date == dt.date(2026, 1, 20)  # type: ignore[attr-defined]
    assert item.scheduled_completion_date == dt.date(2026, 1, 20)  # not JAN + 90  # type: ignore[attr-defined]


def test_loading_kev_later_flags_open_items(engine: Engine, tmp_path: Path) -> None:
    host = Host("h", ip="10.0.0.1", start=JAN, items=[Item("1", severity=3, cves=("CVE-2024-0002",))])
    import_file(engine, write_nessus(tmp_path / "a.nessus", [host]))
    result = kev.load_catalog(engine, catalog(tmp_path / "kev.json", [("CVE-2024-0002", "2026-03-01")]), "t")
    assert result.items_flagged == 1
    item = items_of(engine)["V-1"]
    assert item.kev and item.kev_due_date == dt.date(2026, 3, 1)  # type: ignore[attr-defined]


def test_real_kev_catalog_json_and_csv_load(engine: Engine) -> None:
    versions = []
    for name in ("kev/known_exploited_vulnerabilities.json", "kev/known_exploited_vulnerabilities.csv"):
        result = kev.load_catalog(engine, reference_file(name), "test")
        assert result.entries > 1000
        versions.append(result.version)
    # the JSON says its version; the CSV has none: its newest dateAdded (2025-08-25 in this copy) dates it
    assert versions == ["2025.08.25", "2025.08.25 (CSV, newest dateAdded)"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("{}", "no 'vulnerabilities' list"),
        ("{bad json", "not valid JSON"),
        ('{"vulnerabilities": [{"cveID": "nope", "dueDate": "2026-01-01"}]}', "bad cveID"),
        ("a,b\n1,2\n", "cveID and dueDate"),
        # hostile: before, a RecursionError, a ValueError and a csv.Error (exit 3)
        ('{"vulnerabilities": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested more than 512 levels deep"),
        ('{"vulnerabilities": [], "count": ' + "9" * 5000 + "}", "number with more than 1000 digits"),
        ("cveID,dueDate,notes\nCVE-2024-0001,2026-01-01," + "x" * (11 << 20) + "\n", "field larger than"),
        ("cveID,dueDate\nCVE-2024-0001,2026-01-01\nCVE-2024-0002,2026-0", "truncated"),
    ],
)
def test_bad_kev_files(sqlite_engine: Engine, tmp_path: Path, content: str, message: str) -> None:
    p = tmp_path / "kev.json"
    p.write_text(content)
    with pytest.raises(InputError, match=message):
        kev.load_catalog(sqlite_engine, p, "t")


def test_audit_chain_records_and_detects_tampering(engine: Engine, tmp_path: Path) -> None:
    host = Host("h", ip="10.0.0.1", start=JAN, items=[Item("1"), Item("2")])
    import_file(engine, write_nessus(tmp_path / "a.nessus", [host]), actor="alice")
    with engine.begin() as conn:
        count, broken = audit.verify(conn)
        assert broken is None and count == 5  # system.add, scan.import, item.create x2, items.sealed
        actions = [r.action for r in conn.execute(audit_events.select().order_by(audit_events.c.id))]
        assert actions == ["system.add", "scan.import", "item.create", "item.create", "items.sealed"]
        conn.execute(update(audit_events).where(audit_events.c.id == 3).values(actor="mallory"))
        assert audit.verify(conn) == (2, 3)


@pytest.mark.parametrize("form", ["json", "csv"])
def test_forensic_triage_and_long_text_are_kept(engine: Engine, tmp_path: Path, form: str) -> None:
    """BOD 26-04's `forensicTriage` ("Yes"/"No", any case, read by name: its CSV column position is
    not published); a vendor name longer than its column is cut (before: a PostgreSQL error, exit 3)."""
    from sqlalchemy import select

    from poam.store.tables import kev_entries

    entries = [
        {"cveID": "CVE-2026-0001", "dueDate": "2026-06-04", "dateAdded": "2026-06-01", "forensicTriage": "Yes"},
        {"cveID": "CVE-2026-0002", "dueDate": "2026-06-15", "dateAdded": "2026-06-01", "forensicTriage": "no"},
        {"cveID": "CVE-2026-0003", "dueDate": "2026-06-22", "dateAdded": "2026-06-01", "vendorProject": "V" * 300},
    ]
    path = tmp_path / f"kev.{form}"
    if form == "json":
        path.write_text(json.dumps({"catalogVersion": "2026.06.01", "vulnerabilities": entries}), encoding="utf-8")
    else:
        header = ["cveID", "vendorProject", "dateAdded", "dueDate", "notes", "forensicTriage"]
        lines = [",".join(header)] + [",".join(str(e.get(h, "")) for h in header) for e in entries]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kev.load_catalog(engine, path, "t")
    with engine.begin() as conn:
        stored = {r.cve: (r.forensic_triage, r.vendor) for r in conn.execute(select(kev_entries))}
    assert stored == {"CVE-2026-0001": (True, None), "CVE-2026-0002": (False, None), "CVE-2026-0003": (None, "V" * 200)}
