"""The STIG Viewer 3 .cklb parser on hand-written checklists and on the real files of the corpus."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.stig_ckl import StigCklParser
from poam.parsers.stig_cklb import StigCklbParser
from poam.services.importer import import_file
from tests.conftest import corpus_dir
from tests.parsers.test_stig_ckl import (
    assert_sniff_claims_exactly,
    ckl,
    detected,
    head_of,
    items_by_id,
    peer_invalid,
    run,
    run_with_context,
    vuln,
)

WHEN = dt.datetime(2026, 3, 1, 12, 0)
TARGET = {
    "target_type": "Computing",
    "host_name": "web01",
    "ip_address": "10.0.0.5",
    "mac_address": "",
    "fqdn": "web01.example.com",
    "is_web_database": False,
    "web_db_site": "",
    "web_db_instance": "",
}


def rule(group: str, status: str, severity: str = "medium", **extra: Any) -> dict[str, Any]:
    n = group.removeprefix("V-")
    return {
        "group_id": group,
        "rule_id": f"SV-{n}r2",
        "rule_id_src": f"SV-{n}r2_rule",
        "rule_version": f"TEST-00-{n}",
        "severity": severity,
        "group_title": "SRG-OS-000480",
        "rule_title": f"Rule {n} must be set.",
        "discussion": "Why it matters.",
        "check_content": "Look at it.",
        "fix_text": "Set it.",
        "ccis": ["CCI-000366"],
        "status": status,
        "finding_details": "",
        "comments": "",
        "overrides": {},
        **extra,
    }


def cklb(rules: list[dict[str, Any]], target: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    stig = {
        "stig_name": "Test STIG",
        "display_name": "Test",
        "version": 2,
        "release_info": "Release: 3",
        "rules": rules,
    }
    return {"title": "t", "id": "x", "target_data": TARGET if target is None else target, "stigs": [stig], **top}


def write(tmp_path: Path, doc: object, name: str = "c.cklb") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc, encoding="utf-8")
    return path


def parse(path: Path, **ctx: Any) -> list[Any]:
    ctx.setdefault("scan_date", WHEN)
    return run(StigCklbParser(), path, **ctx)


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def test_statuses_fields_and_times(tmp_path: Path) -> None:
    rules = [
        rule(
            "V-1",
            "open",
            "high",
            finding_details="root login on",
            comments="Ticket 42",
            updatedAt="2024-05-01T10:00:00Z",
        ),
        rule("V-2", "not_a_finding", createdAt="2024-04-01T10:00:00.000Z"),
        rule("V-3", "not_applicable"),
        rule("V-4", "not_reviewed"),
    ]
    records = parse(write(tmp_path, cklb(rules)))
    got = {f.weakness.vuln_id: f for f in findings(records)}
    assert {k: f.status for k, f in got.items()} == {
        "V-1": FindingStatus.OPEN,
        "V-2": FindingStatus.FIXED,
        "V-3": FindingStatus.FIXED,
    }
    f = got["V-1"]
    assert (f.weakness.tool, f.weakness.severity, f.weakness.ccis, f.weakness.is_config) == (
        "DISA STIG Viewer",
        Severity.HIGH,
        ("CCI-000366",),
        True,
    )
    assert f.weakness.synopsis == "Rule ID SV-1r2_rule; STIG ID TEST-00-1; Test STIG :: Version 2 Release: 3"
    assert f.evidence == "root login on\n\nComments: Ticket 42"
    assert f.observed_at == dt.datetime(2024, 5, 1, 10, 0)
    assert got["V-2"].observed_at == dt.datetime(2024, 4, 1, 10, 0)
    assert got["V-3"].observed_at == WHEN  # no date on the rule: --scan-date
    cov = [r for r in records if isinstance(r, Coverage)]
    assert [(c.started_at, c.ended_at) for c in cov] == [(dt.datetime(2024, 4, 1, 10, 0), WHEN)]
    assert isinstance(records[-1], Scan) and records[-1].name == "Test STIG"


def test_same_items_as_the_ckl_of_the_same_review(tmp_path: Path) -> None:
    """A .ckl and a .cklb of one review give the same tool, ids, asset and status."""
    ckl_path = tmp_path / "a.ckl"
    ckl_path.write_text(
        ckl(
            [vuln("V-1", "Open", rule_id="SV-1r2_rule"), vuln("V-2", "NotAFinding", rule_id="SV-2r2_rule")],
            {"ASSET_TYPE": "Computing", "HOST_NAME": "web01", "HOST_IP": "10.0.0.5", "HOST_FQDN": "web01.example.com"},
        )
    )
    from_ckl = findings(run(StigCklParser(), ckl_path, scan_date=WHEN))
    from_cklb = findings(parse(write(tmp_path, cklb([rule("V-1", "open"), rule("V-2", "not_a_finding")]))))

    def key(f: Finding) -> tuple[object, ...]:
        return (f.weakness.tool, f.weakness.vuln_id, f.asset, f.location, f.status, f.weakness.severity)

    assert sorted(map(key, from_ckl), key=str) == sorted(map(key, from_cklb), key=str)


def test_overrides_web_targets_and_evaluate_stig(tmp_path: Path) -> None:
    over = {"severity": {"severity": "low", "reason": "Mitigated"}}
    target = {**TARGET, "is_web_database": True, "web_db_site": "Site A", "web_db_instance": None}
    es = {"evaluate-stig": {"version": "1.2310.1"}}
    doc = cklb([rule("V-1", "open", "high", overrides=over)], target, **es)
    doc["stigs"][0]["evaluate-stig"] = {"time": "2023-12-11T12:56:14.3576272-05:00", "module": {"name": "M"}}
    records = parse(write(tmp_path, doc))
    (f,) = findings(records)
    assert f.weakness.severity is Severity.LOW and f.evidence == "Severity override: high -> low (Mitigated)"
    assert f.path == "Site A" and f.asset.fqdn == "web01.example.com"
    assert f.weakness.tool == "Evaluate-STIG" and f.observed_at == dt.datetime(2023, 12, 11, 17, 56, 14, 357627)
    assert (records[-1].tool, records[-1].tool_version) == ("Evaluate-STIG", "1.2310.1")
    non = {**TARGET, "target_type": "Non-Computing", "host_name": "Asset", "ip_address": "1.1.1.1"}
    (g,) = findings(parse(write(tmp_path, cklb([rule("V-1", "open")], non))))
    assert (g.asset.kind, g.asset.name, g.asset.ip) == (AssetKind.OTHER, "Asset", "1.1.1.1")


def test_a_rule_twice_is_open_if_either_says_open(tmp_path: Path) -> None:
    doc = cklb(
        [rule("V-1", "not_a_finding"), rule("V-1", "open", finding_details="bad"), rule("V-1", "not_applicable")]
    )
    (f,) = findings(parse(write(tmp_path, doc)))
    assert (f.status, f.evidence) == (FindingStatus.OPEN, "bad")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("[1, 2]", "not an object"),
        ('{"target_data": {"host_name": "a"}, "stigs": [', "not valid JSON"),
        ({"target_data": {"host_name": "a"}}, "no stigs array"),
        ({"stigs": []}, "no target_data object"),
        ({"target_data": {"host_name": None, "ip_address": "1.1.1.1"}, "stigs": []}, "no host name"),
        ({"target_data": {"host_name": "a"}, "stigs": [{"rules": {"x": 1}}]}, "stigs[0].rules is not an array"),
        (json.dumps(cklb([])) + "\n[1]", "document 2: not a STIG Viewer 3 checklist"),
        (json.dumps(cklb([])) + "\n{}", "document 2: checklist has no target_data object"),
    ],
)
def test_bad_checklists_are_refused(tmp_path: Path, doc: object, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        parse(write(tmp_path, doc))


def test_odd_records_are_read_past_with_a_warning(tmp_path: Path) -> None:
    """Records that used to refuse the whole checklist: left out or read with a neutral value."""
    doc = cklb(
        [
            rule("V-1", "pass"),
            rule("V-2", "false_positive"),
            rule("", "open", rule_id="", rule_id_src=None),
            None,
            rule("V-5", "open", "catastrophic", overrides={"severity": {"severity": "??"}}),
            rule("V-6", "open"),
        ]
    )
    doc["stigs"].insert(0, 1)
    records, ctx = run_with_context(StigCklbParser(), write(tmp_path, doc), scan_date=WHEN)
    got = {f.weakness.vuln_id: (f.status, f.weakness.severity) for f in findings(records)}
    assert got == {
        "V-1": (FindingStatus.OPEN, Severity.MEDIUM),
        "V-5": (FindingStatus.OPEN, Severity.MEDIUM),
        "V-6": (FindingStatus.OPEN, Severity.MEDIUM),
    }
    assert ctx.report.warnings == [
        "stigs[0]: not an object; left out",
        "stigs[1].rules[0] (V-1): status 'pass' not recognised; kept open",
        "stigs[1].rules[1] (V-2): status 'false_positive' is not a STIG status; read as set aside and left out",
        "stigs[1].rules[2]: no group_id or rule_id; left out",
        "stigs[1].rules[3]: not an object; left out",
        "stigs[1].rules[4] (V-5): severity 'catastrophic' not recognised; rated Moderate",
        "stigs[1].rules[4] (V-5): severity override '??' not recognised; the rule's severity kept",
    ]
    assert ctx.report.skipped == 3


def test_the_newest_review_of_a_rule_decides(tmp_path: Path) -> None:
    older, newer = "2024-05-01T10:00:00.250Z", "2024-05-01T10:00:00.750Z"
    for failing, passing in ((older, newer), (newer, older)):
        for order in (1, -1):
            rules = [rule("V-1", "open", updatedAt=failing), rule("V-1", "not_a_finding", updatedAt=passing)]
            got = [(f.status, f.observed_at) for f in findings(parse(write(tmp_path, cklb(rules[::order]))))]
            open_at = dt.datetime.fromisoformat(failing.replace("Z", ""))
            if passing == newer:  # seen failing, then passing: the importer opens and closes it
                assert got == [
                    (FindingStatus.OPEN, open_at),
                    (FindingStatus.FIXED, dt.datetime(2024, 5, 1, 10, 0, 0, 750000)),
                ]
            else:
                assert got == [(FindingStatus.OPEN, open_at)]


def test_several_checklists_in_one_file(tmp_path: Path) -> None:
    """Checklists written one after another, or one per line (JSON Lines): each its own target."""
    db = {**TARGET, "host_name": "db01", "fqdn": "db01.example.com", "ip_address": "10.0.0.6"}
    one = cklb([rule("V-1", "open", updatedAt="2024-05-01T10:00:00Z")])
    two = cklb([rule("V-2", "open", updatedAt="2024-06-01T10:00:00Z")], db)
    for text in (
        json.dumps(one, indent=2) + json.dumps(two, indent=2),
        json.dumps(one) + "\n" + json.dumps(two) + "\n",
    ):
        path = write(tmp_path, text)
        assert StigCklbParser().sniff(head_of(path)) and detected(path) == "stig-cklb"
        records = parse(path)
        assert [(f.weakness.vuln_id, f.asset.fqdn) for f in findings(records)] == [
            ("V-1", "web01.example.com"),
            ("V-2", "db01.example.com"),
        ]
        assert [c.asset.fqdn for c in records if isinstance(c, Coverage)] == ["web01.example.com", "db01.example.com"]
        scan = records[-1]
        assert isinstance(scan, Scan) and (scan.started_at, scan.ended_at) == (
            dt.datetime(2024, 5, 1, 10),
            dt.datetime(2024, 6, 1, 10),
        )


def test_undated_rules_take_the_file_time_only_when_needed(tmp_path: Path) -> None:
    mtime = dt.datetime(2026, 2, 3, 4, 5, 6)
    records, ctx = run_with_context(StigCklbParser(), write(tmp_path, cklb([rule("V-1", "open")])), file_time=mtime)
    assert [f.observed_at for f in findings(records)] == [mtime] and ctx.report.used_file_time
    dated = cklb([rule("V-1", "open", updatedAt="2024-05-01T10:00:00Z"), rule("V-2", "not_reviewed")])
    records, ctx = run_with_context(StigCklbParser(), write(tmp_path, dated), file_time=mtime)
    assert [f.observed_at for f in findings(records)] == [dt.datetime(2024, 5, 1, 10)]
    assert not ctx.report.used_file_time


def test_odd_values_do_not_crash(tmp_path: Path) -> None:
    odd = rule("V-1", "open", severity=None, ccis=None, finding_details=None, comments="null", updatedAt=12)
    odd["rule_title"] = None
    (f,) = findings(parse(write(tmp_path, cklb([odd]))))
    assert (f.weakness.severity, f.weakness.ccis, f.evidence, f.weakness.name) == (
        Severity.MEDIUM,
        (),
        None,
        "SRG-OS-000480",  # the group title names a rule without a title
    )


def test_sniff(tmp_path: Path) -> None:
    parser = StigCklbParser()
    assert parser.sniff(head_of(write(tmp_path, cklb([rule("V-1", "open")]))))
    assert not parser.sniff(head_of(write(tmp_path, {"target_data": {}, "findings": []})))
    big = {
        "evaluate-stig": {},
        "stigs": [{"rules": [rule(f"V-{n}", "open") for n in range(300)]}],
        "target_data": TARGET,
    }
    assert parser.sniff(head_of(write(tmp_path, big)))  # target_data beyond the first 64 KiB


# --- the real checklists of the corpus ---------------------------------------------------------


def _expected(path: Path) -> tuple[dict[str, str], str]:
    """group_id -> open/fixed by json.load and a plain loop (open wins), and the target identifier."""
    doc = json.loads(path.read_text(encoding="utf-8-sig"))
    statuses: dict[str, str] = {}
    for stig in doc["stigs"]:
        for r in stig["rules"]:
            if r["status"] == "open":
                statuses[r["group_id"]] = "open"
            elif r["status"] in ("not_a_finding", "not_applicable"):
                statuses.setdefault(r["group_id"], "fixed")
    t = doc["target_data"]
    ident = t["host_name"] if t.get("target_type") == "Non-Computing" else (t.get("fqdn") or t["host_name"])
    return statuses, ident


@pytest.mark.corpus
def test_every_corpus_checklist_parses_to_the_independent_count_or_is_refused() -> None:
    refused = peer_invalid("stig_cklb")
    assert refused == {"stig-manager__NoStigsArray.cklb", "stig-manager__NoTargetHostName.cklb"}
    for path in sorted(corpus_dir("stig_cklb").iterdir()):
        if path.name in refused:
            with pytest.raises(InputError, match="no stigs array|no host name"):
                parse(path)
            continue
        records = parse(path)
        statuses, ident = _expected(path)
        assert {f.weakness.vuln_id: f.status.value for f in findings(records)} == statuses, path.name
        assert {f.asset.identifier for f in findings(records)} <= {ident}, path.name
        assert [c.asset.identifier for c in records if isinstance(c, Coverage)] == [ident], path.name
        assert all(f.weakness.is_config and f.weakness.ccis for f in findings(records)), path.name
        assert isinstance(records[-1], Scan)


@pytest.mark.corpus
def test_corpus_result_engines_and_dates() -> None:
    folder = corpus_dir("stig_cklb")
    two = parse(folder / "stig-manager__TwoResultEngineModules.cklb")
    assert {f.weakness.tool for f in findings(two)} == {"Evaluate-STIG"} and two[-1].tool_version == "1.2310.1"
    assert {f.observed_at for f in findings(two)} == {
        dt.datetime(2023, 12, 11, 17, 56, 14, 357627),
        dt.datetime(2023, 12, 11, 17, 56, 34, 915515),
    }
    assert parse(folder / "stig-manager__no-root-result-engine-object.cklb")[-1].tool == "Evaluate-STIG"
    assert parse(folder / "stig-manager__GoodStatistics.cklb")[-1].tool == "DISA STIG Viewer"
    truncated = parse(folder / "stig-manager__Truncate-Tests.cklb")
    assert len(truncated[-1].tool_version) == 100 and truncated[0].asset.ip is None  # garbage IP dropped


@pytest.mark.corpus
def test_corpus_ckl_and_cklb_of_one_review_agree() -> None:
    ckl_recs = run(StigCklParser(), corpus_dir("stig_ckl") / "stig-manager__Asset_a-multi-stig.ckl", scan_date=WHEN)
    cklb_recs = parse(corpus_dir("stig_cklb") / "stig-manager__Asset_a-multi-stig.cklb")

    def key(f: Finding) -> tuple[object, ...]:
        return (f.weakness.tool, f.weakness.vuln_id, f.asset, f.location, f.status)

    assert {key(f) for f in findings(ckl_recs)} == {key(f) for f in findings(cklb_recs)}


@pytest.mark.corpus
def test_sniff_claims_exactly_its_folder() -> None:
    assert_sniff_claims_exactly(StigCklbParser(), "stig_cklb")


# --- end to end ----------------------------------------------------------------------------------


def test_a_later_checklist_closes_what_now_passes(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(StigCklbParser())
    jan = cklb([rule("V-1", "open", "high", updatedAt="2026-01-05T10:00:00Z"), rule("V-2", "open")])
    r = import_file(engine, write(tmp_path, jan, "jan.cklb"), scan_date=dt.datetime(2026, 1, 5))
    assert (r.format, r.tool, r.items_opened) == ("stig-cklb", "DISA STIG Viewer", 2)
    items = items_by_id(engine)
    assert [a.text for a in items["V-1"].assets] == ["web01.example.com"] and items["V-1"].is_config
    feb = cklb([rule("V-1", "not_a_finding", updatedAt="2026-02-05T10:00:00Z"), rule("V-2", "not_reviewed")])
    r = import_file(engine, write(tmp_path, feb, "feb.cklb"), scan_date=dt.datetime(2026, 2, 5))
    assert (r.fixed_findings, r.items_closed) == (1, 1)
    assert {k: i.status for k, i in items_by_id(engine).items()} == {"V-1": ItemStatus.CLOSED, "V-2": ItemStatus.OPEN}


@pytest.mark.corpus
def test_corpus_checklist_imports_end_to_end(engine: Engine, register_parser: Any) -> None:
    register_parser(StigCklbParser())
    path = corpus_dir("stig_cklb") / "stig-manager__Asset_a-VPN_TRUNCATED-V2R5.cklb"
    result = import_file(engine, path)
    statuses, ident = _expected(path)
    items = items_by_id(engine)
    assert set(items) == {k for k, v in statuses.items() if v == "open"}
    assert all([a.text for a in i.assets] == [ident] for i in items.values())
    assert result.assets_covered == 1


def test_any_odd_value_is_handled_or_refused_with_an_input_error(tmp_path: Path) -> None:
    base = cklb([rule("V-1", "open", overrides={"severity": {"severity": "low"}}), rule("V-2", "not_a_finding")])
    base["evaluate-stig"] = {"version": "1", "time": "2024-01-01T00:00:00Z"}

    def paths(doc: Any, path: tuple[Any, ...] = ()) -> Any:
        children = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
        for key, value in children:
            yield (*path, key)
            yield from paths(value, (*path, key))

    for where in list(paths(base)):
        for odd in (None, 5, "x", [], {}):
            doc = json.loads(json.dumps(base))
            target = doc
            for key in where[:-1]:
                target = target[key]
            target[where[-1]] = odd
            with contextlib.suppress(InputError):
                parse(write(tmp_path, doc))
