"""The Rapid7 InsightVM / Nexpose XML parser on hand-written files and the corpus."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import Engine

from poam.domain.models import Checks, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.rapid7_xml import Rapid7XmlParser, markup_text, rapid7_time
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir

Register = Callable[..., None]
JAN = "20260105T100000000"
JAN_END = "20260105T103000500"


def definition(vid: str, severity: str = "5", title: str | None = None, refs: str = "", attrs: str = "") -> str:
    return (
        f'<vulnerability id="{vid}" title="{title or "Title " + vid}" severity="{severity}" pciSeverity="3" '
        f'cvssScore="5.0" cvssVector="(AV:N/AC:L/Au:N/C:P/I:N/A:N)" published="20100101T000000000" {attrs}>'
        "<malware/><exploits/><description><ContainerBlockElement><Paragraph>\n   The server   is\n"
        "   weak.\n</Paragraph><UnorderedList><ListItem>one</ListItem><ListItem><Paragraph>two</Paragraph>"
        "</ListItem></UnorderedList></ContainerBlockElement></description>"
        f"<references>{refs}</references><tags><tag>Web</tag><tag>HTTP</tag></tags>"
        "<solution><ContainerBlockElement><Paragraph>Patch it, see "
        '<URLLink LinkURL="https://vendor.example/fix" LinkTitle="the advisory"/>.</Paragraph>'
        "</ContainerBlockElement></solution></vulnerability>"
    )


def check(vid: str, status: str = "vulnerable-exploited", key: str = "", attrs: str = "", proof: str = "") -> str:
    body = proof or f"<Paragraph><Paragraph>Proof of {vid} {key}</Paragraph></Paragraph>"
    return f'<test id="{vid}" key="{key}" status="{status}" {attrs}>{body}</test>'


def endpoint(port: str, protocol: str, service: str, *tests: str) -> str:
    return (
        f'<endpoint protocol="{protocol}" port="{port}" status="open"><services><service name="{service}">'
        f"<tests>{''.join(tests)}</tests></service></services></endpoint>"
    )


def node(
    address: str = "10.0.0.1",
    host_tests: tuple[str, ...] = (),
    endpoints: tuple[str, ...] = (),
    names: tuple[str, ...] = ("web01.example.com", "WEB01"),
    attrs: str = 'status="alive" hardware-address="0050569A1B2C"',
) -> str:
    names_xml = "".join(f"<name>{n}</name>" for n in names)
    return (
        f'<node address="{address}" device-id="1" {attrs}><names>{names_xml}</names>'
        '<fingerprints><os certainty="0.80" vendor="Canonical" family="Linux" product="Ubuntu Linux" version="22.04"/>'
        '<os certainty="0.50" vendor="Linux" family="Linux" product="Linux" version="5.15"/></fingerprints>'
        f"<tests>{''.join(host_tests)}</tests><endpoints>{''.join(endpoints)}</endpoints></node>"
    )


def scan_el(sid: str = "7", start: str = JAN, end: str = JAN_END, status: str = "finished") -> str:
    return f'<scan id="{sid}" name="Weekly {sid}" startTime="{start}" endTime="{end}" status="{status}"/>'


def report(*nodes: str, defs: tuple[str, ...] = (), scans: tuple[str, ...] = (scan_el(),)) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<NexposeReport version="2.0">'
        f"<scans>{''.join(scans)}</scans><nodes>{''.join(nodes)}</nodes>"
        f"<VulnerabilityDefinitions>{''.join(defs)}</VulnerabilityDefinitions></NexposeReport>\n"
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def parse_with(path: Path, **kwargs: object) -> tuple[list[object], ParseContext]:
    ctx = ParseContext(str(path), **kwargs)  # type: ignore[arg-type]
    with path.open("rb") as f:
        return list(Rapid7XmlParser().parse(f, ctx)), ctx


def parse(path: Path) -> list[object]:
    return parse_with(path)[0]


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[object]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


CVE_REFS = (
    '<reference source="CVE">cve-2026-1111</reference><reference source="BID">1234</reference>'
    '<reference source="URL">https://example.com/a</reference><reference source="IAVM">2026-A-0001</reference>'
)


TCP = "tcp-seq-num-approximation"


def test_findings_assets_definitions_and_coverage(tmp_path: Path) -> None:
    text = report(
        node(
            host_tests=(check("tcp-seq-num-approximation", attrs='scan-id="7" vulnerable-since="20251201T080000000"'),),
            endpoints=(
                endpoint(
                    "443",
                    "tcp",
                    "HTTPS",
                    check("http-basic-auth-cleartext", key="/login"),
                    check("http-basic-auth-cleartext", key="/admin", attrs='vulnerable-since="20251101T000000000"'),
                    check("http-basic-auth-cleartext", "not-vulnerable", key="/"),
                ),
                endpoint("53", "udp", "DNS", check("TCP-SEQ-NUM-APPROXIMATION", "vulnerable-version")),
            ),
        ),
        defs=(
            definition("tcp-seq-num-approximation", "5", refs=CVE_REFS),
            definition("http-basic-auth-cleartext", "7", attrs='cvssV3Score="7.5" cvssV3Vector="CVSS:3.1/AV:N"'),
        ),
    )
    recs = parse(write(tmp_path / "r.xml", text))
    host, auth, dns = findings(recs)
    w = host.weakness
    assert (w.tool, w.vuln_id, w.name, w.severity, w.family) == (
        "Rapid7 InsightVM",
        "tcp-seq-num-approximation",
        "Title tcp-seq-num-approximation",
        Severity.MEDIUM,
        "Web",
    )
    assert (w.cves, w.iavas, w.see_also) == (("CVE-2026-1111",), ("2026-A-0001",), "https://example.com/a")
    assert (w.cvss2_score, w.cvss2_vector, w.cvss3_score) == (5.0, "AV:N/AC:L/Au:N/C:P/I:N/A:N", None)
    assert w.description == "The server is weak.\n\n- one\n- two"
    assert w.solution == "Patch it, see the advisory (https://vendor.example/fix)."
    assert (host.location, host.service, host.status) == ("", None, FindingStatus.OPEN)
    assert (host.observed_at, host.since) == (dt.datetime(2026, 1, 5, 10), dt.datetime(2025, 12, 1, 8))
    assert host.evidence == "Proof of tcp-seq-num-approximation"
    a = host.asset
    assert (a.ip, a.fqdn, a.netbios, a.mac, a.name, a.os, a.identifier) == (
        "10.0.0.1",
        "web01.example.com",
        None,
        "00:50:56:9a:1b:2c",
        None,
        "Canonical Ubuntu Linux 22.04",  # the fingerprint with the highest certainty
        "web01.example.com",
    )
    # three tests of one vulnerability on 443/tcp: one finding, its vulnerable instances in the evidence
    assert (auth.weakness.severity, auth.weakness.cvss3_score, auth.location, auth.service) == (
        Severity.HIGH,
        7.5,
        "443/tcp",
        "HTTPS",
    )
    assert auth.evidence == (
        "Instance /login:\nProof of http-basic-auth-cleartext /login\n\n"
        "Instance /admin:\nProof of http-basic-auth-cleartext /admin"
    )
    assert auth.since == dt.datetime(2025, 11, 1)
    assert dns.weakness is w and dns.location == "53/udp"  # ids are case-insensitive: one weakness
    (cov,) = coverage(recs)
    assert cov.asset is a and cov.checks is Checks.VULNERABILITY and cov.authenticated is None
    assert (cov.started_at, cov.ended_at) == (dt.datetime(2026, 1, 5, 10), dt.datetime(2026, 1, 5, 10, 30, 0, 500000))
    scan = recs[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.name, scan.partial_checks) == (
        "Rapid7 InsightVM",
        "Weekly 7",
        (),
    )


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("10", Severity.CRITICAL),
        ("9", Severity.CRITICAL),
        ("8", Severity.HIGH),
        ("7", Severity.HIGH),
        ("6", Severity.MEDIUM),
        ("4", Severity.MEDIUM),
        ("3", Severity.LOW),
        ("1", Severity.LOW),
        ("0", Severity.INFO),
    ],
)
def test_rapid7_severity_levels(tmp_path: Path, severity: str, expected: Severity) -> None:
    text = report(node(host_tests=(check("v1"),)), defs=(definition("v1", severity),))
    assert findings(parse(write(tmp_path / "r.xml", text)))[0].weakness.severity is expected


def test_test_statuses(tmp_path: Path) -> None:
    tests = (
        check("open-exploited"),
        check("open-version", "vulnerable-version"),
        check("open-potential", "vulnerable-potential"),
        check("excepted", "exception-vulnerable-exploited"),
        check("mixed", "exception-vulnerable-version", key="/a"),
        check("mixed", "vulnerable-exploited", key="/b"),  # one instance still open: the finding is open
        check("passed", "not-vulnerable"),
        check("not-affected", "skipped-version"),
        check("overridden", "overridden-vulnerable-version"),
        check("failed", "error"),
        check("disabled", "skipped-disabled"),
        check("dunno", "unknown"),
        check("false-positive", "false-positive"),
        check("odd", "vulnerable-maybe-later"),
        check("strange", "sideways"),
    )
    names = [t.split('"')[1] for t in tests]
    text = report(node(host_tests=tests), defs=tuple(definition(n) for n in dict.fromkeys(names)))
    recs, ctx = parse_with(write(tmp_path / "r.xml", text))
    assert [(f.weakness.vuln_id, f.status) for f in findings(recs)] == [
        ("open-exploited", FindingStatus.OPEN),
        ("open-version", FindingStatus.OPEN),
        ("open-potential", FindingStatus.OPEN),
        ("excepted", FindingStatus.SET_ASIDE),
        ("mixed", FindingStatus.OPEN),
        ("false-positive", FindingStatus.SET_ASIDE),
        ("odd", FindingStatus.OPEN),
        ("strange", FindingStatus.OPEN),
    ]
    scan = recs[-1]
    assert isinstance(scan, Scan) and scan.partial_checks == ("disabled", "dunno", "failed")
    assert ctx.report.warnings == [
        "node 10.0.0.1, test false-positive (line 2): status 'false-positive' sets the result aside",
        "node 10.0.0.1, test strange (line 2): status 'sideways' not recognised; kept open",
    ]
    assert len(coverage(recs)) == 1


def test_an_unfinished_scan_or_a_dead_node_covers_nothing(tmp_path: Path) -> None:
    text = report(
        node(host_tests=(check("v1"),)),
        node("10.0.0.2", names=()),
        defs=(definition("v1"),),
        scans=(scan_el(status="stopped"),),
    )
    recs, ctx = parse_with(write(tmp_path / "r.xml", text))
    assert len(findings(recs)) == 1 and coverage(recs) == []
    assert ctx.report.warnings == [
        "scan 7 (Weekly 7): status 'stopped': the scan did not finish; its hosts are not counted as scanned"
    ]  # once per scan
    dead = report(node(host_tests=(check("v1"),), attrs='status="dead"'), defs=(definition("v1"),))
    recs = parse(write(tmp_path / "d.xml", dead))
    assert len(findings(recs)) == 1 and coverage(recs) == []


def test_each_test_is_dated_by_its_scan(tmp_path: Path) -> None:
    feb = "20260205T100000000"
    text = report(
        node(host_tests=(check("v1", attrs='scan-id="8"'),)),
        node("10.0.0.2", host_tests=(check("v1", attrs='scan-id="9"'),), names=()),
        node("10.0.0.3", names=()),
        defs=(definition("v1"),),
        scans=(scan_el("8", start=feb, end=feb), scan_el("9", status="running"), scan_el("10")),
    )
    recs, ctx = parse_with(write(tmp_path / "r.xml", text))
    assert [(f.asset.ip, f.observed_at) for f in findings(recs)] == [
        ("10.0.0.1", dt.datetime(2026, 2, 5, 10)),
        ("10.0.0.2", dt.datetime(2026, 1, 5, 10)),
    ]
    # 10.0.0.1: its finished scan 8; 10.0.0.2: scan 9 is running; 10.0.0.3 names no scan, so every scan
    # of the file counts for it, 9 among them
    assert [c.asset.ip for c in coverage(recs)] == ["10.0.0.1"]
    assert ctx.report.warnings == [
        "scan 9 (Weekly 9): status 'running': the scan did not finish; its hosts are not counted as scanned"
    ]


def test_a_report_without_scan_times_takes_the_file_time(tmp_path: Path) -> None:
    text = report(node(host_tests=(check("v1"),)), defs=(definition("v1"),), scans=())
    recs, ctx = parse_with(write(tmp_path / "r.xml", text), file_time=dt.datetime(2026, 3, 3))
    assert findings(recs)[0].observed_at == dt.datetime(2026, 3, 3) and ctx.report.used_file_time
    assert coverage(recs)[0].started_at == dt.datetime(2026, 3, 3)
    bad = report(node(host_tests=(check("v1"),)), defs=(definition("v1"),), scans=(scan_el(start="soon", end=""),))
    recs, ctx = parse_with(write(tmp_path / "b.xml", bad), file_time=dt.datetime(2026, 3, 3))
    assert findings(recs)[0].observed_at == dt.datetime(2026, 3, 3) and ctx.report.used_file_time
    assert ctx.report.warnings == ["scan 7: startTime 'soon' is not a date; not used"]
    empty = report(scans=(scan_el(),))
    recs, ctx = parse_with(write(tmp_path / "e.xml", empty), file_time=dt.datetime(2026, 3, 3))
    assert len(recs) == 1 and not ctx.report.used_file_time  # nothing needed a date


def test_odd_values_are_read_past_with_a_warning(tmp_path: Path) -> None:
    text = report(
        node(
            host_tests=(check("undefined"), check("odd-level"), check(""), check("v1")),
            endpoints=(endpoint("http", "tcp", "HTTP", check("v1")),),
        ),
        node("", host_tests=(check("v1"),), names=()),
        defs=(definition("odd-level", "severe"), definition("v1")),
    )
    recs, ctx = parse_with(write(tmp_path / "r.xml", text))
    assert [(f.weakness.vuln_id, f.weakness.name, f.weakness.severity, f.location) for f in findings(recs)] == [
        ("undefined", "undefined", Severity.MEDIUM, ""),
        ("odd-level", "Title odd-level", Severity.MEDIUM, ""),
        ("v1", "Title v1", Severity.MEDIUM, ""),  # the port that is not a number: host-wide, one finding
    ]
    assert ctx.report.skipped == 2
    assert ctx.report.warnings == [
        "node 10.0.0.1, test ? (line 2): no test id; left out",
        "node 10.0.0.1, test v1 (line 2): port 'http' is not a number; no port",
        "node 10.0.0.1, test undefined (line 2): no definition of this vulnerability in the file: named by its id;"
        " rated Moderate",
        "vulnerability odd-level: severity 'severe' not recognised; rated Moderate",
        "node at line 2 (with its 1 vulnerable results): no address or name; left out",
    ]
    assert [c.asset.ip for c in coverage(recs)] == ["10.0.0.1"]


def test_markup_preformatted_text_and_lists() -> None:
    el = etree.fromstring(
        "<test><Paragraph><Paragraph>Request to <URLLink LinkURL='http://h/x' LinkTitle='http://h/x'/></Paragraph>"
        "Response was 401<Paragraph preformat='true'>  line one\n    indented\n</Paragraph>"
        "<OrderedList><ListItem>first</ListItem><ListItem>second  item</ListItem></OrderedList></Paragraph></test>"
    )
    assert (
        markup_text(el)
        == "Request to http://h/x\n\nResponse was 401\n\nline one\n  indented\n\n1. first\n2. second item"
    )
    assert markup_text(etree.fromstring("<test/>")) is None


def test_rapid7_dates() -> None:
    assert rapid7_time("20210211T164506081") == dt.datetime(2021, 2, 11, 16, 45, 6, 81000)
    assert rapid7_time("20210211T164506") == dt.datetime(2021, 2, 11, 16, 45, 6)
    assert rapid7_time("2021-02-11T16:45:06Z") == dt.datetime(2021, 2, 11, 16, 45, 6)
    assert rapid7_time("20211311T164506081") is None and rapid7_time("") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<NotNexpose/>", "not a Rapid7 XML export"),
        (report(node(host_tests=(check("v1"),)))[:-60], "not well-formed"),
        ('<!DOCTYPE r [<!ENTITY x "y">]><NexposeReport/>', "entity"),
    ],
)
def test_broken_structure_is_an_input_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path / "bad.xml", text))


# --- the real files of the corpus -----------------------------------------------------------------


@pytest.mark.corpus
def test_sniff_claims_exactly_the_rapid7_files() -> None:
    folder = corpus_dir("rapid7_xml")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if Rapid7XmlParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set(folder.iterdir())


def independent_count(path: Path) -> tuple[dict[str, set[str]], set[str]]:
    """Vulnerability id -> `address (port/protocol)` of the tests whose status starts with
    `vulnerable`, and the nodes' addresses, with plain lxml."""
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    found: dict[str, set[str]] = {}
    nodes: set[str] = set()
    for node_el in tree.iter("node"):
        nodes.add(node_el.get("address"))
        for test in node_el.iter("test"):
            if not test.get("status", "").startswith("vulnerable"):
                continue
            endpoint_el = next(test.iterancestors("endpoint"), None)
            where = f" ({endpoint_el.get('port')}/{endpoint_el.get('protocol')})" if endpoint_el is not None else ""
            found.setdefault(test.get("id").lower(), set()).add(node_el.get("address") + where)
    return found, nodes


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "total", "severities", "covered", "warnings"),
    [
        # 1 node, DNS on 53/tcp and 53/udp: cache snooping and recursion on both, amplification on udp
        ("defectdojo__nexpose__dns.xml", 5, {"medium": 4, "low": 1}, 1, 0),
        # 162 vulnerable tests on 8 nodes, 28 findings once the test keys of one port are merged;
        # the scan was stopped: no host counted as scanned (one warning)
        ("defectdojo__nexpose__many_vulns.xml", 28, {"low": 14, "medium": 8, "high": 5, "critical": 1}, 0, 1),
        # the one vulnerable test (tcp-seq-num-approximation) has no definition in the file (the only
        # definition, udp-ipid-zero, sits inside the node and is not tested): Moderate, warned
        ("defectdojo__nexpose__no_vuln.xml", 1, {"medium": 1}, 0, 2),
    ],
)
def test_every_corpus_file_parses_to_the_independent_count(
    name: str, total: int, severities: dict[str, int], covered: int, warnings: int
) -> None:
    path = corpus_dir("rapid7_xml") / name
    recs, ctx = parse_with(path)
    got: dict[str, set[str]] = {}
    for f in findings(recs):
        got.setdefault(f.weakness.vuln_id, set()).add(f.asset.identifier + (f" ({f.location})" if f.location else ""))
    expected, nodes = independent_count(path)
    assert got == expected
    assert len(findings(recs)) == total
    assert Counter(f.weakness.severity.value for f in findings(recs)) == severities
    assert len(coverage(recs)) == covered and {c.asset.ip for c in coverage(recs)} <= nodes
    assert ctx.report.warning_count == warnings and ctx.report.skipped == 0
    assert all(f.status is FindingStatus.OPEN for f in findings(recs))
    assert isinstance(recs[-1], Scan) and recs[-1].started_at is not None


