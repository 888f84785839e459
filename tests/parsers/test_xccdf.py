"""The XCCDF/ARF parser on hand-written results and on the real files of the corpus."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import Engine

from poam.domain.models import Checks, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.xccdf import XccdfParser, tool_name, vuln_id
from poam.services.importer import import_file
from tests.conftest import corpus_dir
from tests.parsers.test_stig_ckl import (
    assert_sniff_claims_exactly,
    head_of,
    items_by_id,
    peer_invalid,
    run,
    run_with_context,
)

NS12 = "http://checklists.nist.gov/xccdf/1.2"
NS11 = "http://checklists.nist.gov/xccdf/1.1"
DISA_DESC = "&lt;VulnDiscussion&gt;Unsupported releases get no fixes.&lt;/VulnDiscussion&gt;&lt;Documentable&gt;false"


def rule(rid: str, group: str | None = None, severity: str = "medium", idents: tuple[str, ...] = ()) -> str:
    ident_xml = "".join(f'<ident system="http://cyber.mil/cci">{i}</ident>' for i in idents)
    body = (
        f'<Rule id="{rid}" severity="{severity}"><title>Title of {rid}</title>'
        f"<description>{DISA_DESC}</description>{ident_xml}<fixtext>Upgrade it.</fixtext>"
        "<check><check-content>Run the check.</check-content></check></Rule>"
    )
    return f'<Group id="{group}"><title>SRG-OS-000480</title>{body}</Group>' if group else body


def rr(idref: str, result: str, time: str | None = None, extra: str = "", severity: str | None = None) -> str:
    attrs = (f' time="{time}"' if time else "") + (f' severity="{severity}"' if severity else "")
    return f'<rule-result idref="{idref}"{attrs}><result>{result}</result>{extra}</rule-result>'


def make_testresult(results: list[str], test_system: str = "cpe:/a:redhat:openscap:1.3.5", target: str = "") -> str:
    target = target or (
        '<identity authenticated="true" privileged="true">root</identity>'
        "<target>localhost</target><target-address>127.0.0.1</target-address>"
        "<target-address>10.0.2.15</target-address><target-facts>"
        '<fact name="urn:xccdf:fact:asset:identifier:fqdn" type="string">rhel8.example.com</fact>'
        '<fact name="urn:xccdf:fact:asset:identifier:mac" type="string">08:00:27:6D:F7:16</fact>'
        '<fact name="urn:xccdf:fact:asset:identifier:mac" type="string">00:00:00:00:00:00</fact></target-facts>'
    )
    return (
        f'<TestResult id="tr1" start-time="2024-02-01T10:00:00-05:00" end-time="2024-02-01T10:05:00-05:00" '
        f'test-system="{test_system}">{target}{"".join(results)}<score>50</score></TestResult>'
    )


def benchmark(rules: list[str], results: str, ns: str = NS12, title: str = "RHEL 8 STIG") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Benchmark xmlns="{ns}" id="b"><status>accepted</status>'
        f"<title>{title}</title>{''.join(rules)}{results}</Benchmark>"
    )


def write(tmp_path: Path, text: str, name: str = "r.xml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def parse(path: Path, **ctx: Any) -> list[Any]:
    return run(XccdfParser(), path, **ctx)


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


SV1, SV2, SV3 = (f"xccdf_mil.disa.stig_rule_SV-23022{n}r8587{n}_rule" for n in (1, 2, 3))


def test_results_join_their_rules(tmp_path: Path) -> None:
    rules = [
        rule(SV1, "xccdf_mil.disa.stig_group_V-230221", "high", ("CCI-000366",)),
        rule(SV2, "xccdf_mil.disa.stig_group_V-230222"),
        rule(SV3, "xccdf_mil.disa.stig_group_V-230223"),
        rule("xccdf_mil.disa.stig_rule_SV-230224r1_rule", "xccdf_mil.disa.stig_group_V-230224"),
    ]
    message = '<message severity="info">kernel 4.18 found</message>'
    results = [
        rr(SV1, "fail", "2024-02-01T10:01:00-05:00", message),
        rr(SV2, "pass"),
        rr(SV3, "error"),
        rr("xccdf_mil.disa.stig_rule_SV-230224r1_rule", "notchecked"),
    ]
    records = parse(write(tmp_path, benchmark(rules, make_testresult(results))))
    got = {f.weakness.vuln_id: f for f in findings(records)}
    assert {k: f.status for k, f in got.items()} == {"V-230221": FindingStatus.OPEN, "V-230222": FindingStatus.FIXED}
    f = got["V-230221"]
    w = f.weakness
    assert (w.tool, w.name, w.severity, w.ccis, w.is_config, w.family) == (
        "OpenSCAP",
        f"Title of {SV1}",
        Severity.HIGH,
        ("CCI-000366",),
        True,
        "RHEL 8 STIG",
    )
    assert w.description == "Unsupported releases get no fixes.\n\nCheck: Run the check."
    assert w.solution == "Upgrade it." and w.synopsis == f"Rule {SV1}"
    assert f.evidence == "Message: kernel 4.18 found"
    assert f.observed_at == dt.datetime(2024, 2, 1, 15, 1)  # the rule-result's time, as UTC
    assert got["V-230222"].observed_at == dt.datetime(2024, 2, 1, 15, 5)  # else the end time
    a = f.asset
    assert (a.fqdn, a.ip, a.netbios, a.mac) == ("rhel8.example.com", "10.0.2.15", None, "08:00:27:6D:F7:16")
    (cov,) = [r for r in records if isinstance(r, Coverage)]
    assert (cov.asset, cov.authenticated, cov.checks) == (a, True, Checks.CONFIGURATION)
    assert (cov.started_at, cov.ended_at) == (dt.datetime(2024, 2, 1, 15, 0), dt.datetime(2024, 2, 1, 15, 5))
    scan = records[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.tool_version, scan.name) == ("OpenSCAP", "1.3.5", "RHEL 8 STIG")


def test_xccdf_11_prefixed_with_a_leading_comment(tmp_path: Path) -> None:
    text = (
        "<!-- SessionID:1,HostName:H -->\n"
        f'<?xml version="1.0"?>\n<cdf:Benchmark xmlns:cdf="{NS11}" id="b"><cdf:title>IOS</cdf:title>'
        '<cdf:Rule id="no-finger" severity="low"><cdf:title>No finger</cdf:title></cdf:Rule>'
        '<cdf:TestResult id="t" end-time="2004-09-25T13:45:02-04:00"><cdf:target>lower.test.net</cdf:target>'
        '<cdf:rule-result idref="no-finger"><cdf:result>fail</cdf:result>'
        '<cdf:override authority="Neal"><cdf:old-result>pass</cdf:old-result><cdf:new-result>fail</cdf:new-result>'
        "<cdf:remark>Seen by hand</cdf:remark></cdf:override></cdf:rule-result></cdf:TestResult></cdf:Benchmark>"
    )
    path = write(tmp_path, text)
    assert XccdfParser().sniff(head_of(path))
    records = parse(path)
    (f,) = findings(records)
    assert (f.weakness.vuln_id, f.weakness.severity, f.weakness.tool, f.asset.fqdn) == (
        "no-finger",
        Severity.LOW,
        "XCCDF",
        "lower.test.net",
    )
    assert f.evidence == "Override: pass -> fail by Neal: Seen by hand"


def test_a_rule_reported_twice_is_open_if_any_report_fails(tmp_path: Path) -> None:
    results = [rr("r1", "pass"), rr("r1", "fail"), rr("r1", "fixed"), rr("r2", "pass"), rr("r2", "fixed")]
    got = {
        f.weakness.vuln_id: f.status for f in findings(parse(write(tmp_path, benchmark([], make_testresult(results)))))
    }
    assert got == {"r1": FindingStatus.OPEN, "r2": FindingStatus.FIXED}


def test_advisories_are_vulnerabilities(tmp_path: Path) -> None:
    rid = "oval-com.redhat.rhsa-def-20231234"
    rules = [
        f'<Rule id="{rid}" severity="high"><title>RHSA-2023:1234: kernel update (Important)</title>'
        '<ident system="http://cve.mitre.org">CVE-2023-0001</ident></Rule>'
    ]
    records = parse(write(tmp_path, benchmark(rules, make_testresult([rr(rid, "fail")]), NS11)))
    (f,) = findings(records)
    assert (f.weakness.vuln_id, f.weakness.cves, f.weakness.is_config) == ("RHSA-2023:1234", ("CVE-2023-0001",), False)
    assert [c.checks for c in records if isinstance(c, Coverage)] == [Checks.VULNERABILITY]


@pytest.mark.parametrize(
    ("rule_id", "group", "expected"),
    [
        ("xccdf_mil.disa.stig_rule_SV-230221r858734_rule", "xccdf_mil.disa.stig_group_V-230221", "V-230221"),
        ("xccdf_mil.disa.stig_rule_SV-86423r3_rule", "xccdf_mil.disa.stig_group_V-71799", "V-71799"),  # legacy
        ("SV-230221r858734_rule", None, "V-230221"),
        ("xccdf_org.ssgproject.content_rule_accounts_tmout", None, "accounts_tmout"),
        ("accounts_tmout", None, "accounts_tmout"),
        ("oval-com.redhat.rhsa-def-20060015", None, "RHSA-2006:0015"),
        ("ios12-no-finger-service", None, "ios12-no-finger-service"),
    ],
)
def test_vuln_ids_are_stable_across_revisions(rule_id: str, group: str | None, expected: str) -> None:
    assert vuln_id(rule_id, group) == expected


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        ("cpe:/a:redhat:openscap:1.3.5", ("OpenSCAP", "1.3.5")),
        ("cpe:/a:spawar:scc:5.4.2", ("DISA SCC", "5.4.2")),
        ("cpe:2.3:a:niwc:scc:5.8:*:*:*:*:*:*:*", ("DISA SCC", "5.8")),
        ("cpe:/a:nuwcdivnpt:stig-manager:1.3.13", ("STIG Manager", "1.3.13")),
        ("Evaluate-STIG:1.2310.1", ("Evaluate-STIG", "1.2310.1")),
        ("PAAuditEngine:6.5.3", ("PAAuditEngine", "6.5.3")),
        ("", ("XCCDF", None)),
    ],
)
def test_tool_names_are_stable_products(system: str, expected: tuple[str, str | None]) -> None:
    assert tool_name(system, []) == expected
    assert tool_name("", [("urn:xccdf:fact:scanner:name", "OpenSCAP"), ("urn:xccdf:fact:scanner:version", "1")]) == (
        "OpenSCAP",
        "1",
    )


def test_a_bare_test_result_document(tmp_path: Path) -> None:
    text = make_testresult([rr("xccdf_org.ssgproject.content_rule_x", "fail")]).replace(
        "<TestResult ", f'<TestResult xmlns="{NS12}" '
    )
    (f,) = findings(parse(write(tmp_path, text)))
    assert (f.weakness.vuln_id, f.weakness.name, f.weakness.severity) == ("x", "x", Severity.MEDIUM)


ARF = f"""<?xml version="1.0" encoding="UTF-8"?>
<arf:asset-report-collection xmlns:arf="http://scap.nist.gov/schema/asset-reporting-format/1.1"
    xmlns:core="http://scap.nist.gov/schema/reporting-core/1.1"
    xmlns:ai="http://scap.nist.gov/schema/asset-identification/1.1">
  <core:relationships>
    <core:relationship xmlns:arfvocab="http://scap.nist.gov/specifications/arf/vocabulary/relationships/1.0#"
        type="arfvocab:isAbout" subject="xccdf1"><core:ref>asset0</core:ref></core:relationship>
  </core:relationships>
  <arf:report-requests>
    <arf:report-request id="collection1"><arf:content>
      <ds:data-stream-collection xmlns:ds="http://scap.nist.gov/schema/scap/source/1.2" id="dsc">
        <ds:component id="scap_org.open-scap_comp_xccdf" timestamp="2024-01-01T00:00:00">
          <xccdf-1.2:Benchmark xmlns:xccdf-1.2="{NS12}" id="xccdf_org.ssgproject.content_benchmark_RHEL-9">
            <xccdf-1.2:title>Guide to the Secure Configuration of RHEL 9</xccdf-1.2:title>
            <xccdf-1.2:Group id="xccdf_org.ssgproject.content_group_system">
              <xccdf-1.2:title>System</xccdf-1.2:title>
              <xccdf-1.2:Rule id="xccdf_org.ssgproject.content_rule_accounts_tmout" severity="medium">
                <xccdf-1.2:title>Set Interactive Session Timeout</xccdf-1.2:title>
                <xccdf-1.2:description>Setting the <xhtml:code xmlns:xhtml="http://www.w3.org/1999/xhtml">TMOUT</xhtml:code>
                  option ends idle sessions.</xccdf-1.2:description>
                <xccdf-1.2:ident system="https://ncp.nist.gov/cce">CCE-83633-8</xccdf-1.2:ident>
                <xccdf-1.2:fixtext>Set TMOUT=900.</xccdf-1.2:fixtext>
              </xccdf-1.2:Rule>
              <xccdf-1.2:Rule id="xccdf_org.ssgproject.content_rule_sshd_disable_root_login" severity="high">
                <xccdf-1.2:title>Disable SSH Root Login</xccdf-1.2:title>
              </xccdf-1.2:Rule>
            </xccdf-1.2:Group>
          </xccdf-1.2:Benchmark>
        </ds:component>
      </ds:data-stream-collection>
    </arf:content></arf:report-request>
  </arf:report-requests>
  <arf:assets>
    <arf:asset id="asset0"><ai:computing-device><ai:fqdn>rhel9.example.com</ai:fqdn></ai:computing-device></arf:asset>
  </arf:assets>
  <arf:reports>
    <arf:report id="xccdf1"><arf:content>
      <TestResult xmlns="{NS12}" id="xccdf_org.open-scap_testresult_stig" start-time="2024-02-01T10:00:00+00:00"
          end-time="2024-02-01T10:05:00+00:00" test-system="cpe:/a:redhat:openscap:1.3.10">
        <benchmark href="#scap_org.open-scap_comp_xccdf" id="xccdf_org.ssgproject.content_benchmark_RHEL-9"/>
        <target>rhel9.example.com</target>
        <target-address>192.0.2.10</target-address>
        <rule-result idref="xccdf_org.ssgproject.content_rule_accounts_tmout" time="2024-02-01T10:01:00+00:00">
          <result>fail</result><ident system="https://ncp.nist.gov/cce">CCE-83633-8</ident>
        </rule-result>
        <rule-result idref="xccdf_org.ssgproject.content_rule_sshd_disable_root_login">
          <result>pass</result>
        </rule-result>
      </TestResult>
    </arf:content></arf:report>
  </arf:reports>
