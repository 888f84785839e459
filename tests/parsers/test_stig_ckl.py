"""The STIG Viewer .ckl parser on hand-written checklists and on the real files of the corpus."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from lxml import etree
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Checks, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import Head, ParseContext, Parser
from poam.parsers.registry import detect, read_head
from poam.parsers.stig_ckl import StigCklParser, host_asset
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir

WHEN = dt.datetime(2026, 3, 1, 12, 0)
HOST = {"ASSET_TYPE": "Computing", "HOST_NAME": "web01", "HOST_IP": "10.0.0.5", "HOST_FQDN": "web01.example.com"}


# --- helpers shared with the other configuration-format tests ----------------------------------


def peer_invalid(folder: str) -> set[str]:
    """Files of a corpus folder that SOURCES.md marks PEER-INVALID, read from its table."""
    sources = CORPUS / "SOURCES.md"
    if not sources.is_file():
        pytest.skip("SOURCES.md is absent")
    names = set()
    for line in sources.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 2 and "PEER-INVALID" in line and (corpus_dir(folder) / cells[1]).is_file():
            names.add(cells[1])
    return names


def head_of(path: Path) -> Head:
    with path.open("rb") as f:
        return read_head(f)


def assert_sniff_claims_exactly(parser: Parser, folder: str) -> None:
    """The parser's sniff says yes to every file of its folder and to no other corpus file."""
    corpus_dir(folder)
    files = sorted(p for p in CORPUS.glob("*/*") if p.is_file())
    assert len(files) > 100
    claimed = {p for p in files if parser.sniff(head_of(p))}
    assert claimed == {p for p in files if p.parent.name == folder}


def run(parser: Parser, path: Path, **ctx: Any) -> list[Any]:
    with path.open("rb") as f:
        return list(parser.parse(f, ParseContext(str(path), **ctx)))


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


# --- hand-written checklists -----------------------------------------------------------------


def vuln(
    vid: str | None,
    status: str,
    severity: str = "medium",
    rule_id: str | None = "SV-{n}r1_rule",
    ccis: tuple[str, ...] = ("CCI-000366",),
    details: str = "",
    comments: str = "",
    override: str = "",
    justification: str = "",
) -> str:
    n = (vid or "V-0").removeprefix("V-")
    data = {
        "Vuln_Num": vid,
        "Severity": severity,
        "Rule_ID": rule_id.format(n=n) if rule_id else None,
        "Rule_Ver": f"TEST-00-{n}",
        "Rule_Title": f"Rule {n} must be set.",
        "Vuln_Discuss": "Why it matters.",
        "Check_Content": "Look at it.",
        "Fix_Text": "Set it.",
    }
    rows = [(k, v) for k, v in data.items() if v is not None] + [("CCI_REF", c) for c in ccis]
    stig_data = "".join(
        f"<STIG_DATA><VULN_ATTRIBUTE>{k}</VULN_ATTRIBUTE><ATTRIBUTE_DATA>{escape(v)}</ATTRIBUTE_DATA></STIG_DATA>"
        for k, v in rows
    )
    return (
        f"<VULN>{stig_data}<STATUS>{status}</STATUS><FINDING_DETAILS>{escape(details)}</FINDING_DETAILS>"
        f"<COMMENTS>{escape(comments)}</COMMENTS><SEVERITY_OVERRIDE>{override}</SEVERITY_OVERRIDE>"
        f"<SEVERITY_JUSTIFICATION>{escape(justification)}</SEVERITY_JUSTIFICATION></VULN>"
    )


def ckl(vulns: list[str], asset: dict[str, str] | None = None, comment: str = "", title: str = "Test STIG") -> str:
    fields = HOST if asset is None else asset
    asset_xml = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
    info = (
        "<STIG_INFO><SI_DATA><SID_NAME>version</SID_NAME><SID_DATA>2</SID_DATA></SI_DATA>"
        f"<SI_DATA><SID_NAME>title</SID_NAME><SID_DATA>{title}</SID_DATA></SI_DATA>"
        "<SI_DATA><SID_NAME>releaseinfo</SID_NAME><SID_DATA>Release: 3</SID_DATA></SI_DATA></STIG_INFO>"
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{comment}<CHECKLIST><ASSET>{asset_xml}</ASSET>'
        f"<STIGS><iSTIG>{info}{''.join(vulns)}</iSTIG></STIGS></CHECKLIST>"
    )


