"""`poam evaluate` as a service: what is recorded, what is refused, and deadlines that follow the facts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from poam.errors import UsageError
from poam.services import evaluation, exposure, intel, systems, triage
from poam.services.importer import import_file
from poam.store.tables import audit_events, deviations, evaluations, items
from tests.builders import Host, Item, write_nessus

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 20, 12, 0, tzinfo=UTC)


def setup(engine: Engine, tmp_path: Path, policy: str = "fedramp-cr26", cls: str | None = "c") -> None:
    systems.add_system(engine, "cso", "t", impact="moderate", policy=policy, fedramp_class=cls)
    scan = write_nessus(
        tmp_path / "a.nessus",
        [Host("web", ip="10.0.0.5", items=[Item("100", cvss3=9.8, cves=("CVE-2026-20001",)), Item("200", severity=1)])],
    )
    import_file(engine, scan, system="cso", actor="t")


def deadline(engine: Engine, kind: str, poam_id: str = "V-1", now: dt.datetime = NOW) -> dict | None:  # type: ignore[type-arg]
    found = [d for d in triage.show(engine, "cso", poam_id, now=now)["deadlines"] if d["kind"] == kind]
    return found[0] if found else None


def kev_file(tmp_path: Path, forensic: str, version: str = "2026.01.10") -> Path:
    """A one-entry KEV catalog, hand-written in CISA's JSON shape."""
    kev = tmp_path / f"kev-{version}-{forensic}.json"
    entry = {
        "cveID": "CVE-2026-20001",
        "vendorProject": "Example",
        "product": "Server",
        "vulnerabilityName": "Example RCE",
        "dateAdded": "2026-01-10",
        "shortDescription": "x",
        "requiredAction": "patch",
        "dueDate": "2026-01-31",
        "knownRansomwareCampaignUse": "Unknown",
        "notes": "",
        "forensicTriage": forensic,
    }
    catalog = {
        "title": "CISA Catalog of Known Exploited Vulnerabilities",
        "catalogVersion": version,
        "dateReleased": "2026-01-10T00:00:00.000Z",
        "count": 1,
        "vulnerabilities": [entry],
    }
    kev.write_text(json.dumps(catalog), encoding="utf-8")
    return kev


def actions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r.action for r in conn.execute(select(audit_events.c.action).order_by(audit_events.c.id))]


def test_evaluation_then_reduction_rearms_the_clock_and_keeps_the_history(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    first = evaluation.evaluate(
        engine, "cso", "V-1", "alice", irv=True, pain=4, rationale="public API", at="2026-01-06T09:00:00Z", now=NOW
    )
    assert (first.kind, first.lev, first.lev_assumed) == ("evaluation", True, True)  # VER-EVA-AIA
    assert deadline(engine, "next_reduction")["due"] == "2026-01-10T09:00:00Z"  # Class C N4 IRV+LEV: 4 days
    second = evaluation.evaluate(
        engine,
        "cso",
        "V-1",
        "bob",
        pain=3,
        rationale="WAF rule blocks the payload",
        at="2026-01-08T15:30:00+02:00",
        now=NOW,
    )
    assert second.kind == "reduction"
    nr = deadline(engine, "next_reduction")
    assert nr["clock_start"] == "2026-01-08T13:30:00Z" and nr["due"] == "2026-01-24T13:30:00Z"  # N3: 16 days
    assert deadline(engine, "accepted")["due"] == "2026-07-17T09:00:00Z"  # 192 days from the first, not re-armed
    shown = triage.show(engine, "cso", "V-1", now=NOW)
    assert [(e["kind"], e["pain"], e["evaluator"]) for e in shown["evaluations"]] == [
        ("evaluation", 4, "alice"),
        ("reduction", 3, "bob"),
    ]
    assert shown["pain"] == 3 and shown["irv"] is True and shown["awaiting_evaluation"] is False
    assert actions(engine).count("item.evaluate") == 2
    with engine.connect() as conn:
        stored = json.loads(conn.execute(select(items.c.deadlines).where(items.c.poam_id == "V-1")).scalar_one())
    assert {d["kind"]: d["due"] for d in stored}["next_reduction"] == "2026-01-24T13:30:00Z"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"irv": True, "pain": 6, "rationale": "x"}, "1 to 5"),
        ({"irv": True, "pain": 3}, "rationale"),
        ({"pain": 3, "rationale": "x"}, "needs --irv"),
        ({"irv": True, "pain": 3, "rationale": "x", "at": "2026-01-06T09:00:00"}, "time zone"),
        ({"irv": True, "pain": 3, "rationale": "x", "at": "2026-02-01T00:00:00Z"}, "future"),
        ({"irv": True, "pain": 3, "rationale": "x", "at": "2026-01-01T00:00:00Z"}, "before V-1 was detected"),
        ({"irv": True, "pain": 3, "rationale": "x", "at": "yesterday"}, "ISO 8601"),
        ({}, "give --irv"),
        ({"disposition": "fully-mitigated"}, "rationale"),
    ],
)
def test_invalid_input_is_refused_and_changes_nothing(
    engine: Engine,
    tmp_path: Path,
    kwargs: dict,
    problem: str,  # type: ignore[type-arg]
) -> None:
    setup(engine, tmp_path)
    before = actions(engine)
    with pytest.raises(UsageError, match=problem):
        evaluation.evaluate(engine, "cso", "V-1", "alice", now=NOW, **kwargs)
    assert actions(engine) == before
    with engine.connect() as conn:
        assert conn.execute(select(evaluations)).first() is None