@pytest.mark.corpus
def test_corpus_details_checked_by_hand() -> None:
    recs, _ctx = parse_with(corpus_dir("rapid7_xml") / "defectdojo__nexpose__many_vulns.xml")
    by_id = {(f.weakness.vuln_id, f.asset.ip): f for f in findings(recs)}
    tcp = by_id[("tcp-seq-num-approximation", "192.168.1.1")].weakness
    assert (tcp.name, tcp.severity, tcp.cves) == (
        "TCP Sequence Number Approximation Vulnerability",
        Severity.MEDIUM,
        ("CVE-2004-0230",),
    )
    ssh = by_id[("ssh-default-account-root-password-root", "192.168.1.1")]
    assert (ssh.weakness.severity, ssh.location, ssh.service) == (Severity.CRITICAL, "22/tcp", "SSH")
    auth = by_id[("http-basic-auth-cleartext", "192.168.1.18")]
    assert auth.location == "80/tcp" and auth.evidence is not None
    assert auth.evidence.endswith("... and 109 more instances")  # 134 vulnerable instances on 80/tcp
    assert by_id[("ssl-des-ciphers", "192.168.1.34")].service is None  # Rapid7's `<unknown>` service
    scan = recs[-1]
    assert isinstance(scan, Scan) and scan.partial_checks == (
        "dns-allows-cache-snooping",
        "dns-unrestricted-reverse-zone-transfer",
        "ftp-anonymous-writeable-directories",
        "http-asp-dot-net-debug-enabled",
        "http-drac-default-login",
        "udp-ipid-zero",
    )  # 6 tests in error, 1 unknown
    (dns,) = {f.asset for f in findings(parse(corpus_dir("rapid7_xml") / "defectdojo__nexpose__dns.xml"))}
    assert (dns.ip, dns.mac, dns.os) == ("192.168.1.1", "00:11:22:33:44:55", "Linux 2.6.32")