def write(tmp_path: Path, text: str, name: str = "c.ckl") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def parse(path: Path, **ctx: Any) -> list[Any]:
    ctx.setdefault("scan_date", WHEN)
    return run(StigCklParser(), path, **ctx)


def run_with_context(parser: Parser, path: Path, **kw: Any) -> tuple[list[Any], ParseContext]:
    """The records and the context (its report of warnings and date sources)."""
    ctx = ParseContext(str(path), **kw)
    with path.open("rb") as f:
        return list(parser.parse(f, ctx)), ctx


def detected(path: Path) -> str:
    """The id of the parser poam picks for a file by its content."""
    with path.open("rb") as f:
        return detect(f, str(path)).id


def parse_with_context(path: Path, **kw: Any) -> tuple[list[Any], ParseContext]:
    kw.setdefault("scan_date", WHEN)
    return run_with_context(StigCklParser(), path, **kw)


def test_statuses_and_fields_of_a_vuln(tmp_path: Path) -> None:
    text = ckl(
        [
            vuln("V-1", "Open", "high", details="PermitRootLogin yes", comments="Ticket 42"),
            vuln("V-2", "NotAFinding"),
            vuln("V-3", "Not_Applicable"),
            vuln("V-4", "Not_Reviewed"),
        ]
    )
    records = parse(write(tmp_path, text))
    got = {f.weakness.vuln_id: f for f in findings(records)}
    assert {k: f.status for k, f in got.items()} == {
        "V-1": FindingStatus.OPEN,
        "V-2": FindingStatus.FIXED,
        "V-3": FindingStatus.FIXED,
    }
    w = got["V-1"].weakness
    assert (w.tool, w.name, w.severity, w.ccis, w.is_config) == (
        "DISA STIG Viewer",
        "Rule 1 must be set.",
        Severity.HIGH,
        ("CCI-000366",),
        True,
    )
    assert w.synopsis is not None and "Rule ID SV-1r1_rule" in w.synopsis and "STIG ID TEST-00-1" in w.synopsis
    assert w.family == "Test STIG" and w.solution == "Set it."
    assert w.description == "Why it matters.\n\nCheck: Look at it."
    assert got["V-1"].evidence == "PermitRootLogin yes\n\nComments: Ticket 42"
    assert got["V-1"].observed_at == WHEN and got["V-1"].location == ""
    cov = [r for r in records if isinstance(r, Coverage)]
    assert len(cov) == 1 and cov[0].checks is Checks.CONFIGURATION and cov[0].asset is got["V-1"].asset
    scan = records[-1]
    assert isinstance(scan, Scan) and scan.tool == "DISA STIG Viewer" and scan.name == "Test STIG"


def test_vuln_id_is_the_group_id_and_falls_back_to_the_rule_number(tmp_path: Path) -> None:
    text = ckl([vuln(None, "Open", rule_id="SV-230221r858734_rule"), vuln("V-9", "Open", rule_id=None)])
    got = {f.weakness.vuln_id for f in findings(parse(write(tmp_path, text)))}
    assert got == {"V-230221", "V-9"}
    # a result without any id is left out with a warning; the others import
    records, ctx = parse_with_context(write(tmp_path, ckl([vuln(None, "Open", rule_id=None), vuln("V-2", "Open")])))
    assert [f.weakness.vuln_id for f in findings(records)] == ["V-2"]
    assert ctx.report.warnings == ["VULN at line 2: no Vuln_Num or Rule_ID; left out"]
    assert ctx.report.skipped == 1
    # a rule that says nothing needs no id
    records, ctx = parse_with_context(write(tmp_path, ckl([vuln(None, "Not_Reviewed", rule_id=None)])))
    assert findings(records) == [] and ctx.report.warnings == []


def test_severity_override_is_honoured_and_explained(tmp_path: Path) -> None:
    text = ckl([vuln("V-1", "Open", "medium", override="low", justification="Mitigated by the firewall")])
    (f,) = findings(parse(write(tmp_path, text)))
    assert f.weakness.severity is Severity.LOW
    assert f.evidence == "Severity override: medium -> low (Mitigated by the firewall)"
    (g,) = findings(parse(write(tmp_path, ckl([vuln("V-1", "Open", "unheard-of")]))))
    assert g.weakness.severity is Severity.MEDIUM  # a failed check without a usable rating is not dropped


