"""VER report records built from the database: every field against values worked out by hand from
the CR26 tables (Class C), the report period's selection, and the export's refusals."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from poam.errors import PoamError, UsageError, ValueRefused
from poam.exporters import fedramp_schemas, fedramp_ver
from poam.exporters.fedramp_ver import Reduction
from poam.services import deviations, evaluation, systems, ver
from poam.services.importer import import_file
from poam.store.db import read
from poam.store.tables import audit_events
from tests.builders import Host, Item, write_nessus

UTC = dt.UTC
JAN = dt.datetime(2026, 1, 5, 10, 0)
FEB = dt.datetime(2026, 2, 5, 10, 0)
URI = "https://cso.example.com/cpo.json"
PAYLOAD = "<script>PAYLOAD-XYZ-31337</script>"
N3 = "N3: Exploitation could be expected to have a disruptive customer effect on one agency that uses the cloud service offering."  # noqa: E501 (VER-EVA-EPA, quoted)
N2 = (
    "N2: Exploitation could be expected to have narrow customer effects on one or more agencies that use the cloud "
    "service offering."
)


def setup(engine: Engine, tmp_path: Path, uri: str | None = URI) -> None:
    """System `cso` (fedramp-cr26, Class C). January scan: V-1 web server RCE (Critical, a CVE; the
    scanner output carries a payload), V-2 weak TLS cipher (Moderate), V-3 outdated OpenSSH (High).
    V-1 evaluated N4 IRV (LEV assumed) on 01-06 09:00, reduced to N3 on 01-08 09:00; V-2 evaluated
    N2 NIRV NLEV on 01-07 12:00 and accepted (alice asks, bob approves); V-3 never evaluated and
    gone from the February scan (closed 2026-02-05)."""
    systems.add_system(engine, "cso", "t", impact="moderate", policy="fedramp-cr26", fedramp_class="c")
    if uri:
        systems.configure(engine, "cso", "t", cpo_uri=uri)
    found = [
        Item("100", cvss3=9.8, cves=("CVE-2026-20001",), name="Web server RCE", output=PAYLOAD),
        Item("200", severity=2, name="Weak TLS cipher"),
        Item("300", severity=3, name="Outdated OpenSSH"),
    ]
    jan = write_nessus(tmp_path / "jan.nessus", [Host("web", ip="10.0.0.5", start=JAN, items=found)])
    import_file(engine, jan, system="cso", actor="t")
    evaluation.evaluate(
        engine, "cso", "V-1", "alice", irv=True, pain=4, rationale="public API", at="2026-01-06T09:00:00Z"
    )
    evaluation.evaluate(engine, "cso", "V-1", "alice", pain=3, rationale="WAF rule", at="2026-01-08T09:00:00Z")
    evaluation.evaluate(
        engine, "cso", "V-2", "alice", irv=False, lev=False, pain=2, rationale="internal", at="2026-01-07T12:00:00Z"
    )
    deviations.request(engine, "cso", "V-2", "alice", "accepted", "Vendor appliance; compensating network control")
    deviations.approve(engine, "cso", "V-2", "bob", "accepted", "ok")
    feb = write_nessus(tmp_path / "feb.nessus", [Host("web", ip="10.0.0.5", start=FEB, items=found[:2])])
    import_file(engine, feb, system="cso", actor="t")


def records(engine: Engine, start: dt.date, end: dt.date, now: dt.datetime) -> dict[str, fedramp_ver.VerRecord]:
    within = ver.period(start, end)
    with read(engine) as conn:
        info = systems.resolve(conn, "cso", "t")
        return {r.poam_id: r for r in ver.records(conn, info, min(within.end, now), within)}


def test_records_of_january(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    found = records(engine, dt.date(2026, 1, 1), dt.date(2026, 1, 31), dt.datetime(2026, 12, 1, tzinfo=UTC))
    assert list(found) == ["V-1", "V-2", "V-3"]
    v1 = found["V-1"]
    assert v1.detected_at == dt.datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # the scan's HOST_START
    assert v1.detection_source == "Nessus"
    assert v1.description == "Web server RCE: Web server RCE description"
    assert v1.potential_impact == N3
    assert v1.evaluated_at == dt.datetime(2026, 1, 6, 9, 0, tzinfo=UTC)  # the first evaluation
    assert (v1.irv, v1.lev, v1.pain) == (True, True, 3)
    assert v1.reductions == (Reduction(dt.datetime(2026, 1, 8, 9, 0, tzinfo=UTC), 3),)
    # Class C, N3, IRV+LEV: 16 days from the reduction (01-08 09:00) -> 01-24 09:00, missed by 01-31
    assert v1.overdue
    assert v1.overdue_explanation == (
        "next PAIN reduction missed: due 2026-01-24T09:00:00Z (VDR-TFR-PVR: Class C, N3 IRV+LEV: reach N2 or lower "
        "within 16 days of the change that set N3)"
    )
    # the plan: the automatic first milestone, 30 days after detection (a Critical finding)
    assert v1.next_reduction == (dt.datetime(2026, 2, 4, 23, 59, 59, tzinfo=UTC), 2)
    assert v1.extension["nextReductionBasis"] == "milestone 1 (due 2026-02-04)"
    assert v1.supplementary == (
        "CVEs: CVE-2026-20001; exposure of the affected resources: unknown; original risk rating Critical (CVSS v3 9.8)"
    )
    assert (v1.disposition, v1.accepted, v1.status) == (None, False, "open")
    assert [(e["kind"], e["pain"], e["at"]) for e in v1.extension["painHistory"]] == [
        ("evaluation", 4, "2026-01-06T09:00:00Z"),
        ("reduction", 3, "2026-01-08T09:00:00Z"),
    ]
    assert v1.extension["reductions"] == [{"reducedAt": "2026-01-08T09:00:00Z", "rating": 3}]
    assert v1.extension["cves"] == ["CVE-2026-20001"] and v1.extension["missedDeadlines"] == ["VDR-TFR-PVR"]
    assert {d["kind"]: (d["rule"], d["due"]) for d in v1.extension["deadlines"]} == {
        "evaluation": ("VER-TFR-EVU", "2026-01-10T10:00:00Z"),
        "next_reduction": ("VDR-TFR-PVR", "2026-01-24T09:00:00Z"),
        "accepted": ("VER-TFR-MAV", "2026-07-17T09:00:00Z"),  # 192 days from 01-06 09:00
    }
    v2 = found["V-2"]
    assert (v2.accepted, v2.acceptance_rationale) == (True, "Vendor appliance; compensating network control")
    assert (v2.acceptance["requester"], v2.acceptance["approver"], v2.acceptance["note"]) == ("alice", "bob", "ok")
    assert (v2.irv, v2.lev, v2.pain, v2.potential_impact) == (False, False, 2, N2)
    assert (v2.overdue, v2.overdue_explanation) == (False, None)  # N2 NLEV: 192 days
    assert v2.next_reduction == (dt.datetime(2026, 4, 5, 23, 59, 59, tzinfo=UTC), 1)  # Moderate: 90 days
    v3 = found["V-3"]  # open at the end of January, never evaluated: Class C evaluates within 5 days
    assert (v3.status, v3.disposition, v3.pain, v3.evaluated_at, v3.next_reduction) == ("open", None, None, None, None)
    assert v3.overdue and v3.overdue_explanation == (
        "evaluation missed: due 2026-01-10T10:00:00Z (VER-TFR-EVU: Class C: evaluate within 5 days of detection)"
    )


def test_the_state_at_the_end_of_the_period(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    early = records(engine, dt.date(2026, 1, 1), dt.date(2026, 1, 7), dt.datetime(2026, 12, 1, tzinfo=UTC))
    v1 = early["V-1"]  # by 01-07 23:59:59 only the first evaluation was made
    assert (v1.pain, v1.reductions, v1.overdue) == (4, (), False)
    assert v1.extension["deadlines"][1]["due"] == "2026-01-10T09:00:00Z"  # Class C N4 IRV+LEV: 4 days
    assert v1.next_reduction == (dt.datetime(2026, 2, 4, 23, 59, 59, tzinfo=UTC), 3)
    assert v1.overdue_explanation == (  # VER-RPT-VDT item 9: "likely to become an overdue vulnerability"
        "likely to become overdue: milestone 1 is planned for 2026-02-04, after the next PAIN reduction deadline "
        "2026-01-10T09:00:00Z (VDR-TFR-PVR)"
    )
    assert not early["V-3"].overdue  # its evaluation is due 01-10: not missed by 01-07
    feb = records(engine, dt.date(2026, 2, 1), dt.date(2026, 2, 28), dt.datetime(2026, 12, 1, tzinfo=UTC))
    v3 = feb["V-3"]  # closed by the February scan: no longer detected
    assert (v3.status, v3.closed_at, v3.disposition, v3.overdue) == ("closed", dt.date(2026, 2, 5), "remediated", False)
    march = records(engine, dt.date(2026, 3, 1), dt.date(2026, 3, 31), dt.datetime(2026, 12, 1, tzinfo=UTC))
    assert list(march) == ["V-1", "V-2"]  # V-3 closed before the period
    assert march["V-1"].next_reduction is None  # milestone 02-04 and the deadline 01-24 both passed
    assert march["V-1"].extension["nextReductionBasis"] == (
        "none planned: no open milestone ahead and the VDR-TFR-PVR deadline has passed"
    )
    before = records(engine, dt.date(2025, 12, 1), dt.date(2025, 12, 31), dt.datetime(2026, 12, 1, tzinfo=UTC))
    assert before == {}  # nothing detected yet


def test_export_writes_valid_documents_without_scanner_output(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    now = dt.datetime(2026, 2, 10, 12, 0, tzinfo=UTC)
    within = ver.period(dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    out = {k: tmp_path / f"{k}.json" for k in ver.KINDS}
    vdr = ver.export(engine, "vdr", out["vdr"], "cso", "alice", within, now=now)
    avi = ver.export(engine, "avi", out["avi"], "cso", "alice", within, now=now)
    hist = ver.export(engine, "ver-history", out["ver-history"], "cso", "alice", now=now)
    assert (vdr.records, avi.records, avi.accepted, hist.records, hist.accepted) == (2, 1, 1, 2, 1)
    assert vdr.warnings[-1] == (
        "the period ends after now (2026-02-28): the records are as of 2026-02-10T12:00:00Z; write the report "
        "again once the period has ended"
    )
    docs = {k: json.loads(p.read_text(encoding="utf-8")) for k, p in out.items()}
    for kind, doc in docs.items():
        assert fedramp_schemas.problems(doc, kind) == []
        assert doc["certificationPackageOverviewUri"] == URI
        assert "PAYLOAD-XYZ" not in out[kind].read_text(encoding="utf-8")  # VER-RPT-NID
        assert "10.0.0.5" not in out[kind].read_text(encoding="utf-8")
    assert docs["vdr"]["reportPeriod"] == {"from": "2026-02-01T00:00:00Z", "to": "2026-02-28T23:59:59Z"}
    assert [v["providerTrackingId"] for v in docs["vdr"]["vulnerabilities"]] == ["V-1", "V-3"]
    v3 = docs["vdr"]["vulnerabilities"][1]
    assert v3["finalDisposition"] == "Fully Mitigated"  # 0.1.x has no Remediated; said in x-poam
    assert v3["x-poam"]["finalDispositionNote"].startswith("remediated (no longer detected)")
    assert [a["acceptanceRationale"] for a in docs["avi"]["acceptedVulnerabilities"]] == [
        "Vendor appliance; compensating network control"
    ]
    assert docs["ver-history"]["generatedAt"] == "2026-02-10T12:00:00Z"
    assert [v["providerTrackingId"] for v in docs["ver-history"]["activeVulnerabilities"]] == ["V-1"]
    with read(engine) as conn:
        events = conn.execute(
            select(audit_events.c.action, audit_events.c.detail)
            .where(audit_events.c.action.like("export.%"))
            .order_by(audit_events.c.id)
        ).all()
    assert [e.action for e in events] == ["export.vdr", "export.avi", "export.ver-history"]
    first = json.loads(events[0].detail) if isinstance(events[0].detail, str) else events[0].detail
    assert first["records"] == 2 and first["period"] == ["2026-02-01", "2026-02-28"]


def test_without_a_cpo_uri_nothing_is_written(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path, uri=None)
    out = tmp_path / "vdr.json"
    with pytest.raises(UsageError, match=r"set it with `poam system set cso --cpo-uri https://\.\.\.`"):
        ver.export(engine, "vdr", out, "cso", "alice", ver.period(dt.date(2026, 1, 1), dt.date(2026, 1, 31)))
    assert not out.exists() and list(tmp_path.glob(".vdr.json*")) == []


def test_an_invalid_document_is_never_written(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup(engine, tmp_path)
    real = fedramp_ver.detail

    def broken(record: fedramp_ver.VerRecord, schemas: fedramp_schemas.SchemaSet) -> dict[str, object]:
        return {**real(record, schemas), "currentRating": 6}

    monkeypatch.setattr(fedramp_ver, "detail", broken)
    out = tmp_path / "vdr.json"
    out.write_text("previous", encoding="utf-8")
    expected = r"\$\.vulnerabilities\[0\]\.currentRating: not one of the allowed values: 1, 2, 3, 4, 5 \(value: 6\)"
    with pytest.raises(PoamError, match=expected):
        ver.export(engine, "vdr", out, "cso", "alice", ver.period(dt.date(2026, 1, 1), dt.date(2026, 1, 31)))
    assert out.read_text(encoding="utf-8") == "previous"


def test_cpo_uri_is_checked_and_audited(engine: Engine) -> None:
    systems.add_system(engine, "cso", "t", policy="fedramp-cr26")
    for bad in ("cpo.json", "ftp://example.com/x", "https://", "https://exa mple.com/", "javascript:alert(1)"):
        with pytest.raises(ValueRefused):
            systems.configure(engine, "cso", "t", cpo_uri=bad)
    done = systems.configure(engine, "cso", "t", cpo_uri=" https://cso.example.com/cpo.json ")
    assert done.info.cpo_uri == "https://cso.example.com/cpo.json"
    with read(engine) as conn:
        detail = conn.execute(
            select(audit_events.c.detail)
            .where(audit_events.c.action == "system.set")
            .order_by(audit_events.c.id.desc())
        ).scalar_one()
    detail = json.loads(detail) if isinstance(detail, str) else detail
    assert detail["cpo_uri"] == [None, "https://cso.example.com/cpo.json"]


def test_period_order_is_checked() -> None:
    with pytest.raises(ValueRefused, match="before --from"):
        ver.period(dt.date(2026, 2, 1), dt.date(2026, 1, 1))
