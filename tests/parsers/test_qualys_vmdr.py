"""The Qualys VMDR host list detection parser on hand-written files and the corpus."""

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
from poam.parsers.qualys_vm_xml import QualysVmXmlParser
from poam.parsers.qualys_vmdr import QualysVmdrParser
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir

Register = Callable[..., None]
JAN = "2026-01-05T10:00:00Z"


def detection(
    qid: str = "38738",
    severity: str = "3",
    status: str = "Active",
    kind: str = "Confirmed",
    port: str = "22",
    extra: str = "",
    found: str = JAN,
) -> str:
    port_xml = f"<PORT>{port}</PORT><PROTOCOL>tcp</PROTOCOL>" if port else ""
    status_xml = f"<STATUS>{status}</STATUS>" if status else ""
    return (
        f"<DETECTION><UNIQUE_VULN_ID>9{qid}</UNIQUE_VULN_ID><QID>{qid}</QID><TYPE>{kind}</TYPE>"
        f"<SEVERITY>{severity}</SEVERITY>{port_xml}<SSL>0</SSL>"
        f"<RESULTS><![CDATA[result {qid} &quot;quoted&quot;\n  &lt;b&gt;]]></RESULTS>{status_xml}"
        f"<FIRST_FOUND_DATETIME>2025-12-01T08:00:00Z</FIRST_FOUND_DATETIME><LAST_FOUND_DATETIME>{found}"
        "</LAST_FOUND_DATETIME><TIMES_FOUND>3</TIMES_FOUND><LAST_TEST_DATETIME>2026-01-05T11:00:00Z"
        f"</LAST_TEST_DATETIME>{extra}<IS_IGNORED>0</IS_IGNORED><IS_DISABLED>0</IS_DISABLED></DETECTION>"
    )


def host(*detections: str, ip: str = "10.0.0.1", names: str | None = None, scanned: str = JAN) -> str:
    names = (
        names
        if names is not None
        else (
            "<DNS><![CDATA[web01]]></DNS><DNS_DATA><HOSTNAME><![CDATA[web01]]></HOSTNAME>"
            "<DOMAIN><![CDATA[example.com]]></DOMAIN><FQDN><![CDATA[web01.example.com]]></FQDN></DNS_DATA>"
            "<NETBIOS><![CDATA[WEB01]]></NETBIOS>"
        )
    )
    scanned_xml = (
        f"<LAST_SCAN_DATETIME>{scanned}</LAST_SCAN_DATETIME><LAST_VM_SCANNED_DATE>{scanned}</LAST_VM_SCANNED_DATE>"
        "<LAST_VM_SCANNED_DURATION>600</LAST_VM_SCANNED_DURATION>"
        if scanned
        else ""
    )
    ip_xml = f"<IP>{ip}</IP>" if ip else ""
    return (
        f"<HOST><ID>1234</ID>{ip_xml}<TRACKING_METHOD>IP</TRACKING_METHOD><OS><![CDATA[Ubuntu 22.04]]></OS>"
        f"{names}{scanned_xml}<DETECTION_LIST>{''.join(detections)}</DETECTION_LIST></HOST>"
    )


def output(*hosts: str, when: str = "2026-01-06T08:00:00Z", extra: str = "") -> str:
    date = f"<DATETIME>{when}</DATETIME>" if when else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n'
        '<!DOCTYPE HOST_LIST_VM_DETECTION_OUTPUT SYSTEM "https://qualysapi.qualys.com/api/2.0/fo/asset/host/vm/'
        'detection/dtd/output.dtd">\n'
        f"<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE>{date}<HOST_LIST>{''.join(hosts)}</HOST_LIST>{extra}"
        "</RESPONSE></HOST_LIST_VM_DETECTION_OUTPUT>\n<!-- CONFIDENTIAL AND PROPRIETARY INFORMATION. -->\n"
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def parse_with(path: Path, **kwargs: object) -> tuple[list[object], ParseContext]:
    ctx = ParseContext(str(path), **kwargs)  # type: ignore[arg-type]
    with path.open("rb") as f:
        return list(QualysVmdrParser().parse(f, ctx)), ctx


def parse(path: Path) -> list[object]:
    return parse_with(path)[0]


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[object]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


