"""The OWASP ZAP XML and JSON parsers on hand-written reports and on the real files of the corpus."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

import pytest
from lxml import etree
from sqlalchemy import Engine

from poam.domain.models import Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.registry import detect, read_head
from poam.parsers.zap import EVIDENCE_LIMIT, ZapJsonParser, ZapXmlParser
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir

GENERATED = "Tue, 12 May 2020 20:57:30"


def alert(plugin: str = "10011", risk: str = "1", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "pluginid": plugin,
        "alert": f"Alert {plugin}",
        "name": f"Alert {plugin}",
        "riskcode": risk,
        "confidence": "2",
        "desc": "<p>The <b>thing</b> is bad.</p>",
        "solution": "<p>Fix it.</p>",
        "reference": "<p>https://owasp.org/x</p>",
        "cweid": "614",
        "instances": [{"uri": "https://app.example.com/login?x=1", "method": "GET", "param": "sid"}],
    }
    base.update(fields)
    return base


def zap_xml(sites: list[tuple[str, list[dict[str, Any]]]], root_attrs: str = f'generated="{GENERATED}"') -> str:
    out = [f'<?xml version="1.0"?><OWASPZAPReport version="2.11.1" {root_attrs}>']
    for name, alerts in sites:
        host = urlsplit(name).hostname or ""
        out.append(f'<site name={quoteattr(name)} host={quoteattr(host)} port="443" ssl="true"><alerts>')
        for a in alerts:
            out.append("<alertitem>")
            for key, value in a.items():
                if key == "instances":
                    out.append("<instances>")
                    for inst in value:
                        out.append("<instance>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in inst.items()))
                        out.append("</instance>")
                    out.append("</instances>")
                else:
                    out.append(f"<{key}>{escape(value)}</{key}>")
            out.append("</alertitem>")
        out.append("</alerts></site>")
    out.append("</OWASPZAPReport>")
    return "\n".join(out)


def zap_json(sites: list[tuple[str, list[dict[str, Any]]]], **top: Any) -> str:
    doc: dict[str, Any] = {"@version": "2.11.1", "@generated": GENERATED, **top}
    doc["site"] = [
        {"@name": n, "@host": urlsplit(n).hostname, "@port": "443", "@ssl": "true", "alerts": a} for n, a in sites
    ]
    return json.dumps(doc)


def parse_xml(path: Path, ctx: ParseContext | None = None) -> list[object]:
    with path.open("rb") as f:
        return list(ZapXmlParser().parse(f, ctx or ParseContext(str(path))))


def parse_json(path: Path, ctx: ParseContext | None = None) -> list[object]:
    with path.open("rb") as f:
        return list(ZapJsonParser().parse(f, ctx or ParseContext(str(path))))


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


FORMS: list[tuple[str, Callable[..., str], Callable[..., list[object]]]] = [
    ("r.xml", zap_xml, parse_xml),
    ("r.json", zap_json, parse_json),
]


@pytest.mark.parametrize(("name", "build", "parse"), FORMS)
def test_fields_of_an_alert(tmp_path: Path, name: str, build: Callable[..., str], parse: Callable[..., Any]) -> None:
    recs = parse(write(tmp_path, name, build([("https://app.example.com", [alert()])])))
    (cov,) = [r for r in recs if isinstance(r, Coverage)]
    (f,) = findings(recs)
    (scan,) = [r for r in recs if isinstance(r, Scan)]
    assert cov.asset.name == "https://app.example.com" and cov.started_at == dt.datetime(2020, 5, 12, 20, 57, 30)
    w = f.weakness
    assert (w.tool, w.vuln_id, w.name, w.severity, w.cwes) == (
        "OWASP ZAP",
        "10011",
        "Alert 10011",
        Severity.LOW,
        ("614",),
    )
    assert (w.description, w.solution, w.see_also) == ("The thing is bad.", "Fix it.", "https://owasp.org/x")
    assert (f.asset.name, f.path, f.port, f.location) == ("https://app.example.com", "/login", None, "/login")
    assert f.evidence == "GET | https://app.example.com/login?x=1 | param: sid"
    assert f.observed_at == dt.datetime(2020, 5, 12, 20, 57, 30) and f.status is FindingStatus.OPEN
    assert (scan.tool, scan.tool_version, scan.started_at) == ("OWASP ZAP", "2.11.1", f.observed_at)
    assert isinstance(recs[-1], Scan)


@pytest.mark.parametrize(("name", "build", "parse"), FORMS)
def test_one_finding_per_alert_and_path(tmp_path: Path, name: str, build: Callable[..., str], parse: Any) -> None:
    instances = [
        {"uri": "https://app.example.com/a?q=1", "method": "GET", "evidence": "e1"},
        {"uri": "https://app.example.com/a?q=2", "method": "POST", "attack": "<script>"},
        {"uri": "https://app.example.com/b;jsessionid=ABC123", "method": "GET"},
        {"uri": "https://app.example.com", "method": "GET"},
    ]
    recs = parse(write(tmp_path, name, build([("https://app.example.com", [alert(instances=instances)])])))
    got = {f.path: f.evidence for f in findings(recs)}
    assert set(got) == {"/a", "/b", "/"}
    assert got["/a"] == (
        "GET | https://app.example.com/a?q=1 | evidence: e1\nPOST | https://app.example.com/a?q=2 | attack: <script>"
    )
    assert len({id(f.weakness) for f in findings(recs)}) == 1  # one Weakness object per check


def test_alert_ref_refines_the_plugin_id_only_for_variants(tmp_path: Path) -> None:
    alerts = [
        alert("10020", "2", alertRef="10020-1", name="Missing Anti-clickjacking Header"),
        alert("10020", "2", alertRef="10020-2", name="Multiple X-Frame-Options Header Entries"),
        alert("10021", "1", alertRef="10021"),
        alert("", "1", alertRef="90001"),
    ]
    recs = parse_xml(write(tmp_path, "r.xml", zap_xml([("https://app.example.com", alerts)])))
    assert [(f.weakness.vuln_id, f.weakness.name) for f in findings(recs)] == [
        ("10020-1", "Missing Anti-clickjacking Header"),
        ("10020-2", "Multiple X-Frame-Options Header Entries"),
        ("10021", "Alert 10021"),
        ("90001", "Alert"),
    ]


def test_risk_codes_false_positives_and_repeated_alerts(tmp_path: Path) -> None:
    alerts = [
        alert("1", "0"),
        alert("2", "3"),
        alert("3", "2", confidence="0"),  # a user marked it a false positive
        alert("4", "1"),
        alert("4", "1"),  # the same rule twice (older ZAP): one finding
        alert("5", "", riskdesc="Medium (High)"),
    ]
    recs = parse_xml(write(tmp_path, "r.xml", zap_xml([("https://app.example.com", alerts)])))
    assert [(f.weakness.vuln_id, f.weakness.severity, f.status) for f in findings(recs)] == [
        ("1", Severity.INFO, FindingStatus.OPEN),
        ("2", Severity.HIGH, FindingStatus.OPEN),
        ("3", Severity.MEDIUM, FindingStatus.SET_ASIDE),
        ("4", Severity.LOW, FindingStatus.OPEN),
        ("5", Severity.MEDIUM, FindingStatus.OPEN),
    ]


def test_every_site_is_covered_even_without_alerts(tmp_path: Path) -> None:
    sites = [("https://a.example.com", []), ("http://b.example.com:8080", [alert()])]
    recs = parse_xml(write(tmp_path, "r.xml", zap_xml(sites)))
    assert [c.asset.name for c in recs if isinstance(c, Coverage)] == [
        "https://a.example.com",
        "http://b.example.com:8080",
    ]
    assert ZapXmlParser.closes_by_coverage and ZapJsonParser.closes_by_coverage
    assert all(c.checks.value == "vulnerability" for c in recs if isinstance(c, Coverage))


def test_a_cut_instance_list_marks_its_rule_as_unable_to_show_fixes(tmp_path: Path) -> None:
    inst = [{"uri": "https://app.example.com/a", "method": "GET"}]
    alerts = [alert("10017", count="170", instances=inst), alert("10021", count="1", instances=inst)]
    recs = parse_xml(write(tmp_path, "r.xml", zap_xml([("https://app.example.com", alerts)])))
    assert {f.weakness.vuln_id for f in findings(recs)} == {"10017", "10021"}
    scan = recs[-1]
    assert isinstance(scan, Scan) and scan.partial_checks == ("10017",)
    recs = parse_json(write(tmp_path, "r.json", zap_json([("https://app.example.com", alerts)])))
    assert isinstance(recs[-1], Scan) and recs[-1].partial_checks == ("10017",)


def test_evidence_is_capped_and_request_bodies_are_left_out(tmp_path: Path) -> None:
    many = [{"uri": f"https://app.example.com/p?i={i}", "method": "GET", "evidence": "x" * 1000} for i in range(300)]
    plus = {"uri": "https://app.example.com/q", "method": "PUT", "responsebody": "SECRET-BODY" * 1000}
    p = write(tmp_path, "r.xml", zap_xml([("https://app.example.com", [alert(instances=[*many, plus])])]))
    got = {f.path: f.evidence or "" for f in findings(parse_xml(p))}
    assert len(got["/p"]) < EVIDENCE_LIMIT + 400 and got["/p"].count("\n") < 20
    assert "more instance(s)" in got["/p"]
    assert "SECRET" not in got["/q"]


def test_old_alert_items_carry_their_instance_inline(tmp_path: Path) -> None:
    old = alert(uri="https://app.example.com/old?x", method="GET", param="p")
    del old["instances"]
    (f,) = findings(parse_xml(write(tmp_path, "r.xml", zap_xml([("https://app.example.com", [old])]))))
    assert f.path == "/old" and f.evidence == "GET | https://app.example.com/old?x | param: p"
    none = alert()
    del none["instances"]
    (g,) = findings(parse_xml(write(tmp_path, "s.xml", zap_xml([("https://app.example.com", [none])]))))
    assert g.path is None and g.location == ""  # no URI: an asset-wide result


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ('generated="Fr., 30 Sep. 2022 08:40:35"', dt.datetime(2022, 9, 30, 8, 40, 35)),
        ('generated="Thu, 6 Dec 2018 10:53:11"', dt.datetime(2018, 12, 6, 10, 53, 11)),
        ('generated="x" created="2025-09-03T12:49:35.236211400Z"', dt.datetime(2025, 9, 3, 12, 49, 35, 236211)),
        ('generated="12. März 2024, 09:15:00"', dt.datetime(2024, 3, 12, 9, 15)),
        ("", dt.datetime(2026, 2, 1)),  # no date at all: the file's time
    ],
)
def test_report_dates(tmp_path: Path, attrs: str, expected: dt.datetime) -> None:
    p = write(tmp_path, "r.xml", zap_xml([("https://app.example.com", [alert()])], attrs))
    (f,) = findings(parse_xml(p, ParseContext(str(p), file_time=dt.datetime(2026, 2, 1))))
    assert f.observed_at == expected


def test_unreadable_or_missing_dates_take_the_file_time(tmp_path: Path) -> None:
    p = write(tmp_path, "r.xml", zap_xml([("https://app.example.com", [alert()])], 'generated="sometime"'))
    ctx = ParseContext(str(p), file_time=dt.datetime(2026, 2, 1))
    (f,) = findings(parse_xml(p, ctx))
    assert f.observed_at == dt.datetime(2026, 2, 1) and ctx.report.used_file_time
    assert ctx.report.warnings == ["report: report date 'sometime' not readable; dated by the file's time"]
    ctx = ParseContext(str(p), scan_date=dt.datetime(2026, 3, 1))
    (f,) = findings(parse_xml(p, ctx))
    assert f.observed_at == dt.datetime(2026, 3, 1) and not ctx.report.used_file_time
    for name, build, parse in FORMS:
        undated = write(tmp_path, "u" + name, build([("https://app.example.com", [alert()])]).replace(GENERATED, ""))
        ctx = ParseContext(str(undated), file_time=dt.datetime(2026, 2, 1))
        recs = parse(undated, ctx)
        assert findings(recs)[0].observed_at == dt.datetime(2026, 2, 1) and ctx.report.used_file_time, name
        assert ctx.report.warnings == [] and recs[-1].started_at == dt.datetime(2026, 2, 1), name
        dated = write(tmp_path, "d" + name, build([("https://app.example.com", [alert()])]))
        ctx = ParseContext(str(dated), file_time=dt.datetime(2026, 2, 1))
        assert findings(parse(dated, ctx))[0].observed_at == dt.datetime(2020, 5, 12, 20, 57, 30), name
        assert not ctx.report.used_file_time, name
        empty = write(tmp_path, "e" + name, build([]).replace(GENERATED, ""))
        ctx = ParseContext(str(empty), file_time=dt.datetime(2026, 2, 1))
        assert len(parse(empty, ctx)) == 1 and not ctx.report.used_file_time, name  # nothing needed a date


@pytest.mark.parametrize(("name", "build", "parse"), FORMS)
def test_odd_alerts_and_sites_are_read_past_with_a_warning(
    tmp_path: Path, name: str, build: Callable[..., str], parse: Callable[..., Any]
) -> None:
    alerts = [alert("1", "9", riskdesc="Severe"), alert("", "2", name="Nameless"), alert("3", "2")]
    text = build([("https://a.example.com", alerts), ("", [alert("4", "3")])])
    p = write(tmp_path, name, text.replace('host="" ', "").replace('"@host": null, ', ""))
    ctx = ParseContext(str(p))
    recs = parse(p, ctx)
    assert [(f.weakness.vuln_id, f.weakness.severity) for f in findings(recs)] == [
        ("1", Severity.MEDIUM),
        ("3", Severity.MEDIUM),
    ]
    assert [c.asset.name for c in recs if isinstance(c, Coverage)] == ["https://a.example.com"]
    assert ctx.report.skipped == 2
    assert ctx.report.warnings == [
        "site 1, alert 1: riskcode '9' not recognised; rated Moderate",
        "site 1, alert 'Nameless': no pluginid; left out",
        "site 2 (with its alerts): neither a name nor a host; left out",
    ]


def test_a_false_positive_is_set_aside_with_the_identity_of_an_open_alert(tmp_path: Path) -> None:
    two_paths = [{"uri": "https://app.example.com/a?x=1", "method": "GET"}, {"uri": "https://app.example.com/b"}]
    alerts = [alert("1", "2"), alert("2", "2", confidence="0", instances=two_paths)]
    for name, build, parse in FORMS:
        recs = parse(write(tmp_path, name, build([("https://app.example.com", alerts)])))
        got = [(f.weakness.vuln_id, f.asset.name, f.path, f.status) for f in findings(recs)]
        assert got == [
            ("1", "https://app.example.com", "/login", FindingStatus.OPEN),
            ("2", "https://app.example.com", "/a", FindingStatus.SET_ASIDE),
            ("2", "https://app.example.com", "/b", FindingStatus.SET_ASIDE),
        ], name
        assert isinstance(recs[-1], Scan) and recs[-1].partial_checks == (), name  # other paths of rule 2 may close


def test_a_cut_instance_list_of_a_false_positive_still_closes_nothing_of_its_rule(tmp_path: Path) -> None:
    alerts = [alert("2", "2", confidence="0", count="40")]
    recs = parse_xml(write(tmp_path, "r.xml", zap_xml([("https://app.example.com", alerts)])))
    assert [(f.path, f.status) for f in findings(recs)] == [("/login", FindingStatus.SET_ASIDE)]
    assert isinstance(recs[-1], Scan) and recs[-1].partial_checks == ("2",)


def test_a_false_positive_and_an_open_alert_of_one_rule_and_path_are_both_read(tmp_path: Path) -> None:
    alerts = [alert("2", "2", confidence="0"), alert("2", "2")]  # older ZAP may list a rule twice
    recs = parse_xml(write(tmp_path, "r.xml", zap_xml([("https://app.example.com", alerts)])))
    assert [(f.path, f.status) for f in findings(recs)] == [
        ("/login", FindingStatus.SET_ASIDE),
        ("/login", FindingStatus.OPEN),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (zap_xml([("https://a.example.com", [alert()])])[:300], "not well-formed XML"),
        ('<?xml version="1.0"?><OWASPZAPReport><alertitem/></OWASPZAPReport>', "alertitem outside a site"),
        ("<other><site/></other>", "no OWASPZAPReport root"),
    ],
)
def test_bad_xml_reports(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_xml(write(tmp_path, "bad.xml", text))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"@version": "2", "site": 5}', "'site' is not a list"),
        ('["site"]', "not a ZAP JSON report"),
        ('{"@version": "2", "site": []}\n[1]', "JSON value 2 is a ZAP JSON report"),
        ('{"@version": "2", "site": [', "not valid JSON"),
        ('{"@version": "2", "site": []} {"site": [', "JSON value 2 is not valid"),
    ],
)
def test_bad_json_reports(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_json(write(tmp_path, "bad.json", text))


def test_odd_json_values_in_one_site_are_read_past(tmp_path: Path) -> None:
    doc = {
        "@version": "2",
        "@generated": GENERATED,
        "site": [
            3,
            {"@name": "https://a.example.com", "alerts": "x"},
            {"@name": "https://b.example.com", "alerts": [1, alert("7", instances=4)]},
        ],
    }
    p = write(tmp_path, "odd.json", json.dumps(doc))
    ctx = ParseContext(str(p))
    recs = parse_json(p, ctx)
    assert [(f.weakness.vuln_id, f.asset.name, f.path) for f in findings(recs)] == [
        ("7", "https://b.example.com", None)
    ]
    # a site whose alerts cannot be read is not covered: its findings must not close by absence
    assert [c.asset.name for c in recs if isinstance(c, Coverage)] == ["https://b.example.com"]
    assert ctx.report.warnings == [
        "site 1: not an object; left out",
        "site 2 (https://a.example.com): 'alerts' is not a list; left out",
        "site 3, alert 1: not an object; left out",
        "site 3, alert 7: 'instances' is not a list; read as site-wide",
    ]
    assert isinstance(recs[-1], Scan) and recs[-1].partial_checks == ("7",)  # its paths are unknown


@pytest.mark.parametrize("separator", ["", "\n", "\n\n  "], ids=["concatenated", "json-lines", "spaced"])
def test_several_json_reports_in_one_file_are_one_import(tmp_path: Path, separator: str) -> None:
    jan = zap_json([("https://a.example.com", [alert("1", count="9")])], **{"@generated": "Mon, 5 Jan 2026 10:00:00"})
    feb = zap_json(
        [("https://b.example.com", [alert("2", "3")]), ("https://a.example.com", [alert("3", "2")])],
        **{"@generated": "Thu, 5 Feb 2026 10:00:00", "@version": "2.12.0"},
    )
    p = write(tmp_path, "pages.json", jan + separator + feb)
    with p.open("rb") as f:
        head = read_head(f)
        assert ZapJsonParser().sniff(head) and detect(f, str(p)).id == "zap-json"
    ctx = ParseContext(str(p))
    recs = parse_json(p, ctx)
    assert [(f.weakness.vuln_id, f.asset.name, f.observed_at) for f in findings(recs)] == [
        ("1", "https://a.example.com", dt.datetime(2026, 1, 5, 10)),
        ("2", "https://b.example.com", dt.datetime(2026, 2, 5, 10)),
        ("3", "https://a.example.com", dt.datetime(2026, 2, 5, 10)),
    ]
    assert [(c.asset.name, c.started_at) for c in recs if isinstance(c, Coverage)] == [
        ("https://a.example.com", dt.datetime(2026, 1, 5, 10)),
        ("https://b.example.com", dt.datetime(2026, 2, 5, 10)),
        ("https://a.example.com", dt.datetime(2026, 2, 5, 10)),
    ]
    (scan,) = [r for r in recs if isinstance(r, Scan)]
    assert (scan.tool_version, scan.started_at, scan.ended_at, scan.partial_checks) == (
        "2.11.1",
        dt.datetime(2026, 1, 5, 10),
        dt.datetime(2026, 2, 5, 10),
        ("1",),
    )
    assert ctx.report.warnings == [] and not ctx.report.used_file_time


def test_several_json_reports_import_end_to_end_and_by_format(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(ZapXmlParser(), ZapJsonParser())
    lines = "\n".join(
        zap_json([(site, [alert("10011", "2")])], **{"@generated": day})
        for site, day in (
            ("https://a.example.com", "Mon, 5 Jan 2026 10:00:00"),
            ("https://b.example.com", "Thu, 5 Feb 2026 10:00:00"),
        )
    )
    p = write(tmp_path, "r.jsonl", lines)
    r = import_file(engine, p)
    assert (r.format, r.results, r.assets_covered, r.items_opened) == ("zap-json", 2, 2, 1)
    assert (r.started_at, r.ended_at) == (dt.datetime(2026, 1, 5, 10), dt.datetime(2026, 2, 5, 10))
    (item,) = items_by_id(engine).values()
    assert sorted(a.text for a in item.assets) == ["https://a.example.com/login", "https://b.example.com/login"]
    systems.add_system(engine, "other", "test")
    r = import_file(engine, p, system="other", format_id="zap-json")
    assert (r.format, r.results) == ("zap-json", 2)


def test_json_tolerates_single_objects_for_lists_and_odd_types(tmp_path: Path) -> None:
    doc = {
        "@version": "2.5.0",
        "@generated": GENERATED,
        "site": {
            "@name": "https://a.example.com",
            "alerts": {"pluginid": 40012, "riskcode": 3, "name": None, "instances": {"uri": "https://a.example.com/s"}},
        },
    }
    (f,) = findings(parse_json(write(tmp_path, "one.json", json.dumps(doc))))
    assert (f.weakness.vuln_id, f.weakness.severity, f.weakness.name, f.path) == (
        "40012",
        Severity.HIGH,
        "ZAP alert 40012",
        "/s",
    )


# --- the real ZAP files of the corpus ----------------------------------------------------------


def _vuln_id(plugin: str, ref: str) -> str:
    return ref if ref and (not plugin or ref.startswith(plugin + "-")) else plugin


def _expected(sites: list[tuple[str, list[dict[str, Any]]]]) -> tuple[set[tuple[str, str, str]], set[str]]:
    """(vuln id, site, path) of every alert that is not a false positive, and the site names."""
    out = set()
    for name, alerts in sites:
        for a in alerts:
            if str(a.get("confidence")) == "0":
                continue
            for inst in a.get("instances") or []:
                out.add(
                    (
                        _vuln_id(str(a.get("pluginid") or ""), str(a.get("alertRef") or "")),
                        name,
                        urlsplit(inst["uri"]).path or "/",
                    )
                )
    return out, {name for name, _ in sites}


def _xml_sites(path: Path) -> list[tuple[str, list[dict[str, Any]]]]:
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    sites = []
    for site in tree.iter("site"):
        alerts = []
        for item in site.iter("alertitem"):
            a: dict[str, Any] = {c.tag: c.text for c in item if c.tag != "instances"}
            a["instances"] = [{"uri": i.findtext("uri")} for i in item.iter("instance")]
            alerts.append(a)
        sites.append((site.get("name"), alerts))
    return sites


def _json_sites(path: Path) -> list[tuple[str, list[dict[str, Any]]]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return [(s["@name"], s.get("alerts") or []) for s in doc["site"]]


def _got(records: list[object]) -> tuple[set[tuple[str, str, str]], set[str]]:
    got = {
        (f.weakness.vuln_id, f.asset.name or "", f.path or "")
        for f in findings(records)
        if f.status is not FindingStatus.SET_ASIDE
    }
    return got, {c.asset.name or "" for c in records if isinstance(c, Coverage)}


@pytest.mark.corpus
def test_every_xml_corpus_file_parses_to_the_independent_count() -> None:
    files = sorted(corpus_dir("zap_xml").iterdir())
    assert len(files) >= 10
    for path in files:
        records = parse_xml(path)
        assert _got(records) == _expected(_xml_sites(path)), path.name
        assert isinstance(records[-1], Scan) and records[-1].started_at is not None, path.name


@pytest.mark.corpus
def test_every_json_corpus_file_parses_to_the_independent_count() -> None:
    files = sorted(corpus_dir("zap_json").iterdir())
    assert files
    for path in files:
        records = parse_json(path)
        expected = _expected(_json_sites(path))
        assert _got(records) == expected and len(expected[0]) > 100, path.name
        assert isinstance(records[-1], Scan) and records[-1].tool_version == "2.7.0"


@pytest.mark.corpus
def test_corpus_details() -> None:
    folder = corpus_dir("zap_xml")
    empty = parse_xml(folder / "defectdojo__zap__empty_2.9.0.xml")
    assert not findings(empty) and [c.asset.name for c in empty if isinstance(c, Coverage)] == ["https://isaac.nl"]
    plus = parse_xml(folder / "defectdojo__zap__zap-xml-plus-format.xml")
    (f,) = findings(plus)
    assert f.observed_at == dt.datetime(2022, 9, 30, 8, 40, 35)  # German `Fr., 30 Sep. 2022`
    assert "Tomcat" not in (f.evidence or "") and f.weakness.severity is Severity.MEDIUM


@pytest.mark.corpus
def test_sniffs_claim_exactly_their_folders() -> None:
    corpus_dir("zap_xml")
    for path in sorted(CORPUS.glob("*/*")):
        if not path.is_file():
            continue
        with path.open("rb") as f:
            head = read_head(f)
        assert ZapXmlParser().sniff(head) is (path.parent.name == "zap_xml"), path
        assert ZapJsonParser().sniff(head) is (path.parent.name == "zap_json"), path


# --- end to end --------------------------------------------------------------------------------


def items_by_id(engine: Engine, system: str | None = None) -> dict[str, Any]:
    with engine.begin() as conn:
        return {i.source_identifier: i for i in load(conn, systems.resolve(conn, system, "t").id, "all")}


def test_a_later_report_of_the_site_fixes_what_it_no_longer_shows(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(ZapXmlParser(), ZapJsonParser())
    site = "https://app.example.com:443"
    xss = alert("40012", "3", name="Cross Site Scripting (Reflected)", cweid="79")
    csp = alert("10038", "2", instances=[{"uri": "https://app.example.com/", "method": "GET"}])
    info = alert("10109", "0")
    jan = write(tmp_path, "jan.xml", zap_xml([(site, [xss, csp, info])], 'generated="Mon, 5 Jan 2026 10:00:00"'))
    r = import_file(engine, jan)
    assert (r.format, r.tool, r.results, r.informational, r.items_opened) == ("zap-xml", "OWASP ZAP", 3, 1, 2)
    items = items_by_id(engine)
    assert set(items) == {"40012", "10038"}
    assert [a.text for a in items["40012"].assets] == ["https://app.example.com/login"]
    assert items["40012"].detector_source == "OWASP ZAP"
    # February's report, in JSON, still shows the CSP alert: the XSS is fixed, its item closed.
    feb = write(tmp_path, "feb.json", zap_json([(site, [csp])], **{"@generated": "Thu, 5 Feb 2026 10:00:00"}))
    r2 = import_file(engine, feb)
    assert (r2.format, r2.fixed_findings, r2.items_closed) == ("zap-json", 1, 1)
    items = items_by_id(engine)
    assert items["40012"].status is ItemStatus.CLOSED and items["10038"].status is ItemStatus.OPEN
    # A report of another site covers nothing of this one.
    other = write(
        tmp_path,
        "mar.json",
        zap_json([("https://other.example.com", [])], **{"@generated": "Thu, 5 Mar 2026 10:00:00"}),
    )
    assert import_file(engine, other).fixed_findings == 0


def test_paths_left_out_of_a_cut_instance_list_stay_open(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(ZapXmlParser())
    site = "https://app.example.com"

    def report(name: str, day: str, *alerts: dict[str, Any]) -> Path:
        return write(tmp_path, name, zap_xml([(site, list(alerts))], f'generated="{day} 10:00:00"'))

    def inst(*paths: str) -> list[dict[str, str]]:
        return [{"uri": site + p, "method": "GET"} for p in paths]

    import_file(engine, report("jan.xml", "Mon, 5 Jan 2026", alert("10017", count="2", instances=inst("/a", "/b"))))
    # February lists only /c of 30 instances: /a and /b are not shown fixed by that.
    r = import_file(engine, report("feb.xml", "Thu, 5 Feb 2026", alert("10017", count="30", instances=inst("/c"))))
    assert r.fixed_findings == 0
    (item,) = items_by_id(engine).values()
    assert sorted((a.text, a.status.value) for a in item.assets) == [
        ("https://app.example.com/a", "open"),
        ("https://app.example.com/b", "open"),
        ("https://app.example.com/c", "open"),
    ]
    # March's complete list shows /b only: /a and /c are fixed.
    r = import_file(engine, report("mar.xml", "Thu, 5 Mar 2026", alert("10017", count="1", instances=inst("/b"))))
    assert r.fixed_findings == 2
    # April's report has no such alert: the last one is fixed and the item closes.
    r = import_file(engine, report("apr.xml", "Sun, 5 Apr 2026"))
    assert (r.fixed_findings, r.items_closed) == (1, 1)


def test_a_false_positive_keeps_its_open_finding_open_until_the_alert_is_gone(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    """Marking an alert a false positive is a person's decision, not a fix: a report that still
    shows it (set aside) closes nothing of it, nor opens anything; a report without it closes it."""
    register_parser(ZapXmlParser(), ZapJsonParser())
    site = "https://app.example.com"
    login = [{"uri": f"{site}/login", "method": "GET"}]
    admin = [{"uri": f"{site}/admin", "method": "GET"}]

    def report(name: str, day: str, *alerts: dict[str, Any]) -> Path:
        if name.endswith(".json"):
            return write(tmp_path, name, zap_json([(site, list(alerts))], **{"@generated": f"{day} 10:00:00"}))
        return write(tmp_path, name, zap_xml([(site, list(alerts))], f'generated="{day} 10:00:00"'))

    jan = import_file(engine, report("jan.xml", "Mon, 5 Jan 2026", alert("10038", "2", instances=login)))
    assert (jan.new_findings, jan.items_opened) == (1, 1)
    feb = import_file(
        engine, report("feb.json", "Thu, 5 Feb 2026", alert("10038", "2", confidence="0", instances=login))
    )
    assert (feb.results, feb.set_aside, feb.fixed_findings, feb.items_closed) == (1, 1, 0, 0)
    # a false positive at a path never seen open opens nothing
    new = import_file(
        engine,
        report("feb2.xml", "Fri, 6 Feb 2026", alert("10038", "2", confidence="0", instances=[*login, *admin])),
    )
    assert (new.new_findings, new.items_opened, new.fixed_findings) == (0, 0, 0)
    (item,) = items_by_id(engine).values()
    assert item.status is ItemStatus.OPEN and [a.text for a in item.assets] == [f"{site}/login"]
    mar = import_file(engine, report("mar.xml", "Thu, 5 Mar 2026"))
    assert (mar.fixed_findings, mar.items_closed) == (1, 1)


@pytest.mark.corpus
def test_corpus_files_import_end_to_end(engine: Engine, register_parser: Any) -> None:
    register_parser(ZapXmlParser(), ZapJsonParser())
    paths = [*sorted(corpus_dir("zap_xml").iterdir()), *sorted(corpus_dir("zap_json").iterdir())]
    for n, path in enumerate(paths):
        name = f"z{n}"
        systems.add_system(engine, name, "test")
        result = import_file(engine, path, system=name)
        sites = _json_sites(path) if path.suffix == ".json" else _xml_sites(path)
        expected: dict[str, set[str]] = {}
        for site, alerts in sites:
            origin = urlsplit(site)
            for a in alerts:
                if str(a.get("riskcode")) in ("1", "2", "3") and str(a.get("confidence")) != "0":
                    vid = _vuln_id(str(a.get("pluginid") or ""), str(a.get("alertRef") or ""))
                    for inst in a.get("instances") or []:
                        url = f"{origin.scheme}://{origin.netloc}{urlsplit(inst['uri']).path or '/'}"
                        expected.setdefault(vid, set()).add(url)
        items = items_by_id(engine, name)
        assert {k: {a.text for a in i.assets} for k, i in items.items()} == expected, path.name
        assert result.assets_covered == len({s for s, _ in sites}), path.name