def test_entities_crlf_and_long_comments_are_kept(tmp_path: Path) -> None:
    long = "x" * 70000
    text = ckl([vuln("V-1", "Open", details="a &amp; b &lt;c&gt; &#65;", comments=long)]).replace("\n", "\r\n")
    text = text.replace(escape("a &amp; b &lt;c&gt; &#65;"), "a &amp; b &lt;c&gt; &#65;")
    (f,) = findings(parse(write(tmp_path, text)))
    assert f.evidence == f"a & b <c> A\n\nComments: {long}"


def test_hosts_non_computing_targets_and_web_sites(tmp_path: Path) -> None:
    (f,) = findings(parse(write(tmp_path, ckl([vuln("V-1", "Open")], {**HOST, "HOST_MAC": "00:11:22:33:44:55"}))))
    a = f.asset
    assert (a.kind, a.fqdn, a.ip, a.netbios, a.mac, a.identifier) == (
        AssetKind.HOST,
        "web01.example.com",
        "10.0.0.5",
        "web01",
        "00:11:22:33:44:55",
        "web01.example.com",
    )
    other = {"ASSET_TYPE": "Non-Computing", "HOST_NAME": "Policy binder"}
    (g,) = findings(parse(write(tmp_path, ckl([vuln("V-1", "Open")], other))))
    assert (g.asset.kind, g.asset.name) == (AssetKind.OTHER, "Policy binder")
    site = {**HOST, "WEB_OR_DATABASE": "true", "WEB_DB_SITE": "Default Web Site", "WEB_DB_INSTANCE": "MSSQL1"}
    (h,) = findings(parse(write(tmp_path, ckl([vuln("V-1", "Open")], site))))
    assert (
        h.asset.fqdn == f.asset.fqdn and h.path == "Default Web Site/MSSQL1" and h.location == "Default Web Site/MSSQL1"
    )


def test_host_identifiers_are_checked() -> None:
    a = host_asset("=", ["127.0.0.1, fe80::1, 10.1.1.1:8080"], ["localhost.localdomain"], ["00:00:00:00:00:00"])
    assert a is None
    b = host_asset("LOCALHOST", ["::1", "2001:db8::5", "192.0.2.7"], ["hostname"], ["aa-bb-cc-dd-ee-ff, junk"])
    assert b is not None and (b.ip, b.fqdn, b.netbios, b.mac) == ("192.0.2.7", None, None, "AA:BB:CC:DD:EE:FF")


def test_the_target_must_be_named(tmp_path: Path) -> None:
    nameless = {"ASSET_TYPE": "Computing", "HOST_NAME": "", "HOST_IP": "10.0.0.5"}
    path = write(tmp_path, ckl([vuln("V-1", "Open")], nameless))
    with pytest.raises(InputError, match=r"no host name \(ASSET/HOST_NAME\).*--asset"):
        parse(path)
    (f,) = findings(parse(path, asset_name="db01.example.com"))
    assert f.asset.fqdn == "db01.example.com"
    garbage = {"ASSET_TYPE": "Computing", "HOST_NAME": "="}
    with pytest.raises(InputError, match="no usable host name"):
        parse(write(tmp_path, ckl([vuln("V-1", "Open")], garbage)))


def test_evaluate_stig_comment_names_the_tool_and_dates_the_results(tmp_path: Path) -> None:
    comment = (
        "<!--<Evaluate-STIG><global><version>1.2204.1</version>"
        "<time>2022-06-03T12:19:27.9454169-04:00</time></global></Evaluate-STIG>-->"
    )
    records = parse(write(tmp_path, ckl([vuln("V-1", "Open")], comment=comment)))
    (f,) = findings(records)
    assert f.weakness.tool == "Evaluate-STIG" and f.observed_at == dt.datetime(2022, 6, 3, 16, 19, 27, 945416)
    scan = records[-1]
    assert (scan.tool, scan.tool_version) == ("Evaluate-STIG", "1.2204.1")
    viewer = parse(write(tmp_path, ckl([vuln("V-1", "Open")], comment="<!--DISA STIG Viewer :: 2.17-->")))
    assert (viewer[-1].tool, viewer[-1].tool_version) == ("DISA STIG Viewer", "2.17")
    assert findings(viewer)[0].observed_at == WHEN  # no date in the file: --scan-date