</arf:asset-report-collection>
"""


def test_arf_report_joins_the_data_stream_rules(tmp_path: Path) -> None:
    path = write(tmp_path, ARF, "arf.xml")
    assert XccdfParser().sniff(head_of(path))
    records = parse(path)
    got = {f.weakness.vuln_id: f for f in findings(records)}
    assert {k: f.status for k, f in got.items()} == {
        "accounts_tmout": FindingStatus.OPEN,
        "sshd_disable_root_login": FindingStatus.FIXED,
    }
    w = got["accounts_tmout"].weakness
    assert (w.name, w.severity, w.family, w.solution) == (
        "Set Interactive Session Timeout",
        Severity.MEDIUM,
        "Guide to the Secure Configuration of RHEL 9",
        "Set TMOUT=900.",
    )
    assert (
        w.description is not None
        and "TMOUT" in w.description
        and w.synopsis is not None
        and "CCE-83633-8" in w.synopsis
    )
    assert got["sshd_disable_root_login"].weakness.severity is Severity.HIGH
    assert {(f.asset.fqdn, f.asset.ip) for f in got.values()} == {("rhel9.example.com", "192.0.2.10")}
    assert (records[-1].tool, records[-1].tool_version) == ("OpenSCAP", "1.3.10")
    empty = ARF.replace(ARF[ARF.index("<arf:reports>") : ARF.index("</arf:reports>")], "<arf:reports>")
    with pytest.raises(InputError, match="ARF report has no XCCDF TestResult"):
        parse(write(tmp_path, empty, "empty.xml"))


def test_targets_must_be_identifiable(tmp_path: Path) -> None:
    loopback = "<target>localhost</target><target-address>127.0.0.1</target-address>"
    path = write(tmp_path, benchmark([], make_testresult([rr("r", "fail")], target=loopback)))
    with pytest.raises(InputError, match="no usable host name, IP or MAC address; name it with --asset"):
        parse(path)
    (f,) = findings(parse(path, asset_name="db01"))
    assert f.asset.netbios == "db01"


def test_a_nameless_test_result_among_others_is_left_out(tmp_path: Path) -> None:
    """One TestResult without a usable target does not refuse a file whose others can be read."""
    loopback = "<target>localhost</target><target-address>127.0.0.1</target-address>"
    text = benchmark([], make_testresult([rr("r1", "fail")], target=loopback) + make_testresult([rr("r2", "fail")]))
    records, ctx = run_with_context(XccdfParser(), write(tmp_path, text))
    assert [(f.weakness.vuln_id, f.asset.fqdn) for f in findings(records)] == [("r2", "rhel8.example.com")]
    assert ctx.report.skipped == 1
    assert ctx.report.warnings == [
        "TestResult 1: TestResult target 'localhost' has no usable host name, IP or MAC address; "
        "name it with --asset; left out"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f'<NotBenchmark xmlns="{NS12}"><TestResult/></NotBenchmark>', "root element is <NotBenchmark>"),
        (benchmark([rule("r")], ""), "XCCDF file has no TestResult"),
        (benchmark([], make_testresult([rr("r", "fail")]))[:-30], "not well-formed XML"),
    ],
)
def test_bad_results_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        parse(write(tmp_path, text))


def test_odd_results_are_read_past_with_a_warning(tmp_path: Path) -> None:
    """Values that used to refuse the file (an overlong id) or pass silently (an unknown result)."""
    results = [
        rr("r1", "failed"),  # not an XCCDF result, meaning unclear: kept open
        rr("r2", "suppressed"),  # set aside: neither open nor a fix
        rr("x" * 250, "fail"),  # too long to track
        rr("", "fail"),  # no idref
        rr("r5", "fail", severity="catastrophic"),
        rr("r6", "fail", severity="unknown"),  # XCCDF's own default: medium, no warning
        rr("r7", "notchecked"),  # defined by XCCDF: proves nothing, no warning
        rr("r8", "pass"),
        rr("r9", ""),  # no result at all: says nothing
    ]
    records, ctx = run_with_context(XccdfParser(), write(tmp_path, benchmark([], make_testresult(results))))
    got = {f.weakness.vuln_id: (f.status, f.weakness.severity) for f in findings(records)}
    assert got == {
        "r1": (FindingStatus.OPEN, Severity.MEDIUM),
        "r5": (FindingStatus.OPEN, Severity.MEDIUM),
        "r6": (FindingStatus.OPEN, Severity.MEDIUM),
        "r8": (FindingStatus.FIXED, Severity.MEDIUM),
    }
    assert ctx.report.warnings == [
        "rule-result at line 2 (r1): status 'failed' not recognised; kept open",
        "rule-result at line 2 (r2): result 'suppressed' is not an XCCDF result; read as set aside and left out",
        "rule-result at line 2: no rule idref; left out",
        "rule-result at line 2 (r9): no result; left out",
        "rule-result at line 2 ("
        + "x" * 60
        + "): rule id longer than 200 characters ('"
        + "x" * 40
        + "'...); left out",
        "rule-result at line 2 (r5): severity 'catastrophic' not recognised; rated Moderate",
    ]
    assert ctx.report.skipped == 3


def test_the_newest_test_result_decides(tmp_path: Path) -> None:
    """Several TestResults of one target: a rule's newest result decides, whatever their order."""

    def tr(result: str, start: str, end: str) -> str:
        return (
            make_testresult([rr("r1", result)])
            .replace("2024-02-01T10:00:00-05:00", start)
            .replace("2024-02-01T10:05:00-05:00", end)
        )

    jan = ("2024-01-05T10:00:00Z", "2024-01-05T10:05:00.250Z")
    feb = ("2024-02-05T10:00:00Z", "2024-02-05T10:05:00.750Z")
    jan_end, feb_end = dt.datetime(2024, 1, 5, 10, 5, 0, 250000), dt.datetime(2024, 2, 5, 10, 5, 0, 750000)
    for first, second in (("fail", "pass"), ("pass", "fail")):
        for order in (1, -1):
            parts = [tr(first, *jan), tr(second, *feb)][::order]
            got = [(f.status, f.observed_at) for f in findings(parse(write(tmp_path, benchmark([], "".join(parts)))))]
            if second == "pass":  # failed in January, passed in February: opened, then closed
                assert got == [(FindingStatus.OPEN, jan_end), (FindingStatus.FIXED, feb_end)]
            else:  # the February failure stands
                assert got == [(FindingStatus.OPEN, feb_end)]


