"""Importing scans: items per FedRAMP, coverage-aware lifecycle, idempotence; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from poam.domain.models import ChangeKind, ItemStatus, Level
from poam.errors import InputError
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from poam.store.tables import findings, metadata
from tests.builders import Host, Item, write_nessus

JAN = dt.datetime(2026, 1, 5, 10, 0)
FEB = dt.datetime(2026, 2, 5, 10, 0)
MAR = dt.datetime(2026, 3, 5, 10, 0)
APR = dt.datetime(2026, 4, 5, 10, 0)


def items_of(engine: Engine, system: str = "default") -> dict[str, object]:
    with engine.begin() as conn:
        info = systems.resolve(conn, system, "test")
        return {i.poam_id: i for i in load(conn, info.id, "all")}


def counts(engine: Engine) -> dict[str, int]:
    with engine.begin() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in metadata.sorted_tables}


def scan(tmp_path: Path, name: str, hosts: list[Host]) -> Path:
    return write_nessus(tmp_path / name, hosts)


def h1(when: dt.datetime, *items: Item) -> Host:
    return Host("web01", ip="10.0.0.1", fqdn="web01.example.com", start=when, items=list(items))


def h2(when: dt.datetime, *items: Item) -> Host:
    return Host("10.0.0.2", ip="10.0.0.2", start=when, items=list(items))


TLS = Item("100", port=443, severity=3, cvss3=7.5, name="Weak TLS")
TLS_ALT = Item("100", port=8443, severity=3, cvss3=7.5, name="Weak TLS")
SSH = Item("200", port=22, severity=1, name="SSH banner")
INFO = Item("19506", port=0, severity=0, name="Nessus Scan Information")


def test_one_item_per_plugin_listing_every_asset(engine: Engine, tmp_path: Path) -> None:
    r = import_file(engine, scan(tmp_path, "jan.nessus", [h1(JAN, TLS, TLS_ALT, INFO), h2(JAN, TLS, SSH)]))
    assert (r.results, r.informational, r.new_findings, r.items_opened) == (5, 1, 4, 2)
    items = items_of(engine)
    tls, ssh = items["V-1"], items["V-2"]
    assert tls.source_identifier == "100" and tls.detector_source == "Nessus"  # type: ignore[attr-defined]
    assert [a.text for a in tls.assets] == [  # type: ignore[attr-defined]
        "10.0.0.2 (443/tcp)",
        "web01.example.com (443/tcp)",
        "web01.example.com (8443/tcp)",
    ]
    assert tls.original_risk is Level.HIGH  # type: ignore[attr-defined]
    assert tls.detection_date == JAN.date()  # type: ignore[attr-defined]
    assert tls.scheduled_completion_date == JAN.date() + dt.timedelta(days=30)  # type: ignore[attr-defined]
    assert ssh.original_risk is Level.LOW  # type: ignore[attr-defined]
    assert ssh.scheduled_completion_date == JAN.date() + dt.timedelta(days=180)  # type: ignore[attr-defined]
    assert [m.number for m in tls.milestones] == [1]  # type: ignore[attr-defined]
    assert "19506" not in {i.source_identifier for i in items.values()}  # type: ignore[attr-defined]


def test_importing_the_same_file_twice_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    path = scan(tmp_path, "jan.nessus", [h1(JAN, TLS), h2(JAN, SSH)])
    import_file(engine, path)
    before = counts(engine)
    again = import_file(engine, path)
    assert again.duplicate
    assert counts(engine) == before


def test_the_same_undated_file_with_another_scan_date_is_another_observation(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "audit.json"  # pip-audit writes no date
    path.write_text('[{"name": "django", "version": "3.2", "vulns": [{"id": "PYSEC-2021-439"}]}]')
    first = import_file(engine, path, scan_date=JAN, format_id="pip-audit")
    assert import_file(engine, path, scan_date=JAN, format_id="pip-audit").duplicate
    again = import_file(engine, path, scan_date=FEB, format_id="pip-audit")
    assert not again.duplicate and (again.new_findings, again.items_opened) == (0, 0)
    with engine.begin() as conn:
        seen = conn.execute(select(findings.c.first_seen, findings.c.last_seen, findings.c.last_scan_id)).one()
    assert seen == (JAN, FEB, again.scan_id) and first.scan_id != again.scan_id


def test_changed_plugin_output_does_not_split_a_finding(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, scan(tmp_path, "a.nessus", [h1(JAN, TLS)]))
    changed = Item("100", port=443, severity=3, cvss3=7.5, name="Weak TLS", output="different text")
    r = import_file(engine, scan(tmp_path, "b.nessus", [h1(FEB, changed)]))
    assert (r.new_findings, r.fixed_findings, r.items_opened) == (0, 0, 0)
    with engine.begin() as conn:
        rows = conn.execute(select(findings.c.evidence, findings.c.first_seen, findings.c.last_seen)).all()
    assert rows == [("different text", JAN, FEB)]


def test_later_scan_fixes_findings_on_covered_assets_and_closes_the_item(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, scan(tmp_path, "jan.nessus", [h1(JAN, TLS), h2(JAN, TLS)]))
    r = import_file(engine, scan(tmp_path, "feb.nessus", [h1(FEB), h2(FEB, TLS)]))
    assert (r.fixed_findings, r.items_closed) == (1, 0)
    item = items_of(engine)["V-1"]
    assert item.status is ItemStatus.OPEN  # type: ignore[attr-defined]
    assert [a.text for a in item.assets] == ["10.0.0.2 (443/tcp)"]  # type: ignore[attr-defined]
    assert item.status_date == FEB.date()  # type: ignore[attr-defined]
    r = import_file(engine, scan(tmp_path, "mar.nessus", [h1(MAR), h2(MAR, SSH)]))
    assert (r.fixed_findings, r.items_closed, r.closed_ids) == (1, 1, ["V-1"])
    item = items_of(engine)["V-1"]
    assert item.status is ItemStatus.CLOSED  # type: ignore[attr-defined]
    assert item.status_date == MAR.date() and item.closed_at == MAR.date()  # type: ignore[attr-defined]
    assert [(c.number, c.kind, c.date) for c in item.milestone_changes] == [  # type: ignore[attr-defined]
        (1, ChangeKind.COMPLETE, MAR.date())
    ]
    assert len(item.assets) == 2  # a closed item still lists what it affected  # type: ignore[attr-defined]


def test_a_host_missing_from_the_next_scan_is_not_fixed(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, scan(tmp_path, "jan.nessus", [h1(JAN, TLS), h2(JAN, TLS)]))
    r = import_file(engine, scan(tmp_path, "feb.nessus", [h1(FEB)]))  # only web01 was scanned
    assert r.fixed_findings == 1
    item = items_of(engine)["V-1"]
    assert item.status is ItemStatus.OPEN  # type: ignore[attr-defined]
    assert [a.text for a in item.assets] == ["10.0.0.2 (443/tcp)"]  # type: ignore[attr-defined]


def test_a_csv_never_closes_by_absence(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, scan(tmp_path, "jan.nessus", [h1(JAN, TLS)]))
    csv = tmp_path / "pt.csv"
    csv.write_text(
        "detector,weakness_id,weakness_name,severity,asset,detected\n"
        "Pen Test,PT-1,Open redirect,moderate,web01.example.com,2026-02-01\n"
    )
    r = import_file(engine, csv)
    assert (r.fixed_findings, r.items_opened) == (0, 1)
    items = items_of(engine)
    assert items["V-1"].status is ItemStatus.OPEN  # type: ignore[attr-defined]
    assert items["V-2"].detector_source == "Pen Test"  # type: ignore[attr-defined]
    # the pen test's asset is the same host the scanner saw (matched by FQDN)
    assert [a.text for a in items["V-2"].assets] == ["web01.example.com"]  # type: ignore[attr-defined]


def test_csv_rows_marked_fixed_close_their_findings(engine: Engine, tmp_path: Path) -> None:
    head = "detector,weakness_id,weakness_name,severity,asset,detected,status\n"
    first = tmp_path / "a.csv"
    first.write_text(
        head + "Pen Test,PT-1,XSS,high,app.example.com,2026-01-10,open\n"
        "Pen Test,PT-1,XSS,high,api.example.com,2026-01-10,open\n"
    )
    import_file(engine, first)
    retest = tmp_path / "b.csv"
    retest.write_text(head + "Pen Test,PT-1,XSS,high,app.example.com,2026-02-10,fixed\n")
    r = import_file(engine, retest)
    assert (r.fixed_findings, r.items_closed) == (1, 0)
    retest2 = tmp_path / "c.csv"
    retest2.write_text(head + "Pen Test,PT-1,XSS,high,api.example.com,2026-03-10,fixed\n")
    r = import_file(engine, retest2)
    assert r.closed_ids == ["V-1"]
    assert items_of(engine)["V-1"].closed_at == dt.date(2026, 3, 10)  # type: ignore[attr-defined]


def test_weakness_back_after_close_opens_a_new_item(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, scan(tmp_path, "jan.nessus", [h1(JAN, TLS)]))
    import_file(engine, scan(tmp_path, "feb.nessus", [h1(FEB)]))
    r = import_file(engine, scan(tmp_path, "mar.nessus", [h1(MAR, TLS)]))
    assert r.opened_ids == ["V-2"]
    items = items_of(engine)
    assert items["V-1"].status is ItemStatus.CLOSED  # type: ignore[attr-defined]
    new = items["V-2"]
    assert new.status is ItemStatus.OPEN and new.previous_poam_id == "V-1"  # type: ignore[attr-defined]
    assert new.detection_date == MAR.date()  # type: ignore[attr-defined]


def test_finding_back_while_its_item_is_open_reopens_it(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, scan(tmp_path, "jan.nessus", [h1(JAN, TLS), h2(JAN, TLS)]))
    import_file(engine, scan(tmp_path, "feb.nessus", [h1(FEB), h2(FEB, TLS)]))
    r = import_file(engine, scan(tmp_path, "mar.nessus", [h1(MAR, TLS), h2(MAR, TLS)]))
    assert (r.reopened_findings, r.new_findings, r.items_opened) == (1, 0, 0)
    assert len(items_of(engine)["V-1"].assets) == 2  # type: ignore[attr-defined]


def test_poam_ids_are_never_reused(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, scan(tmp_path, "jan.nessus", [h1(JAN, TLS, SSH)]))
    import_file(engine, scan(tmp_path, "feb.nessus", [h1(FEB)]))  # both close
    r = import_file(engine, scan(tmp_path, "mar.nessus", [h1(MAR, Item("300", port=80, severity=2))]))
    assert r.opened_ids == ["V-3"]
    assert sorted(items_of(engine)) == ["V-1", "V-2", "V-3"]


def test_an_older_scan_imported_late_only_adds_history(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, scan(tmp_path, "feb.nessus", [h1(FEB, TLS), h2(FEB)]))
    # January, imported after February: TLS was already on web01, SSH was on 10.0.0.2 and gone by February
    r = import_file(engine, scan(tmp_path, "jan.nessus", [h1(JAN, TLS), h2(JAN, SSH)]))
    assert r.fixed_findings == 0
    items = items_of(engine)
    tls, ssh = items["V-1"], items["V-2"]
    assert tls.status is ItemStatus.OPEN  # type: ignore[attr-defined]
    assert tls.detection_date == JAN.date()  # the earliest sighting  # type: ignore[attr-defined]
    assert tls.scheduled_completion_date == JAN.date() + dt.timedelta(days=30)  # type: ignore[attr-defined]
    assert ssh.status is ItemStatus.CLOSED and ssh.closed_at == FEB.date()  # type: ignore[attr-defined]


def test_a_bad_file_leaves_the_database_as_it_was(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, scan(tmp_path, "jan.nessus", [h1(JAN, TLS)]))
    before = counts(engine)
    good = scan(tmp_path, "feb.nessus", [h1(FEB, SSH)] + [h2(FEB, Item(str(i), port=i)) for i in range(1, 200)])
    text = good.read_text()
    cut = tmp_path / "cut.nessus"
    cut.write_text(text[: int(len(text) * 0.9)])  # well past the first hosts and findings
    with pytest.raises(InputError, match="cut.nessus: not well-formed XML"):
        import_file(engine, cut)
    assert counts(engine) == before


def test_each_system_has_its_own_items(engine: Engine, tmp_path: Path) -> None:
    systems.add_system(engine, "alpha", "test")
    systems.add_system(engine, "beta", "test", id_prefix="B-")
    path = scan(tmp_path, "jan.nessus", [h1(JAN, TLS)])
    import_file(engine, path, system="alpha")
    r = import_file(engine, path, system="beta")
    assert not r.duplicate and r.opened_ids == ["B-1"]
    assert list(items_of(engine, "alpha")) == ["V-1"]
    with pytest.raises(Exception, match="several systems"):
        import_file(engine, path)


def test_missing_file(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        import_file(engine, tmp_path / "nope.nessus")
    with pytest.raises(InputError, match="not a regular file"):
        import_file(engine, tmp_path)


@pytest.mark.parametrize("parallel", [False, True])
def test_progress_reports_bytes_read(sqlite_engine: Engine, tmp_path: Path, parallel: bool) -> None:
    path = scan(tmp_path, "big.nessus", [h1(JAN, *[Item(str(i), port=i) for i in range(1, 400)])])
    seen: list[int] = []
    import_file(sqlite_engine, path, progress=seen.append, parallel=parallel)
    assert seen and seen[-1] == max(seen) == path.stat().st_size  # the sniff re-reads the start first


def test_web_findings_are_one_application_with_many_paths(engine: Engine, tmp_path: Path) -> None:
    csv = tmp_path / "web.csv"
    csv.write_text(
        "detector,weakness_id,weakness_name,severity,asset,detected\n"
        "ZAP,10020,Missing header,low,https://APP.example.com:443/login?next=1,2026-01-05\n"
        "ZAP,10020,Missing header,low,https://app.example.com/profile,2026-01-05\n"
    )
    import_file(engine, csv)
    item = items_of(engine)["V-1"]
    assert [a.text for a in item.assets] == [  # type: ignore[attr-defined]
        "https://app.example.com/login",
        "https://app.example.com/profile",
    ]
    with engine.begin() as conn:
        from poam.store.tables import assets

        assert conn.execute(select(assets.c.kind, assets.c.identifier)).all() == [
            ("web-app", "https://app.example.com")
        ]


def test_a_poorer_later_file_does_not_erase_what_a_richer_one_said(engine: Engine, tmp_path: Path) -> None:
    from poam.store.tables import weaknesses

    import_file(engine, scan(tmp_path, "jan.nessus", [h1(JAN, TLS)]))
    csv = tmp_path / "later.csv"
    csv.write_text(
        "detector,weakness_id,weakness_name,severity,asset,detected\n"
        "Nessus,100,Weak TLS,high,web01.example.com,2026-02-05\n"
    )
    import_file(engine, csv)
    with engine.begin() as conn:
        row = conn.execute(select(weaknesses.c.family, weaknesses.c.description, weaknesses.c.cvss3_score)).one()
    assert row == ("General", "Weak TLS description", 7.5)


def test_the_same_file_for_another_project_is_another_import(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "audit.json"
    path.write_text('[{"name": "django", "version": "3.2", "vulns": [{"id": "PYSEC-2021-439"}]}]')
    a = import_file(engine, path, scan_date=JAN, format_id="pip-audit", asset="github.com/acme/a")
    b = import_file(engine, path, scan_date=JAN, format_id="pip-audit", asset="github.com/acme/b")
    assert not b.duplicate and (a.new_findings, b.new_findings) == (1, 1)
    assert import_file(engine, path, scan_date=JAN, format_id="pip-audit", asset="github.com/acme/b").duplicate