def test_a_reduction_needs_a_rationale_and_a_raise_needs_a_reason(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    evaluation.evaluate(
        engine, "cso", "V-1", "a", irv=False, lev=True, pain=3, rationale="r", at="2026-01-06T00:00:00Z", now=NOW
    )
    with pytest.raises(UsageError, match="rationale"):
        evaluation.evaluate(engine, "cso", "V-1", "a", pain=2, now=NOW)
    with pytest.raises(UsageError, match="--reason"):
        evaluation.evaluate(engine, "cso", "V-1", "a", pain=4, rationale="new exploit", now=NOW)
    with pytest.raises(UsageError, match="unchanged"):
        evaluation.evaluate(engine, "cso", "V-1", "a", pain=3, rationale="same", now=NOW)
    with pytest.raises(UsageError, match="before the last recorded evaluation"):
        evaluation.evaluate(engine, "cso", "V-1", "a", pain=2, rationale="r", at="2026-01-05T23:00:00Z", now=NOW)
    raised = evaluation.evaluate(
        engine, "cso", "V-1", "a", pain=4, rationale="exploit published", reason="PoC on GitHub", now=NOW
    )
    assert raised.kind == "raise"
    assert deadline(engine, "next_reduction")["clock_start"] == "2026-01-20T12:00:00Z"


def test_evaluating_a_closed_item_is_refused(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    later = write_nessus(
        tmp_path / "b.nessus",
        [Host("web", ip="10.0.0.5", start=dt.datetime(2026, 1, 12, 10), items=[Item("200", severity=1)])],
    )
    import_file(engine, later, system="cso", actor="t")
    with pytest.raises(UsageError, match="closed"):
        evaluation.evaluate(engine, "cso", "V-1", "a", irv=True, pain=3, rationale="r", now=NOW)


def test_dispositions(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    evaluation.evaluate(engine, "cso", "V-1", "a", irv=True, pain=3, rationale="r", at="2026-01-06T00:00:00Z", now=NOW)
    fp = evaluation.evaluate(engine, "cso", "V-1", "a", disposition="false-positive", rationale="not loaded", now=NOW)
    with engine.connect() as conn:
        row = conn.execute(select(deviations)).one()
    assert (row.id, row.type, row.status, row.requester) == (fp.deviation_id, "false-positive", "pending", "a")
    with pytest.raises(UsageError, match="already has a pending"):
        evaluation.evaluate(engine, "cso", "V-1", "a", disposition="false-positive", rationale="again", now=NOW)
    assert triage.show(engine, "cso", "V-1", now=NOW)["status"] == "open"  # pending: the item stays open
    evaluation.evaluate(engine, "cso", "V-1", "a", disposition="fully-mitigated", rationale="disabled", now=NOW)
    shown = triage.show(engine, "cso", "V-1", now=NOW)
    assert shown["disposition"] == "fully-mitigated"
    assert {d["kind"] for d in shown["deadlines"]} == {"evaluation"}  # no reduction, no acceptance clock
    assert "item.disposition" in actions(engine) and "deviation.request" in actions(engine)


def test_accepted_vulnerability_flag_after_192_days(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path, cls="b")
    evaluation.evaluate(engine, "cso", "V-1", "a", irv=False, pain=2, rationale="r", at="2026-01-06T00:00:00Z", now=NOW)
    late = dt.datetime(2026, 7, 17, 0, 0, 1, tzinfo=UTC)
    flags = triage.show(engine, "cso", "V-1", now=late)["flags"]
    assert [(f["kind"], f["rule"]) for f in flags] == [("accepted", "VER-TFR-MAV")]
    assert "record an acceptance rationale" in flags[0]["text"]
    assert triage.show(engine, "cso", "V-1", now=dt.datetime(2026, 7, 16, tzinfo=UTC))["flags"] == []


def test_deadlines_follow_exposure_and_kev_and_are_audited(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path, policy="bod-26-04", cls=None)
    # no SSVC data and not in KEV: 60 days (BOD 26-04 FAQ)
    assert deadline(engine, "remediation")["due"] == "2026-03-06T10:00:00Z"
    kev = kev_file(tmp_path, "No")
    intel.load(engine, kev, "t")
    # in KEV, no SSVC: automatable and total assumed; the asset is unclassified, so public: row 1
    # (its forensic triage is not asked: it is reached by an assumption and the KEV record says No)
    assert triage.show(engine, "cso", "V-1", now=NOW)["forensic_triage"] is False
    d = deadline(engine, "remediation")
    assert d["rule"] == "BOD 26-04 Table 1 row 1" and d["due"] == "2026-01-08T10:00:00Z"
    exposure.set_asset(engine, "cso", "10.0.0.5", "internal", None, "t")
    d = deadline(engine, "remediation")
    assert d["rule"] == "BOD 26-04 Table 1 row 9" and d["due"] == "2026-01-08T10:00:00Z"
    with engine.connect() as conn:
        changes = [
            json.loads(r.detail)
            for r in conn.execute(select(audit_events).where(audit_events.c.action == "item.deadlines"))
        ]
    reasons = [c["reason"] for c in changes]
    assert any("KEV catalog 2026.01.10" in r for r in reasons)
    assert any(r.startswith("asset web") for r in reasons)
    assert changes[0]["before"]["remediation"].startswith("2026-03-06T10:00:00Z")


def test_changing_the_rule_set_recomputes_and_refuses_bod_19_02(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path, policy="fedramp-rev5", cls=None)
    assert deadline(engine, "remediation")["due"] == "2026-02-04T10:00:00Z"  # Critical: 30 days
    info, changed = systems.set_rules(engine, "cso", "t", "dod", None, None)
    assert info.policy == "dod" and changed == 2
    assert deadline(engine, "remediation")["basis"].startswith("CAT I: 30 days")
    assert deadline(engine, "remediation", "V-2")["due"] == "2027-01-05T10:00:00Z"  # CAT III: 365 days
    with pytest.raises(UsageError, match="revoked by CISA BOD 26-04"):
        systems.set_rules(engine, "cso", "t", "bod-19-02", None, None)
    info, _ = systems.set_rules(engine, "cso", "t", "fedramp-cr26", None, None)
    assert info.fedramp_class == "c"  # Moderate impact: Class C unless given


def test_a_forensic_triage_task_appearing_is_audited(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path, policy="bod-26-04", cls=None)
    intel.load(engine, kev_file(tmp_path, "No"), "t")
    intel.load(engine, kev_file(tmp_path, "Yes", "2026.01.11"), "t")  # same dates, the record now asks
    shown = triage.show(engine, "cso", "V-1", now=NOW)
    assert shown["forensic_triage"] is True
    with engine.connect() as conn:
        last = conn.execute(
            select(audit_events.c.detail)
            .where(audit_events.c.action == "item.deadlines")
            .order_by(audit_events.c.id.desc())
        ).first()
    assert last is not None
    change = json.loads(last.detail)
    assert (
        "flag:forensic_triage:BOD 26-04" in change["after"] and "flag:forensic_triage:BOD 26-04" not in change["before"]
    )
    assert change["reason"] == "KEV catalog 2026.01.11 loaded"