def test_undated_results_take_the_file_time(tmp_path: Path) -> None:
    mtime = dt.datetime(2026, 2, 3, 4, 5, 6)
    undated = make_testresult([rr("r1", "fail")]).replace(
        'start-time="2024-02-01T10:00:00-05:00" end-time="2024-02-01T10:05:00-05:00" ', ""
    )
    records, ctx = run_with_context(XccdfParser(), write(tmp_path, benchmark([], undated)), file_time=mtime)
    assert [f.observed_at for f in findings(records)] == [mtime] and ctx.report.used_file_time
    assert [(c.started_at, c.ended_at) for c in records if isinstance(c, Coverage)] == [(mtime, mtime)]
    dated = make_testresult([rr("r1", "fail")])
    records, ctx = run_with_context(XccdfParser(), write(tmp_path, benchmark([], dated)), file_time=mtime)
    assert [f.observed_at for f in findings(records)] == [dt.datetime(2024, 2, 1, 15, 5)]
    assert not ctx.report.used_file_time


def test_sniff_needs_the_xccdf_namespace(tmp_path: Path) -> None:
    parser = XccdfParser()
    assert not parser.sniff(head_of(write(tmp_path, "<Benchmark><TestResult/></Benchmark>")))
    assert not parser.sniff(head_of(write(tmp_path, '<report xmlns="urn:other"><Benchmark/></report>')))
    assert parser.sniff(head_of(write(tmp_path, f'<x:TestResult xmlns:x="{NS11}"/>')))