def test_detections_assets_and_coverage(tmp_path: Path) -> None:
    text = output(
        host(
            detection("38738", "4"),
            detection("11", "2", "Fixed", extra="<LAST_FIXED_DATETIME>2026-01-04T09:00:00Z</LAST_FIXED_DATETIME>"),
            detection("12", "3", "New", kind="Potential", port="", extra="<FQDN>www.example.com</FQDN>"),
            detection("13", "5", "Re-Opened", extra="<IS_IGNORED>1</IS_IGNORED>"),
            detection("14", "5", "Active", extra="<IS_DISABLED>1</IS_DISABLED>"),
            detection("15", "3", "Fixed", extra="<IS_IGNORED>1</IS_IGNORED>"),
            detection("6", "1", "", kind="Info", port=""),
        )
    )
    recs, ctx = parse_with(write(tmp_path / "d.xml", text))
    vuln, fixed, potential, ignored, disabled, fixed_ignored, info = findings(recs)
    w = vuln.weakness
    assert (w.tool, w.vuln_id, w.name, w.severity, w.cves, w.cvss3_score) == (
        "Qualys",
        "38738",
        "QID 38738",
        Severity.HIGH,
        (),
        None,
    )
    assert (vuln.location, vuln.status, vuln.observed_at, vuln.since) == (
        "22/tcp",
        FindingStatus.OPEN,
        dt.datetime(2026, 1, 5, 10),
        dt.datetime(2025, 12, 1, 8),
    )
    assert vuln.evidence == 'result 38738 "quoted"\n  <b>'  # Qualys' HTML escapes inside CDATA are undone
    a = vuln.asset
    assert (a.ip, a.fqdn, a.netbios, a.os, a.identifier) == (
        "10.0.0.1",
        "web01.example.com",  # DNS_DATA/FQDN before the short DNS name
        "WEB01",
        "Ubuntu 22.04",
        "web01.example.com",
    )
    assert (fixed.status, fixed.observed_at, fixed.since, fixed.weakness.severity) == (
        FindingStatus.FIXED,
        dt.datetime(2026, 1, 4, 9),
        None,
        Severity.LOW,
    )
    assert (potential.location, potential.status, potential.weakness.severity) == (
        "",
        FindingStatus.OPEN,
        Severity.MEDIUM,
    )
    assert potential.evidence == 'Potential vulnerability\nVirtual host: www.example.com\nresult 12 "quoted"\n  <b>'
    assert (ignored.status, disabled.status) == (FindingStatus.SET_ASIDE, FindingStatus.SET_ASIDE)
    assert fixed_ignored.status is FindingStatus.FIXED  # a fix is a fix, ignored or not
    assert (info.weakness.severity, info.status) == (Severity.INFO, FindingStatus.OPEN)
    (cov,) = coverage(recs)
    assert cov.asset is a and cov.checks is Checks.VULNERABILITY
    assert (cov.started_at, cov.ended_at) == (dt.datetime(2026, 1, 5, 10), dt.datetime(2026, 1, 5, 10, 10))
    scan = recs[-1]
    assert isinstance(scan, Scan) and scan.tool == "Qualys"
    # from the oldest record (the fix of QID 11) to the newest (the fix of QID 15, dated by its last test)
    assert (scan.started_at, scan.ended_at) == (dt.datetime(2026, 1, 4, 9), dt.datetime(2026, 1, 5, 11))
    assert ctx.report.warnings == []


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("5", Severity.CRITICAL), ("4", Severity.HIGH), ("3", Severity.MEDIUM), ("2", Severity.LOW), ("1", Severity.LOW)],
)
def test_qualys_severity_levels(tmp_path: Path, severity: str, expected: Severity) -> None:
    recs = parse(write(tmp_path / "d.xml", output(host(detection("11", severity)))))
    assert findings(recs)[0].weakness.severity is expected


def test_odd_detections_are_read_past_with_a_warning(tmp_path: Path) -> None:
    text = output(
        host(
            detection("x1"),
            detection("11", "9"),
            detection("12", status="Reviewing"),
            detection("13", status="Ignored"),
            detection("14", port="ssh"),
            detection("15", found="someday"),
        ),
        host(detection("16"), ip="", names="<DNS>No registered hostname</DNS>"),
        host(ip="", names="", scanned=""),
        extra="<WARNING><CODE>1980</CODE><TEXT>1000 record limit exceeded.</TEXT><URL>https://q/next</URL></WARNING>"
        "<DETECTION><QID>5</QID></DETECTION>",
    )
    recs, ctx = parse_with(write(tmp_path / "d.xml", text))
    assert [(f.weakness.vuln_id, f.weakness.severity, f.status, f.location) for f in findings(recs)] == [
        ("11", Severity.MEDIUM, FindingStatus.OPEN, "22/tcp"),
        ("12", Severity.MEDIUM, FindingStatus.OPEN, "22/tcp"),  # an unknown status never closes anything
        ("14", Severity.MEDIUM, FindingStatus.OPEN, ""),
        ("15", Severity.MEDIUM, FindingStatus.OPEN, "22/tcp"),
    ]
    assert findings(recs)[3].observed_at == dt.datetime(2025, 12, 1, 8)  # the first found date, warned
    assert ctx.report.skipped == 3
    assert ctx.report.warnings == [  # each detection's RESULTS holds a line break: one line each
        "host 10.0.0.1, QID x1 (line 3): no numeric QID; left out",
        "host 10.0.0.1, QID 11 (line 4): severity '9' not recognised; rated Moderate",
        "host 10.0.0.1, QID 12 (line 5): status 'Reviewing' not recognised; kept open",
        "host 10.0.0.1, QID 13 (line 6): status 'Ignored' sets the detection aside; left out",
        "host 10.0.0.1, QID 14 (line 7): port 'ssh' is not a number; no port",
        "host 10.0.0.1, QID 15 (line 8): date 'someday' not readable; dated '2025-12-01T08:00:00Z'",
        "host 1234, QID 16 (line 9): the host has no IP, DNS or NetBIOS name; left out",
        "host at line 10: no IP, DNS or NetBIOS name; not counted as scanned",
        "response: Qualys: 1980 1000 record limit exceeded.; this file is one page of the output (import every page)",
        "detection at line 10 (QID 5): outside a host's DETECTION_LIST; left out",
    ]
    assert [c.asset.ip for c in coverage(recs)] == ["10.0.0.1"]