def test_a_rule_twice_is_open_if_either_says_open(tmp_path: Path) -> None:
    text = ckl([vuln("V-1", "NotAFinding"), vuln("V-1", "Open", details="second"), vuln("V-1", "Not_Applicable")])
    (f,) = findings(parse(write(tmp_path, text)))
    assert (f.status, f.evidence) == (FindingStatus.OPEN, "second")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<CHECKLIST><ASSET><HOST_NAME>a</HOST_NAME></ASSET><STIGS><iSTIG><VULN>", "not well-formed XML"),
        ("<CHECKLIST><ASSET><HOST_NAME>a</HOST_NAME></ASSET></CHECKLIST>", "no STIGS element"),
        ("<CHECKLIST><STIGS><iSTIG></iSTIG></STIGS></CHECKLIST>", "no ASSET element"),
        ("<OTHER><STIGS/></OTHER>", "root element is <OTHER>"),
        ('<!DOCTYPE x [<!ENTITY a "b">]><CHECKLIST/>', "entity declarations"),
    ],
)
def test_bad_checklists_are_refused_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)) as err:
        parse(write(tmp_path, text))
    assert "\n" not in str(err.value)


def test_odd_values_are_read_past_with_a_warning(tmp_path: Path) -> None:
    """Statuses, severities and ids poam cannot read never refuse the checklist (they used to)."""
    text = ckl(
        [
            vuln("V-1", "Passed"),  # not a STIG status, meaning unclear: kept open
            vuln("V-2", "Ignored"),  # set aside: neither open nor a fix
            vuln("V-" + "9" * 300, "Open"),  # too long to track
            vuln("V-4", "Open", "severe"),
            vuln("V-5", "Open", "", override="extreme"),
            vuln("V-6", "NotAFinding"),
        ]
    )
    records, ctx = parse_with_context(write(tmp_path, text))
    got = {f.weakness.vuln_id: (f.status, f.weakness.severity) for f in findings(records)}
    assert got == {
        "V-1": (FindingStatus.OPEN, Severity.MEDIUM),
        "V-4": (FindingStatus.OPEN, Severity.MEDIUM),
        "V-5": (FindingStatus.OPEN, Severity.MEDIUM),
        "V-6": (FindingStatus.FIXED, Severity.MEDIUM),
    }
    assert ctx.report.warnings == [
        "VULN at line 2 (V-1): status 'Passed' not recognised; kept open",
        "VULN at line 2 (V-2): status 'Ignored' is not a STIG status; read as set aside and left out",
        "VULN at line 2 (V-" + "9" * 58 + "): id longer than 200 characters ('V-" + "9" * 38 + "'...); left out",
        "VULN at line 2 (V-4): severity 'severe' not recognised; rated Moderate",
        "VULN at line 2 (V-5): severity missing not recognised; rated Moderate",
        "VULN at line 2 (V-5): severity override 'extreme' not recognised; the rule's severity kept",
    ]
    assert (ctx.report.warning_count, ctx.report.skipped) == (6, 1)


def test_undated_checklists_take_the_file_time(tmp_path: Path) -> None:
    mtime = dt.datetime(2026, 2, 3, 4, 5, 6)
    records, ctx = parse_with_context(write(tmp_path, ckl([vuln("V-1", "Open")])), scan_date=None, file_time=mtime)
    assert [f.observed_at for f in findings(records)] == [mtime] and ctx.report.used_file_time
    assert [(c.started_at, c.ended_at) for c in records if isinstance(c, Coverage)] == [(mtime, mtime)]
    comment = "<!--<Evaluate-STIG><global><time>2022-06-03T12:19:27Z</time></global></Evaluate-STIG>-->"
    dated = write(tmp_path, ckl([vuln("V-1", "Open")], comment=comment))
    records, ctx = parse_with_context(dated, scan_date=None, file_time=mtime)
    assert findings(records)[0].observed_at == dt.datetime(2022, 6, 3, 12, 19, 27) and not ctx.report.used_file_time