# --- the real results of the corpus ----------------------------------------------------------------

CORPUS_FACTS = {  # file: (tool, asset identifier, configuration checks?)
    "defectdojo__openscap__ios-sample-v1.1.3.xccdf.xml": ("XCCDF", "lower.test.net", True),
    "defectdojo__openscap__no_vuln_rhsa.xml": ("OpenSCAP", "sample.system", False),
    "defectdojo__openscap__one_vuln_rhsa.xml": ("OpenSCAP", "sample.system", False),
    "heimdall2__xccdf-results-openscap-rhel7.xml": ("OpenSCAP", "192.168.158.31", True),
    "heimdall2__xccdf-results-openscap-rhel8.xml": ("OpenSCAP", "10.0.2.15", True),
    "heimdall2__xccdf-results-scc-rhel8.xml": ("DISA SCC", "192.168.158.30", True),
    "stig-manager__Asset_b-RHEL_8_TRUNCATED-V1R12-xccdf.xml": ("STIG Manager", "Asset_bbbbbbbbb", True),
    "stig-manager__GoodStatistics-xccdf.xml": ("MyTestSystem", "MyAsset", True),
    "stig-manager__ReviewOverrides-xccdf.xml": ("MyTestSystem", "MyAsset", True),
    "stig-manager__Single-Vuln-fail-With-Detail-xccdf.xml": ("MyTestSystem", "MyAsset", True),
    "stig-manager__Target-Object-Long-Properties-xccdf.xml": ("XCCDF", "MyMyAsssetMyAsset", True),
    "stig-manager__all-possible-results-xccdf.xml": ("STIG Manager", "MyAsset", True),
}