def test_dates_fall_back_to_the_response_then_the_file_time(tmp_path: Path) -> None:
    bare = detection("11")
    for tag in ("FIRST_FOUND_DATETIME", "LAST_FOUND_DATETIME"):
        start, end = bare.index(f"<{tag}>"), bare.index(f"</{tag}>") + len(tag) + 3
        bare = bare[:start] + bare[end:]
    text = output(host(bare, scanned=""))
    recs, ctx = parse_with(write(tmp_path / "d.xml", text), file_time=dt.datetime(2026, 3, 3))
    (f,) = findings(recs)
    assert (f.observed_at, f.since) == (dt.datetime(2026, 1, 6, 8), None) and not ctx.report.used_file_time
    assert coverage(recs) == []  # the file does not say when the host was scanned
    recs, ctx = parse_with(write(tmp_path / "u.xml", output(host(bare), when="")), file_time=dt.datetime(2026, 3, 3))
    assert findings(recs)[0].observed_at == dt.datetime(2026, 3, 3) and ctx.report.used_file_time
    empty = output()
    recs, ctx = parse_with(write(tmp_path / "e.xml", empty), file_time=dt.datetime(2026, 3, 3))
    assert len(recs) == 1 and not ctx.report.used_file_time
    assert isinstance(recs[0], Scan) and recs[0].started_at == dt.datetime(2026, 1, 6, 8)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<SIMPLE_RETURN><RESPONSE/></SIMPLE_RETURN>", "not a Qualys host list detection output"),
        ("<HOST_LIST_VM_DETECTION_OUTPUT/>", "without a RESPONSE"),
        (output(host(detection()))[:-120], "not well-formed"),
    ],
)
def test_broken_structure_is_an_input_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path / "bad.xml", text))


# --- the real file of the corpus -------------------------------------------------------------------


@pytest.mark.corpus
def test_sniff_claims_exactly_the_detection_output() -> None:
    folder = corpus_dir("qualys_vmdr_detection_xml")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if QualysVmdrParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set(folder.iterdir())


@pytest.mark.corpus
def test_the_corpus_file_parses_to_the_independent_count() -> None:
    (path,) = sorted(corpus_dir("qualys_vmdr_detection_xml").iterdir())
    recs, ctx = parse_with(path)
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    expected: set[tuple[str, str, str]] = set()
    for host_el in tree.iter("HOST"):
        for d in host_el.iterfind("DETECTION_LIST/DETECTION"):
            where = f"{d.findtext('PORT')}/{d.findtext('PROTOCOL')}" if d.findtext("PORT") else ""
            expected.add((d.findtext("QID"), host_el.findtext("IP"), where))
    got = {(f.weakness.vuln_id, f.asset.ip or "", f.location) for f in findings(recs)}
    assert got == expected and len(findings(recs)) == 8
    # checked by hand: SEVERITY 2 for 11827, 15034, 15068; 3 for 38628, 38794, 38726 (Potential), 38739; 4 for 15033
    assert Counter(f.weakness.severity.value for f in findings(recs)) == {"low": 3, "medium": 4, "high": 1}
    assert all(f.status is FindingStatus.OPEN for f in findings(recs))  # STATUS Active or New, none ignored
    assert [(c.asset.fqdn, c.started_at) for c in coverage(recs)] == [
        ("one.one.one.one", dt.datetime(2023, 5, 16, 15, 26, 1)),
        ("ec2-11-111-111-111.compute-1.amazonaws.com", dt.datetime(2023, 3, 21, 3, 42, 5)),
    ]
    snooping = next(f for f in findings(recs) if f.weakness.vuln_id == "15033")
    assert snooping.evidence is not None and ";; ->>HEADER<<- opcode: QUERY" in snooping.evidence
    assert ctx.report.warning_count == 0