def test_sniff(tmp_path: Path) -> None:
    parser = StigCklParser()
    assert parser.sniff(head_of(write(tmp_path, ckl([vuln("V-1", "Open")]))))
    assert not parser.sniff(head_of(write(tmp_path, "<NessusClientData_v2><Report/></NessusClientData_v2>")))
    assert not parser.sniff(head_of(write(tmp_path, '{"CHECKLIST": 1, "iSTIG": "<iSTIG><STIG_INFO>"}')))


# --- the real checklists of the corpus ---------------------------------------------------------


def _expected(path: Path) -> tuple[dict[str, str], str, str | None]:
    """Vuln ID -> open/fixed by a plain lxml read (Open wins), the target's identifier and path."""
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    fields = {c.tag: (c.text or "").strip() for c in tree.getroot().find("ASSET")}
    statuses: dict[str, str] = {}
    for v in tree.iter("VULN"):
        data = {d.findtext("VULN_ATTRIBUTE"): (d.findtext("ATTRIBUTE_DATA") or "") for d in v.iter("STIG_DATA")}
        vid, status = data["Vuln_Num"], v.findtext("STATUS")
        if status == "Open":
            statuses[vid] = "open"
        elif status in ("NotAFinding", "Not_Applicable"):
            statuses.setdefault(vid, "fixed")
    if fields.get("ASSET_TYPE") == "Non-Computing":
        ident = fields["HOST_NAME"]
    else:
        macs = "\n".join(fields.get("HOST_MAC", "").upper().split())
        name = fields.get("HOST_NAME", "")
        ident = fields.get("HOST_FQDN") or (name if name.isidentifier() else macs)
    site = fields.get("WEB_DB_SITE") if fields.get("WEB_OR_DATABASE") == "true" else None
    return statuses, ident, site


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("stig_ckl").iterdir())


@pytest.mark.corpus
def test_every_corpus_checklist_parses_to_the_independent_count_or_is_refused() -> None:
    refused = peer_invalid("stig_ckl") | {"stig-manager__all-possible-results.ckl"}
    nameless = "heimdall2__small_ckl_overrides.ckl"  # no host name, IP or MAC: needs --asset
    assert len(refused) == 5
    for path in corpus_files():
        if path.name in refused or path.name == nameless:
            with pytest.raises(InputError):
                parse(path)
            continue
        records = parse(path)
        statuses, ident, site = _expected(path)
        got = {f.weakness.vuln_id: f.status.value for f in findings(records)}
        assert got == statuses, path.name
        assert {(f.asset.identifier, f.path) for f in findings(records)} <= {(ident, site)}, path.name
        assert [c.asset.identifier for c in records if isinstance(c, Coverage)] == [ident], path.name
        assert all(f.weakness.is_config and f.weakness.ccis for f in findings(records)), path.name
        assert isinstance(records[-1], Scan)
    records = parse(corpus_dir("stig_ckl") / nameless, asset_name="rhel9-host")
    assert {f.weakness.vuln_id: f.status.value for f in findings(records)} == _expected(
        corpus_dir("stig_ckl") / nameless
    )[0]


@pytest.mark.corpus
def test_corpus_refusals_name_the_problem() -> None:
    folder = corpus_dir("stig_ckl")
    messages = {
        "stig-manager__No-Asset-xml-element.ckl": "no ASSET element",
        "stig-manager__no-Host_Name-xml-element.ckl": "no host name",
        "stig-manager__no-Stigs-xml-element.ckl": "no STIGS element",
        "stig-manager__no-checklist-xml-element.ckl": "root element is <NOTYACHECKLIST>",
        "stig-manager__all-possible-results.ckl": "not well-formed XML",
    }
    assert set(messages) - {"stig-manager__all-possible-results.ckl"} == peer_invalid("stig_ckl")
    for name, message in messages.items():
        with pytest.raises(InputError, match=re.escape(message)):
            parse(folder / name)