def _expected(path: Path) -> dict[str, str]:
    """Rule id -> open/fixed from a plain lxml read: fail is open and wins, pass/fixed are fixed;
    DISA rules are named by their Group's V- id (or the SV- number), advisories by RHSA name."""
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    groups = {}
    for r in tree.iter(f"{{{NS12}}}Rule", f"{{{NS11}}}Rule"):
        parent = r.getparent()
        g = re.search(r"V-\d+$", parent.get("id", "")) if parent is not None else None
        if g:
            groups[r.get("id")] = g.group(0)
    out: dict[str, str] = {}
    for res in tree.iter(f"{{{NS12}}}rule-result", f"{{{NS11}}}rule-result"):
        idref = res.get("idref")
        sv = re.search(r"SV-(\d+)", idref)
        rh = re.match(r"oval-com\.redhat\.rhsa-def-(\d{4})(\d+)$", idref)
        key = groups.get(idref) or (
            f"V-{sv.group(1)}" if sv else f"RHSA-{rh.group(1)}:{rh.group(2)}" if rh else idref.split("_rule_")[-1]
        )
        result = res.findtext(f"{{{NS12}}}result") or res.findtext(f"{{{NS11}}}result")
        if result == "fail":
            out[key] = "open"
        elif result in ("pass", "fixed"):
            out.setdefault(key, "fixed")
    return out


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count_or_is_refused() -> None:
    folder = corpus_dir("xccdf_results")
    refused = peer_invalid("xccdf_results")
    assert refused == {"stig-manager__NoBenchMarkElement.xml", "stig-manager__NoTestResult-xccdf.xml"}
    assert set(CORPUS_FACTS) | refused == {p.name for p in folder.iterdir()}
    for path in sorted(folder.iterdir()):
        if path.name in refused:
            with pytest.raises(InputError, match="root element is <NotBenchmark>|has no TestResult"):
                parse(path)
            continue
        records = parse(path)
        tool, ident, is_config = CORPUS_FACTS[path.name]
        got = findings(records)
        assert {f.weakness.vuln_id: f.status.value for f in got} == _expected(path), path.name
        assert {(f.weakness.tool, f.asset.identifier, f.weakness.is_config) for f in got} <= {(tool, ident, is_config)}
        assert [c.asset.identifier for c in records if isinstance(c, Coverage)] == [ident], path.name
        assert isinstance(records[-1], Scan) and records[-1].tool == tool