# --- end to end ----------------------------------------------------------------------------------


def items_by_key(engine: Engine) -> dict[str, list[tuple[str, ItemStatus]]]:
    with engine.begin() as conn:
        found = load(conn, systems.resolve(conn, None, "t").id, "all")
    out: dict[str, list[tuple[str, ItemStatus]]] = {}
    for i in sorted(found, key=lambda i: i.poam_id):
        out.setdefault(i.source_identifier, []).append((i.poam_id, i.status))
    return out


def fixed_on(qid: str, when: str, severity: str = "3") -> str:
    return detection(qid, severity, "Fixed", extra=f"<LAST_FIXED_DATETIME>{when}</LAST_FIXED_DATETIME>")


def test_fixed_detections_close_and_absence_closes_nothing(
    engine: Engine, register_parser: Register, tmp_path: Path
) -> None:
    register_parser(QualysVmdrParser())
    jan = output(host(detection("11"), detection("12", "4"), detection("13", "2")))
    r = import_file(engine, write(tmp_path / "jan.xml", jan))
    assert (r.format, r.items_opened, r.assets_covered, r.results) == ("qualys-vmdr-xml", 3, 1, 3)
    # February: an incremental pull lists only QID 11, now Fixed: 12 and 13 are not closed by their absence
    feb = output(host(fixed_on("11", "2026-02-05T10:00:00Z"), scanned="2026-02-05T10:00:00Z"))
    r = import_file(engine, write(tmp_path / "feb.xml", feb))
    assert (r.fixed_findings, r.items_closed) == (1, 1)
    # March: 12 ignored in Qualys (set aside: stays open); another host's Fixed 13 closes nothing here
    mar_scan = "2026-03-05T10:00:00Z"
    mar = output(
        host(detection("12", "4", extra="<IS_IGNORED>1</IS_IGNORED>", found=mar_scan), scanned=mar_scan),
        host(fixed_on("13", mar_scan, "2"), ip="10.0.0.9", names="<DNS>db01.example.com</DNS>", scanned=mar_scan),
    )
    r = import_file(engine, write(tmp_path / "mar.xml", mar))
    assert (r.fixed_findings, r.items_closed, r.set_aside) == (0, 0, 1)
    # April: QID 11 Re-Opened: a new item after the closed one
    apr_scan = "2026-04-05T10:00:00Z"
    apr = output(host(detection("11", status="Re-Opened", found=apr_scan), scanned=apr_scan))
    r = import_file(engine, write(tmp_path / "apr.xml", apr))
    assert r.opened_ids == ["V-4"]
    assert items_by_key(engine) == {
        "11": [("V-1", ItemStatus.CLOSED), ("V-4", ItemStatus.OPEN)],
        "12": [("V-2", ItemStatus.OPEN)],
        "13": [("V-3", ItemStatus.OPEN)],
    }


def test_a_detection_closes_what_a_qualys_scan_report_found(
    engine: Engine, register_parser: Register, tmp_path: Path
) -> None:
    """The same tool, QID, host and port as `qualys-vm-xml`: one finding across both formats."""
    register_parser(QualysVmXmlParser(), QualysVmdrParser())
    scan = (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE SCAN SYSTEM "https://qualysguard.qualys.com/scan-1.dtd">\n'
        f'<SCAN value="scan/1"><HEADER><KEY value="DATE">{JAN}</KEY><KEY value="STATUS">FINISHED</KEY></HEADER>'
        '<IP value="10.0.0.1" name="web01.example.com"><VULNS><CAT value="SSH" port="22" protocol="tcp">'
        '<VULN number="38738" severity="3"><TITLE>SSH weak ciphers</TITLE></VULN></CAT></VULNS></IP></SCAN>\n'
    )
    r = import_file(engine, write(tmp_path / "scan.xml", scan))
    assert (r.format, r.items_opened) == ("qualys-vm-xml", 1)
    r = import_file(engine, write(tmp_path / "det.xml", output(host(fixed_on("38738", "2026-02-01T00:00:00Z")))))
    assert (r.format, r.new_findings, r.fixed_findings, r.items_closed) == ("qualys-vmdr-xml", 0, 1, 1)


@pytest.mark.corpus
def test_corpus_file_imports_end_to_end(engine: Engine, register_parser: Register) -> None:
    register_parser(QualysVmdrParser())
    (path,) = sorted(corpus_dir("qualys_vmdr_detection_xml").iterdir())
    r = import_file(engine, path)
    assert (r.format, r.tool, r.results, r.assets_covered, r.items_opened, r.warnings) == (
        "qualys-vmdr-xml",
        "Qualys",
        8,
        2,
        8,
        0,
    )