@pytest.mark.corpus
def test_corpus_details_overrides_and_result_engines() -> None:
    folder = corpus_dir("stig_ckl")
    overrides = {
        f.weakness.vuln_id: f for f in findings(parse(folder / "heimdall2__small_ckl_overrides.ckl", asset_name="h"))
    }
    assert overrides["V-257778"].weakness.severity is Severity.LOW  # listed medium, overridden low
    assert overrides["V-257779"].weakness.severity is Severity.HIGH
    assert "Example high justification" in (overrides["V-257779"].evidence or "")
    chrome = parse(folder / "stig-manager__CA1294WK16078_Chrome_V2R8_20231211-125631.ckl")
    assert chrome[-1].tool == "Evaluate-STIG" and chrome[-1].tool_version == "1.2310.1"
    assert findings(chrome)[0].observed_at == dt.datetime(2023, 12, 11, 17, 56, 14, 357627)
    (html,) = findings(parse(folder / "stig-manager__html-decode.ckl"))
    assert (html.evidence or "").startswith("& < > \" ' & < & < > \" ' A . % , ~")
    (web,) = findings(parse(folder / "stig-manager__Single-Vuln-fail-WEBORDATABASE-true.ckl"))
    assert web.path == "test" and web.asset.ip == "10.2.2.2"
    macs = parse(folder / "heimdall2__multiple_mac_addresses_metadata.ckl")
    assert macs[0].asset.mac == "02:B9:78:82:FE:DE\nEE:EE:EE:EE:EE:EE\n6E:8D:55:AB:10:5F"


@pytest.mark.corpus
def test_sniff_claims_exactly_its_folder() -> None:
    assert_sniff_claims_exactly(StigCklParser(), "stig_ckl")


# --- end to end ----------------------------------------------------------------------------------


def items_by_id(engine: Engine) -> dict[str, Any]:
    with engine.begin() as conn:
        return {i.source_identifier: i for i in load(conn, systems.resolve(conn, None, "t").id, "all")}


def test_a_later_checklist_closes_what_now_passes(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(StigCklParser())
    jan = write(tmp_path, ckl([vuln("V-1", "Open", "high"), vuln("V-2", "Open"), vuln("V-3", "Open")]), "jan.ckl")
    r = import_file(engine, jan, scan_date=dt.datetime(2026, 1, 5))
    assert (r.format, r.tool, r.new_findings, r.items_opened) == ("stig-ckl", "DISA STIG Viewer", 3, 3)
    items = items_by_id(engine)
    assert [a.text for a in items["V-1"].assets] == ["web01.example.com"]
    assert items["V-1"].is_config and items["V-1"].detector_source == "DISA STIG Viewer"
    # February: V-1 passes, V-2 is not applicable, V-3 was not reviewed this time (stays open)
    feb = write(
        tmp_path,
        ckl([vuln("V-1", "NotAFinding"), vuln("V-2", "Not_Applicable"), vuln("V-3", "Not_Reviewed")]),
        "feb.ckl",
    )
    r = import_file(engine, feb, scan_date=dt.datetime(2026, 2, 5))
    assert (r.fixed_findings, r.items_closed) == (2, 2)
    items = items_by_id(engine)
    assert {k: i.status for k, i in items.items()} == {
        "V-1": ItemStatus.CLOSED,
        "V-2": ItemStatus.CLOSED,
        "V-3": ItemStatus.OPEN,
    }


@pytest.mark.corpus
def test_corpus_checklist_imports_end_to_end(engine: Engine, register_parser: Any) -> None:
    register_parser(StigCklParser())
    path = corpus_dir("stig_ckl") / "stig-manager__Asset_a-VPN_TRUNCATED-V2R5.ckl"
    result = import_file(engine, path, scan_date=WHEN)
    statuses, ident, _site = _expected(path)
    items = items_by_id(engine)
    assert {k for k, v in statuses.items() if v == "open"} == set(items)
    assert all([a.text for a in i.assets] == [ident] for i in items.values())
    assert result.assets_covered == 1 and result.items_opened == len(items)


def test_any_element_missing_or_empty_is_handled_or_refused(tmp_path: Path) -> None:
    base = etree.fromstring(ckl([vuln("V-1", "Open", override="high"), vuln("V-2", "NotAFinding")]).encode())
    count = sum(1 for _ in base.iter())
    for n in range(1, count):
        for how in ("drop", "empty"):
            root = etree.fromstring(etree.tostring(base))
            el = list(root.iter())[n]
            if how == "drop":
                el.getparent().remove(el)
            else:
                el.text, el[:] = "\u00e9", []
            with contextlib.suppress(InputError):
                parse(write(tmp_path, etree.tostring(root).decode()))