@pytest.mark.corpus
def test_corpus_rule_metadata_and_cves() -> None:
    folder = corpus_dir("xccdf_results")
    scc = {f.weakness.vuln_id: f for f in findings(parse(folder / "heimdall2__xccdf-results-scc-rhel8.xml"))}
    w = scc["V-230221"].weakness
    assert w.name == "RHEL 8 must be a vendor-supported release." and w.ccis == ("CCI-000366",)
    assert w.severity is Severity.HIGH and w.description is not None and "<VulnDiscussion>" not in w.description
    (vuln,) = [
        f for f in findings(parse(folder / "defectdojo__openscap__one_vuln_rhsa.xml")) if f.status.value == "open"
    ]
    tree = etree.parse(str(folder / "defectdojo__openscap__one_vuln_rhsa.xml"))
    failed = next(r for r in tree.iter(f"{{{NS11}}}rule-result") if r.findtext(f"{{{NS11}}}result") == "fail")
    rule_el = next(r for r in tree.iter(f"{{{NS11}}}Rule") if r.get("id") == failed.get("idref"))
    assert set(vuln.weakness.cves) == {i.text for i in rule_el.iter(f"{{{NS11}}}ident")}
    openscap = parse(folder / "heimdall2__xccdf-results-openscap-rhel8.xml")
    assert [c.authenticated for c in openscap if isinstance(c, Coverage)] == [False]