# --- end to end ----------------------------------------------------------------------------------


def items_by_key(engine: Engine) -> dict[tuple[str, str], object]:
    with engine.begin() as conn:
        found = load(conn, systems.resolve(conn, None, "t").id, "all")
    return {(i.source_identifier, i.poam_id): i for i in found}


def statuses(engine: Engine) -> dict[str, list[tuple[str, ItemStatus]]]:
    out: dict[str, list[tuple[str, ItemStatus]]] = {}
    for (ident, poam_id), item in sorted(items_by_key(engine).items()):
        out.setdefault(ident, []).append((poam_id, item.status))  # type: ignore[attr-defined]
    return out


def month(tmp_path: Path, name: str, when: str, *nodes: str) -> Path:
    defs = (definition("v-tls", "7"), definition("v-ssh", "4"), definition("v-low", "2"))
    return write(tmp_path / name, report(*nodes, defs=defs, scans=(scan_el(start=when, end=when),)))


def test_later_scans_close_reopen_and_never_close_another_host(
    engine: Engine, register_parser: Register, tmp_path: Path
) -> None:
    register_parser(Rapid7XmlParser())
    tls = endpoint("443", "tcp", "HTTPS", check("v-tls"))
    ssh = endpoint("22", "tcp", "SSH", check("v-ssh"))
    r = import_file(engine, month(tmp_path, "jan.xml", JAN, node(endpoints=(tls, ssh))))
    assert (r.format, r.items_opened, r.assets_covered, r.results) == ("rapid7-xml", 2, 1, 2)
    # February: another host only; web01's findings stay open
    other = node("10.0.0.9", endpoints=(tls,), names=("db01.example.com",))
    r = import_file(engine, month(tmp_path, "feb.xml", "20260205T100000000", other))
    assert (r.fixed_findings, r.items_closed, r.new_findings) == (0, 0, 1)
    # March: web01 again, SSH gone (closes on web01; its item closes), TLS set aside by an exception
    excepted = endpoint("443", "tcp", "HTTPS", check("v-tls", "exception-vulnerable-exploited"))
    r = import_file(engine, month(tmp_path, "mar.xml", "20260305T100000000", node(endpoints=(excepted,))))
    assert (r.fixed_findings, r.items_closed, r.set_aside) == (1, 1, 1)
    assert statuses(engine) == {
        "v-ssh": [("V-2", ItemStatus.CLOSED)],
        "v-tls": [("V-1", ItemStatus.OPEN)],  # an exception never closes a finding
    }
    # April: SSH is back on web01: a new item after the closed one
    r = import_file(engine, month(tmp_path, "apr.xml", "20260405T100000000", node(endpoints=(tls, ssh))))
    assert r.opened_ids == ["V-3"]
    assert statuses(engine)["v-ssh"] == [("V-2", ItemStatus.CLOSED), ("V-3", ItemStatus.OPEN)]


def test_a_stopped_scan_closes_nothing(engine: Engine, register_parser: Register, tmp_path: Path) -> None:
    register_parser(Rapid7XmlParser())
    tls = endpoint("443", "tcp", "HTTPS", check("v-tls"))
    import_file(engine, month(tmp_path, "jan.xml", JAN, node(endpoints=(tls,))))
    stopped = report(
        node(), defs=(definition("v-tls"),), scans=(scan_el(start="20260205T100000000", status="stopped"),)
    )
    r = import_file(engine, write(tmp_path / "feb.xml", stopped))
    assert (r.assets_covered, r.fixed_findings, r.items_closed, r.warnings) == (0, 0, 0, 1)


@pytest.mark.corpus
def test_corpus_file_imports_end_to_end(engine: Engine, register_parser: Register) -> None:
    register_parser(Rapid7XmlParser())
    r = import_file(engine, corpus_dir("rapid7_xml") / "defectdojo__nexpose__dns.xml")
    assert (r.format, r.tool, r.results, r.assets_covered, r.items_opened) == (
        "rapid7-xml",
        "Rapid7 InsightVM",
        5,
        1,
        3,  # one item per vulnerability: cache snooping, recursion (tcp and udp), amplification
    )
