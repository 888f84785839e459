"""Deviation requests as a service: the lifecycle, the template columns, evidence, FedRAMP's rules,
CR26 accepted vulnerabilities, and an approved false positive that later scans cannot undo."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from poam.errors import InputError, PoamError, UsageError, ValueRefused
from poam.services import deadlines, deviations, evaluation, systems, triage
from poam.services import evidence as documents
from poam.services.importer import import_file
from poam.store.tables import audit_events, deviation_evidence, findings, items
from poam.store.tables import deviations as deviation_rows
from tests.builders import Host, Item, write_nessus

JAN = dt.datetime(2026, 1, 5, 10, 0)
NOW = dt.datetime(2026, 1, 20, 12, 0, tzinfo=dt.UTC)


def scan(tmp_path: Path, name: str, when: dt.datetime, hosts: dict[str, list[str]]) -> Path:
    """A Nessus file: each host with the plugins it reports (100 is Critical 9.8, 200 Moderate 5.0,
    300 High 7.5)."""
    catalog = {"100": Item("100", cvss3=9.8, cves=("CVE-2026-20001",)), "200": Item("200", cvss3=5.0)}
    catalog["300"] = Item("300", cvss3=7.5)
    ips = {"web": "10.0.0.5", "db": "10.0.0.6"}
    return write_nessus(
        tmp_path / name,
        [Host(h, ip=ips[h], start=when, items=[catalog[p] for p in plugins]) for h, plugins in hosts.items()],
    )


def setup(engine: Engine, tmp_path: Path, policy: str = "fedramp-rev5", cls: str | None = None) -> None:
    systems.add_system(engine, "cso", "t", impact="moderate", policy=policy, fedramp_class=cls)
    import_file(engine, scan(tmp_path, "jan.nessus", JAN, {"web": ["100", "200", "300"]}), system="cso", actor="t")


def item(engine: Engine, poam_id: str) -> dict:  # type: ignore[type-arg]
    with engine.connect() as conn:
        row = conn.execute(select(items).where(items.c.poam_id == poam_id)).one()
    return dict(row._mapping)


def events(engine: Engine, prefix: str = "deviation.") -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_events.c.action, audit_events.c.actor, audit_events.c.detail).order_by(audit_events.c.id)
        )
        return [(r.action, r.actor, json.loads(r.detail)) for r in rows if r.action.startswith(prefix)]


def evidence_file(tmp_path: Path, name: str, content: bytes) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def test_risk_adjustment_pending_then_approved_sets_the_columns_and_the_deadline(
    engine: Engine, tmp_path: Path
) -> None:
    setup(engine, tmp_path)
    dr = evidence_file(tmp_path, "DR-1.pdf", b"%PDF-1.7 deviation request")
    digest = hashlib.sha256(dr.read_bytes()).hexdigest()
    assert item(engine, "V-1")["original_risk"] == "Critical"
    r = deviations.request(
        engine, "cso", "V-1", "alice", "ra", "  WAF blocks the payload  ", adjusted_risk="moderate", evidence=[dr]
    )
    assert (r.status, r.type) == ("pending", "risk-adjustment")
    row = item(engine, "V-1")
    assert (row["risk_adjustment"], row["adjusted_risk"], row["false_positive"]) == ("Pending", None, "No")
    assert row["deviation_rationale"] == "Risk Adjustment : WAF blocks the payload"
    assert row["supporting_documents"] == f"Deviation Request : DR-1.pdf ({digest[:12]})"
    due = {d["kind"]: d["due"] for d in triage.show(engine, "cso", "V-1", now=NOW)["deadlines"]}
    assert due["remediation"] == "2026-02-04T10:00:00Z"  # pending: still 30 days (Critical)

    done = deviations.approve(engine, "cso", "V-1", "bob", "ra", note="compensating control verified")
    assert done.status == "approved" and done.deadlines_changed == 1
    row = item(engine, "V-1")
    assert (row["risk_adjustment"], row["adjusted_risk"], row["status"]) == ("Yes", "Moderate", "open")
    # the template's column L follows an approved adjustment: 90 days (Moderate) from detection
    assert row["scheduled_completion_date"] == dt.date(2026, 4, 5)
    shown = triage.show(engine, "cso", "V-1", now=NOW)
    assert {d["kind"]: d["due"] for d in shown["deadlines"]}["remediation"] == "2026-04-05T10:00:00Z"  # 90 days
    assert shown["adjusted_risk"] == "Moderate" and shown["risk_adjustment"] == "Yes"
    assert shown["deviations"] == [
        {
            "id": r.deviation_id,
            "type": "risk-adjustment",
            "status": "approved",
            "rationale": "WAF blocks the payload",
            "requested_risk": "Moderate",
            "requester": "alice",
            "requested_at": shown["deviations"][0]["requested_at"],
            "approver": "bob",
            "decided_at": shown["deviations"][0]["decided_at"],
            "note": "compensating control verified",
            "auto_approved": False,
            "evidence": [{"name": "DR-1.pdf", "sha256": digest, "size": dr.stat().st_size}],
        }
    ]
    logged = events(engine)
    assert [(a, who) for a, who, _d in logged] == [("deviation.request", "alice"), ("deviation.approve", "bob")]
    request_detail, approve_detail = logged[0][2], logged[1][2]
    assert request_detail["evidence"] == [{"name": "DR-1.pdf", "sha256": digest, "size": dr.stat().st_size}]
    assert request_detail["before"]["risk_adjustment"] == "No" and request_detail["after"]["risk_adjustment"] == (
        "Pending"
    )
    assert approve_detail["before"] == {
        "adjusted_risk": None,
        "risk_adjustment": "Pending",
        "scheduled_completion_date": "2026-02-04",
    }
    assert approve_detail["after"] == {
        "adjusted_risk": "Moderate",
        "risk_adjustment": "Yes",
        "scheduled_completion_date": "2026-04-05",
    }
    assert str(tmp_path) not in json.dumps(logged)  # the evidence's path is never kept
    names = [a for a, _w, _d in events(engine, "")]
    assert names.index("deviation.approve") < names.index("item.deadlines", names.index("deviation.approve"))


def test_requester_never_decides_one_pending_per_type_and_a_rejected_one_may_be_asked_again(
    engine: Engine, tmp_path: Path
) -> None:
    setup(engine, tmp_path)
    deviations.request(engine, "cso", "V-2", "alice", "ra", "segmented", adjusted_risk="low")
    with pytest.raises(ValueRefused, match="the requester cannot approve"):
        deviations.approve(engine, "cso", "V-2", "alice", "ra")
    with pytest.raises(ValueRefused, match="the requester cannot reject"):
        deviations.reject(engine, "cso", "V-2", "alice", "ra")
    with pytest.raises(UsageError, match="already has a pending risk adjustment"):
        deviations.request(engine, "cso", "V-2", "carol", "ra", "again", adjusted_risk="low")
    rejected = deviations.reject(engine, "cso", "V-2", "bob", "ra", note="no evidence of segmentation")
    assert rejected.status == "rejected"
    row = item(engine, "V-2")
    assert (row["risk_adjustment"], row["adjusted_risk"], row["deviation_rationale"]) == ("No", None, None)
    with pytest.raises(UsageError, match="no pending risk adjustment"):
        deviations.approve(engine, "cso", "V-2", "bob", "ra")
    again = deviations.request(
        engine, "cso", "V-2", "alice", "ra", "segmented, with the firewall rules", adjusted_risk="low"
    )
    assert again.status == "pending" and item(engine, "V-2")["risk_adjustment"] == "Pending"
    assert [a for a, _w, _d in events(engine)] == ["deviation.request", "deviation.reject", "deviation.request"]


def test_ra_without_adjusted_risk_is_refused(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    with pytest.raises(ValueRefused, match="needs --adjusted-risk"):
        deviations.request(engine, "cso", "V-2", "alice", "ra", "x")


@pytest.mark.parametrize(
    ("poam_id", "kind", "kwargs", "problem"),
    [
        ("V-2", "ra", {"adjusted_risk": "moderate"}, "not lower than V-2's original rating Moderate"),
        ("V-2", "ra", {"adjusted_risk": "high"}, "not lower"),
        ("V-1", "ra", {"adjusted_risk": "high"}, "not lower than V-1's original rating High"),  # Critical is High
        ("V-2", "fp", {"adjusted_risk": "low"}, "--adjusted-risk is for a risk adjustment"),
        ("V-2", "ra", {"adjusted_risk": "none"}, "must be one of"),
        ("V-2", "fp", {"rationale": "   "}, "needs --rationale"),
        ("V-2", "xx", {}, "--type must be one of"),
        ("V-3", "or", {}, "rated High"),
        ("V-2", "accepted", {}, "follows rule set 'fedramp-rev5', not fedramp-cr26"),
        ("V-2", "fp", {"auto_approve": True}, "--auto-approve is for risk adjustments only"),
        ("V-1", "ra", {"adjusted_risk": "low", "auto_approve": True}, "no AO-approved automated risk adjustment"),
    ],
)
def test_refused_requests_change_nothing(
    engine: Engine,
    tmp_path: Path,
    poam_id: str,
    kind: str,
    kwargs: dict,  # type: ignore[type-arg]
    problem: str,
) -> None:
    setup(engine, tmp_path)
    kwargs = dict(kwargs)  # the parameters are shared by the SQLite and PostgreSQL runs
    rationale = kwargs.pop("rationale", "because")
    before = item(engine, poam_id)
    with pytest.raises(ValueRefused, match=problem):
        deviations.request(engine, "cso", poam_id, "alice", kind, rationale, **kwargs)
    assert item(engine, poam_id) == before
    assert events(engine) == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(deviation_rows)).scalar_one() == 0


def test_operational_requirement_on_a_high_item_needs_a_risk_adjustment_first(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    deviations.request(engine, "cso", "V-3", "alice", "ra", "MFA in front", adjusted_risk="moderate")
    deviations.request(engine, "cso", "V-3", "alice", "or", "the port is needed for the service")
    row = item(engine, "V-3")
    assert (row["risk_adjustment"], row["operational_requirement"]) == ("Pending", "Pending")
    assert row["deviation_rationale"] == (
        "Risk Adjustment : MFA in front\n\nOperational Requirement : the port is needed for the service"
    )
    with pytest.raises(ValueRefused, match="still rated High"):
        deviations.approve(engine, "cso", "V-3", "bob", "or")
    assert item(engine, "V-3")["operational_requirement"] == "Pending"
    deviations.approve(engine, "cso", "V-3", "bob", "ra")
    deviations.approve(engine, "cso", "V-3", "bob", "or")
    row = item(engine, "V-3")
    assert (row["status"], row["operational_requirement"], row["adjusted_risk"]) == ("open", "Yes", "Moderate")
    with pytest.raises(UsageError, match="already has an approved operational requirement"):
        deviations.request(engine, "cso", "V-3", "alice", "or", "again")


def test_evidence_files_are_checked_stored_by_name_and_written_back(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    for path, problem in (
        (tmp_path / "missing.pdf", "missing.pdf: no such file"),
        (tmp_path, "is a directory"),
    ):
        with pytest.raises(InputError, match=problem):
            deviations.request(engine, "cso", "V-2", "alice", "fp", "x", evidence=[path])
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="pipe: not a regular file"):
        deviations.request(engine, "cso", "V-2", "alice", "fp", "x", evidence=[fifo])
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        f.truncate(documents.MAX_EVIDENCE + 1)
    with pytest.raises(InputError, match="big.bin: larger than 25 MiB"):
        deviations.request(engine, "cso", "V-2", "alice", "fp", "x", evidence=[big])
    exact = tmp_path / "exact.bin"
    with exact.open("wb") as f:
        f.truncate(documents.MAX_EVIDENCE)
    assert events(engine) == []

    clean = evidence_file(tmp_path, "clean-scan.nessus", b"<NessusClientData_v2/>")
    odd = evidence_file(tmp_path, "..\x1bodd.txt", b"odd name")
    r = deviations.request(engine, "cso", "V-2", "alice", "fp", "not loaded", evidence=[clean, odd, exact])
    assert [e["name"] for e in r.evidence] == ["clean-scan.nessus", "_odd.txt", "exact.bin"]
    with engine.connect() as conn:
        stored = conn.execute(select(deviation_evidence.c.name, deviation_evidence.c.size)).all()
    assert sorted(stored) == sorted([("clean-scan.nessus", 22), ("_odd.txt", 8), ("exact.bin", documents.MAX_EVIDENCE)])
    out = tmp_path / "out"
    out.mkdir()
    written = deviations.write_evidence(engine, "cso", "V-2", "fp", out)
    assert sorted(p.name for p in written) == ["_odd.txt", "clean-scan.nessus", "exact.bin"]
    assert (out / "clean-scan.nessus").read_bytes() == b"<NessusClientData_v2/>"
    assert all(p.parent == out for p in written)
    (out / "clean-scan.nessus").write_bytes(b"mine")  # never overwritten: the names are the requester's
    with pytest.raises(UsageError, match="already exists"):
        deviations.write_evidence(engine, "cso", "V-2", "fp", out)
    assert (out / "clean-scan.nessus").read_bytes() == b"mine"
    link = tmp_path / "link.txt"
    link.symlink_to(clean)
    with pytest.raises(InputError, match="is a symbolic link"):
        deviations.request(engine, "cso", "V-3", "alice", "fp", "x", evidence=[link])
    with engine.begin() as conn:  # stored bytes changed behind poam's back: nothing is written
        conn.execute(
            update(deviation_evidence).where(deviation_evidence.c.name == "_odd.txt").values(content=b"tampered")
        )
    again = tmp_path / "again"
    again.mkdir()
    with pytest.raises(PoamError, match="does not match its recorded SHA-256"):
        deviations.write_evidence(engine, "cso", "V-2", "fp", again)
    assert list(again.iterdir()) == []
    with pytest.raises(UsageError, match="no such folder"):
        deviations.write_evidence(engine, "cso", "V-2", "fp", tmp_path / "nowhere")


def _finding_count(engine: Engine, poam_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(findings)
            .join(items, items.c.id == findings.c.item_id)
            .where(items.c.poam_id == poam_id)
        ).scalar_one()


def _poam_ids(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            (r.poam_id, r.status) for r in conn.execute(select(items.c.poam_id, items.c.status).order_by(items.c.seq))
        ]


def test_an_approved_false_positive_closes_the_item_and_scans_never_reopen_it(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    deviations.request(engine, "cso", "V-2", "alice", "fp", "the module is not loaded")
    assert item(engine, "V-2")["false_positive"] == "Pending"
    result = deviations.approve(engine, "cso", "V-2", "bob", "fp")
    row = item(engine, "V-2")
    decided = row["closed_at"]
    assert (row["status"], row["false_positive"], row["disposition"]) == ("closed", "Yes", "false-positive")
    assert decided == row["status_date"] and result.item["closed_at"] == decided
    shown = triage.show(engine, "cso", "V-2")
    assert (shown["status"], shown["closed_date"]) == ("closed", decided.isoformat())
    assert [a for a, _w, _d in events(engine, "item.close")] == ["item.close"]
    with pytest.raises(UsageError, match="V-2 is closed"):
        deviations.request(engine, "cso", "V-2", "alice", "ra", "x", adjusted_risk="low")

    feb = dt.datetime(2026, 2, 5, 10, 0)
    # still reported on web, and now on db too: no new item, the findings go to V-2
    import_file(
        engine,
        scan(tmp_path, "feb.nessus", feb, {"web": ["100", "200", "300"], "db": ["200"]}),
        system="cso",
        actor="t",
    )
    assert _poam_ids(engine) == [("V-1", "open"), ("V-2", "closed"), ("V-3", "open")]
    assert _finding_count(engine, "V-2") == 2
    mar, apr = dt.datetime(2026, 3, 5, 10, 0), dt.datetime(2026, 4, 5, 10, 0)
    import_file(engine, scan(tmp_path, "mar.nessus", mar, {"web": ["100"], "db": []}), system="cso", actor="t")
    import_file(engine, scan(tmp_path, "apr.nessus", apr, {"web": ["100", "200"]}), system="cso", actor="t")
    assert _poam_ids(engine) == [("V-1", "open"), ("V-2", "closed"), ("V-3", "closed")]
    row = item(engine, "V-2")
    assert (row["status"], row["closed_at"], row["status_date"]) == ("closed", decided, decided)
    assert _finding_count(engine, "V-2") == 3  # the April recurrence is recorded on it

    # an older scan, imported late: the weakness's history is replayed; still closed, no new item
    dec = dt.datetime(2025, 12, 5, 10, 0)
    late = import_file(engine, scan(tmp_path, "dec.nessus", dec, {"web": ["200"], "db": ["200"]}), system="cso")
    assert "V-2" not in late.opened_ids
    assert _poam_ids(engine) == [("V-1", "open"), ("V-2", "closed"), ("V-3", "closed")]
    row = item(engine, "V-2")
    assert (row["status"], row["closed_at"], row["false_positive"]) == ("closed", decided, "Yes")
    assert row["detection_date"] == dec.date()  # the history still widens it
    with engine.connect() as conn:
        holders = set(
            conn.execute(
                select(items.c.poam_id).join(findings, findings.c.item_id == items.c.id).where(items.c.vuln_id == "200")
            ).scalars()
        )
    assert holders == {"V-2"}
    assert [a for a, _w, _d in events(engine, "item.reopen")] == []


def test_a_false_positive_requested_by_evaluate_is_approved_here(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path, policy="fedramp-cr26", cls="c")
    evaluation.evaluate(engine, "cso", "V-2", "alice", disposition="false-positive", rationale="not loaded", now=NOW)
    assert item(engine, "V-2")["false_positive"] == "Pending"
    with pytest.raises(UsageError, match="already has a pending false positive"):
        deviations.request(engine, "cso", "V-2", "carol", "fp", "again")
    deviations.approve(engine, "cso", "V-2", "bob", "fp")
    row = item(engine, "V-2")
    assert (row["status"], row["disposition"], row["disposition_rationale"]) == (
        "closed",
        "false-positive",
        "not loaded",
    )


def test_accepted_vulnerability_under_cr26(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path, policy="fedramp-cr26", cls="c")
    with pytest.raises(ValueRefused, match="V-1 has not been evaluated"):  # VER-RPT-AVI needs IRV, LEV, PAIN
        deviations.request(engine, "cso", "V-1", "alice", "accepted", "the vendor will not fix it")
    evaluation.evaluate(
        engine, "cso", "V-1", "alice", irv=True, pain=3, rationale="r", at="2026-01-06T09:00:00Z", now=NOW
    )
    with pytest.raises(ValueRefused, match="needs --rationale"):
        deviations.request(engine, "cso", "V-1", "alice", "accepted", "")
    deviations.request(engine, "cso", "V-1", "alice", "accepted", "the vendor will not fix it; isolated")
    row = item(engine, "V-1")
    assert row["deviation_rationale"] == "Accepted Vulnerability : the vendor will not fix it; isolated"

    def accepted() -> bool:
        with engine.connect() as conn:
            item_id = conn.execute(select(items.c.id).where(items.c.poam_id == "V-1")).scalar_one()
            return deadlines.gather(conn, [item_id])[item_id].facts.accepted

    assert accepted() is False
    deviations.approve(engine, "cso", "V-1", "bob", "accepted")
    assert accepted() is True
    row = item(engine, "V-1")
    assert (row["status"], row["disposition"]) == ("open", None)
    late = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)  # past the 192 days of VER-TFR-MAV
    flags = triage.show(engine, "cso", "V-1", now=late)["flags"]
    assert any(f["kind"] == "accepted" and "rationale recorded" in f["text"] for f in flags)
    with engine.connect() as conn:
        stored = json.loads(conn.execute(select(items.c.flags).where(items.c.poam_id == "V-1")).scalar_one())
    assert isinstance(stored, list)  # deadlines refreshed after the approval (stored, not stale)
    assert item(engine, "V-1")["rules_stale"] is False


def test_auto_approved_risk_adjustment_one_level(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    with pytest.raises(ValueRefused, match="no AO-approved automated risk adjustment process"):
        deviations.request(engine, "cso", "V-3", "bot", "ra", "x", adjusted_risk="moderate", auto_approve=True)
    assert events(engine) == []
    systems.configure(engine, "cso", "isso", auto_approve=True)  # the AO's approval, recorded (audited)
    with pytest.raises(ValueRefused, match="one level only"):  # Critical counts as High: High -> Low is two
        deviations.request(engine, "cso", "V-1", "bot", "ra", "x", adjusted_risk="low", auto_approve=True)
    r = deviations.request(
        engine,
        "cso",
        "V-3",
        "scanner-bot",
        "ra",
        "asset type: internal DB (CVSS environmental)",
        adjusted_risk="moderate",
        auto_approve=True,
    )
    assert r.status == "approved"
    row = item(engine, "V-3")
    assert (row["risk_adjustment"], row["adjusted_risk"], row["auto_approve"]) == ("Yes", "Moderate", "Yes")
    logged = events(engine)
    assert [(a, who) for a, who, _d in logged] == [
        ("deviation.request", "scanner-bot"),
        ("deviation.approve", "scanner-bot"),
    ]
    assert logged[1][2]["auto_approved"] is True
    shown = triage.show(engine, "cso", "V-3")["deviations"][0]
    assert (shown["approver"], shown["auto_approved"]) == ("scanner-bot", True)
    # a manual request may lower it further; approved by someone else, the column becomes No
    deviations.request(engine, "cso", "V-3", "alice", "ra", "and MFA", adjusted_risk="low")
    deviations.approve(engine, "cso", "V-3", "bob", "ra")
    row = item(engine, "V-3")
    assert (row["adjusted_risk"], row["auto_approve"]) == ("Low", "No")
    with pytest.raises(ValueRefused, match="not lower than V-3's approved adjusted rating Low"):
        deviations.request(engine, "cso", "V-3", "alice", "ra", "x", adjusted_risk="low")


def test_list_filters_by_status(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    deviations.request(engine, "cso", "V-2", "alice", "fp", "a")
    deviations.request(engine, "cso", "V-3", "alice", "ra", "b", adjusted_risk="low")
    deviations.reject(engine, "cso", "V-3", "bob", "ra")
    assert [(d["poam_id"], d["type"], d["status"]) for d in deviations.list_all(engine, "cso")] == [
        ("V-2", "false-positive", "pending"),
        ("V-3", "risk-adjustment", "rejected"),
    ]
    assert [d["poam_id"] for d in deviations.list_all(engine, "cso", "pending")] == ["V-2"]
    with pytest.raises(ValueRefused):
        deviations.list_all(engine, "cso", "open")


def test_requester_and_approver_are_compared_as_people(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    deviations.request(engine, "cso", "V-2", "jane.doe", "fp", "not there")
    for same in ("Jane.Doe", " jane.doe ", "JANE.DOE"):
        with pytest.raises(ValueRefused, match="requester cannot approve"):
            deviations.approve(engine, "cso", "V-2", same, "fp")
    assert deviations.approve(engine, "cso", "V-2", "bob", "fp").status == "approved"