@pytest.mark.corpus
def test_sniff_claims_exactly_its_folder() -> None:
    assert_sniff_claims_exactly(XccdfParser(), "xccdf_results")


# --- end to end ----------------------------------------------------------------------------------


def test_a_later_scan_closes_what_now_passes(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(XccdfParser())
    rules = [rule(SV1, "xccdf_mil.disa.stig_group_V-230221", "high"), rule(SV2, "xccdf_mil.disa.stig_group_V-230222")]
    jan = benchmark(rules, make_testresult([rr(SV1, "fail"), rr(SV2, "fail")]))
    r = import_file(engine, write(tmp_path, jan, "jan.xml"))
    assert (r.format, r.tool, r.items_opened) == ("xccdf", "OpenSCAP", 2)
    items = items_by_id(engine)
    assert [a.text for a in items["V-230221"].assets] == ["rhel8.example.com"] and items["V-230221"].is_config
    feb = jan.replace("2024-02-01", "2024-03-01").replace(f'"{SV1}"><result>fail', f'"{SV1}"><result>pass')
    feb = feb.replace(f'"{SV2}"><result>fail', f'"{SV2}"><result>error')
    r = import_file(engine, write(tmp_path, feb, "feb.xml"))
    assert (r.fixed_findings, r.items_closed) == (1, 1)
    statuses = {k: i.status for k, i in items_by_id(engine).items()}
    assert statuses == {"V-230221": ItemStatus.CLOSED, "V-230222": ItemStatus.OPEN}  # an error closes nothing


@pytest.mark.corpus
def test_corpus_file_imports_end_to_end(engine: Engine, register_parser: Any) -> None:
    register_parser(XccdfParser())
    path = corpus_dir("xccdf_results") / "heimdall2__xccdf-results-scc-rhel8.xml"
    result = import_file(engine, path)
    expected = {k for k, v in _expected(path).items() if v == "open"}
    items = items_by_id(engine)
    assert set(items) == expected and result.tool == "DISA SCC"
    assert {a.text for i in items.values() for a in i.assets} == {"192.168.158.30"}


def test_any_element_or_attribute_missing_or_odd_is_handled_or_refused(tmp_path: Path) -> None:
    rules = [rule(SV1, "xccdf_mil.disa.stig_group_V-230221", "high", ("CCI-000366",)), rule("r2")]
    override = "<override><old-result>fail</old-result><new-result>pass</new-result></override>"
    base = etree.fromstring(
        benchmark(rules, make_testresult([rr(SV1, "fail", extra=override), rr("r2", "pass")])).encode()
    )
    count = sum(1 for _ in base.iter())
    for n in range(1, count):
        for how in ("drop", "empty", "attrs"):
            root = etree.fromstring(etree.tostring(base))
            el = list(root.iter())[n]
            if how == "drop":
                el.getparent().remove(el)
            elif how == "empty":
                el.text, el[:] = "?", []
            else:
                for name in el.attrib:
                    el.set(name, "%")
            with contextlib.suppress(InputError):
                parse(write(tmp_path, etree.tostring(root).decode()))
