"""The Nmap XML parser on hand-written files and on the real files of the corpus: coverage only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import Engine

from poam.domain.models import Coverage, Finding, ItemStatus, Scan
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.nmap import NmapXmlParser
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.builders import Host, Item, write_nessus
from tests.conftest import CORPUS, corpus_dir

START = 1767607200  # 2026-01-05 10:00:00 UTC


def host(state: str = "up", addresses: str = "", names: str = "", extra: str = "", times: bool = True) -> str:
    when = f' starttime="{START + 5}" endtime="{START + 65}"' if times else ""
    return (
        f'<host{when}><status state="{state}" reason="syn-ack"/>{addresses}<hostnames>{names}</hostnames>{extra}</host>'
    )


def nmaprun(*hosts: str, scanner: str = "nmap", finished: bool = True) -> str:
    end = f'<runstats><finished time="{START + 120}" exit="success"/></runstats>' if finished else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n'
        '<?xml-stylesheet href="file:///usr/share/nmap/nmap.xsl" type="text/xsl"?>\n'
        f'<nmaprun scanner="{scanner}" args="nmap -sV --script-args pass=secret 10.0.0.0/24" start="{START}" '
        f'version="7.95" xmloutputversion="1.05">\n<hosthint><status state="up"/>'
        '<address addr="10.9.9.9" addrtype="ipv4"/></hosthint>\n' + "\n".join(hosts) + f"\n{end}</nmaprun>\n"
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def parse(path: Path, ctx: ParseContext | None = None) -> list[object]:
    with path.open("rb") as f:
        return list(NmapXmlParser().parse(f, ctx or ParseContext(str(path))))


def coverage(records: list[object]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


VULNERS = (
    '<ports><port protocol="tcp" portid="22"><state state="open"/><service name="ssh" product="OpenSSH" '
    'version="7.4"/><script id="vulners" output="CVE-2018-15919 5.0"><table key="cpe:/a:openbsd:openssh:7.4">'
    '<table><elem key="id">CVE-2018-15919</elem><elem key="cvss">5.0</elem></table></table></script></port></ports>'
)


def test_hosts_that_are_up_become_coverage_with_their_identifiers(tmp_path: Path) -> None:
    full = host(
        addresses='<address addr="10.0.0.5" addrtype="ipv4"/><address addr="00:11:22:AA:BB:CC" addrtype="mac" '
        'vendor="Acme"/>',
        names='<hostname name="web.example.com" type="user"/><hostname name="web01.corp.example.com." type="PTR"/>',
        extra='<os><osmatch name="Linux 4.15 - 5.8" accuracy="95"/><osmatch name="Linux 5.0 - 5.14" accuracy="98"/>'
        '<osmatch name="Other" accuracy="98"/></os>' + VULNERS,
    )
    v6 = host(
        addresses='<address addr="2001:db8::7" addrtype="ipv6"/>', names='<hostname name="v6.example.com" type="user"/>'
    )
    down = host("down", addresses='<address addr="10.0.0.6" addrtype="ipv4"/>')
    records = parse(write(tmp_path, "n.xml", nmaprun(full, v6, down)))
    assert not [r for r in records if isinstance(r, Finding)]  # vulners output is not a finding
    a, b = coverage(records)
    assert (a.asset.ip, a.asset.fqdn, a.asset.mac, a.asset.os) == (
        "10.0.0.5",
        "web01.corp.example.com",
        "00:11:22:AA:BB:CC",
        "Linux 5.0 - 5.14",
    )
    assert a.started_at == dt.datetime(2026, 1, 5, 10, 0, 5) and a.ended_at == dt.datetime(2026, 1, 5, 10, 1, 5)
    assert a.authenticated is None
    assert (b.asset.ip, b.asset.fqdn, b.asset.mac, b.asset.os) == ("2001:db8::7", "v6.example.com", None, None)
    scan = records[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.tool_version, scan.name) == ("Nmap", "7.95", None)
    assert scan.started_at == dt.datetime(2026, 1, 5, 10, 0) and scan.ended_at == dt.datetime(2026, 1, 5, 10, 2)
    assert not NmapXmlParser.closes_by_coverage


def test_host_details_that_are_missing(tmp_path: Path) -> None:
    ping = host(addresses='<address addr="10.0.0.8" addrtype="ipv4"/>', times=False)  # nmap -sn: no host times
    nameless = host(addresses="", names='<hostname name="10.0.0.9" type="user"/>')  # an IP is not a host name
    no_status = '<host><address addr="10.0.0.10" addrtype="ipv4"/></host>'
    p = write(tmp_path, "n.xml", nmaprun(ping, nameless, no_status, finished=False))
    ctx = ParseContext(str(p))
    records = parse(p, ctx)
    (c,) = coverage(records)
    assert c.asset.ip == "10.0.0.8" and c.asset.fqdn is None and c.started_at == dt.datetime(2026, 1, 5, 10, 0)
    scan = records[-1]
    assert isinstance(scan, Scan) and scan.ended_at == scan.started_at
    assert ctx.report.skipped == 1 and ctx.report.warnings == [
        "host 2 (line 7): up, but no address or host name; left out",
        "host 3 (line 8): no <status>; not taken as up",
    ]


def test_a_run_without_times_takes_the_file_time(tmp_path: Path) -> None:
    ping = host(addresses='<address addr="10.0.0.8" addrtype="ipv4"/>', times=False)
    undated = nmaprun(ping, finished=False).replace(f' start="{START}"', "")
    p = write(tmp_path, "u.xml", undated)
    ctx = ParseContext(str(p), file_time=dt.datetime(2026, 3, 3))
    (c,) = coverage(parse(p, ctx))
    assert c.started_at == dt.datetime(2026, 3, 3) and ctx.report.used_file_time
    p = write(tmp_path, "d.xml", nmaprun(ping))
    ctx = ParseContext(str(p), file_time=dt.datetime(2026, 3, 3))
    (c,) = coverage(parse(p, ctx))
    assert c.started_at == dt.datetime(2026, 1, 5, 10) and not ctx.report.used_file_time
    down = write(tmp_path, "n.xml", nmaprun(host("down", times=False), finished=False).replace(f' start="{START}"', ""))
    ctx = ParseContext(str(down), file_time=dt.datetime(2026, 3, 3))
    assert len(parse(down, ctx)) == 1 and not ctx.report.used_file_time  # nothing needed a date


def test_masscan_is_not_nmap(tmp_path: Path) -> None:
    p = write(
        tmp_path, "m.xml", nmaprun(host(addresses='<address addr="10.0.0.1" addrtype="ipv4"/>'), scanner="masscan")
    )
    with p.open("rb") as f:
        assert not NmapXmlParser().sniff(read_head(f))
    with pytest.raises(InputError, match="written by 'masscan', not by Nmap"):
        parse(p)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (nmaprun(host(addresses='<address addr="10.0.0.1" addrtype="ipv4"/>'))[:-40], "not well-formed XML"),
        ('<scan><host><status state="up"/></host></scan>', "no nmaprun root"),
        ("<other/>", "no nmaprun root"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, "bad.xml", text))


def test_comment_before_the_declaration(tmp_path: Path) -> None:
    text = "<!--\nSPDX-License-Identifier: Apache-2.0\n-->\n\n" + nmaprun(
        host(addresses='<address addr="10.0.0.1" addrtype="ipv4"/>')
    )
    p = write(tmp_path, "c.xml", text)
    with p.open("rb") as f:
        assert NmapXmlParser().sniff(read_head(f))
    assert [c.asset.ip for c in coverage(parse(p))] == ["10.0.0.1"]


# --- the real Nmap files of the corpus ---------------------------------------------------------


def _independent_count(path: Path) -> tuple[set[str], int]:
    """The addresses of hosts that are up, and the number of `<host>` elements, with plain lxml."""
    data = path.read_bytes()
    data = data[data.find(b"<?xml") :]  # a comment before the declaration (secureCodeBox)
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    up = set()
    hosts = root.findall("host")
    for h in hosts:
        if h.find("status").get("state") == "up":
            up.add(h.find("address").get("addr"))
    return up, len(hosts)


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = sorted(corpus_dir("nmap_xml").iterdir())
    assert len(files) >= 8
    for path in files:
        records = parse(path)
        up, _total = _independent_count(path)
        assert {c.asset.ip for c in coverage(records)} == up, path.name
        assert len(coverage(records)) == len(up), path.name
        assert not [r for r in records if isinstance(r, Finding)], path.name
        scan = records[-1]
        assert isinstance(scan, Scan) and scan.tool == "Nmap" and scan.started_at is not None, path.name


@pytest.mark.corpus
def test_corpus_host_names() -> None:
    folder = corpus_dir("nmap_xml")
    names = {c.asset.ip: c.asset.fqdn for c in coverage(parse(folder / "defectdojo__nmap__issue12411.xml"))}
    assert names == {"172.217.18.238": "par10s10-in-f238.1e100.net", "54.239.28.85": "amazon.com"}
    (c,) = coverage(parse(folder / "securecodebox__service-scan.xml"))  # not the <hosthint>
    assert c.asset.ip == "10.50.0.2" and c.started_at == dt.datetime(2025, 9, 4, 14, 7, 31)
    (v,) = coverage(parse(folder / "defectdojo__nmap__nmap_script_vulners.xml"))
    assert v.asset.ip == "192.168.0.1" and v.asset.fqdn is None


@pytest.mark.corpus
def test_sniff_claims_exactly_its_folder() -> None:
    corpus_dir("nmap_xml")
    for path in sorted(CORPUS.glob("*/*")):
        if path.is_file():
            with path.open("rb") as f:
                assert NmapXmlParser().sniff(read_head(f)) is (path.parent.name == "nmap_xml"), path


# --- end to end --------------------------------------------------------------------------------


def test_an_nmap_scan_covers_hosts_and_fixes_nothing(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(NmapXmlParser())
    jan = dt.datetime(2026, 1, 5, 9, 0)
    nessus = write_nessus(
        tmp_path / "jan.nessus", [Host("10.0.0.5", ip="10.0.0.5", start=jan, items=[Item("100", severity=3)])]
    )
    import_file(engine, nessus)
    up = host(addresses='<address addr="10.0.0.5" addrtype="ipv4"/>', extra=VULNERS)
    other = host(addresses='<address addr="10.0.0.6" addrtype="ipv4"/>')
    r = import_file(engine, write(tmp_path, "feb.xml", nmaprun(up, other, host("down"))))
    assert (r.format, r.tool, r.results, r.assets_covered, r.fixed_findings, r.items_opened) == (
        "nmap-xml",
        "Nmap",
        0,
        2,
        0,
        0,
    )
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert [(i.source_identifier, i.status) for i in items] == [("100", ItemStatus.OPEN)]


@pytest.mark.corpus
def test_corpus_files_import_end_to_end(engine: Engine, register_parser: Any) -> None:
    register_parser(NmapXmlParser())
    for n, path in enumerate(sorted(corpus_dir("nmap_xml").iterdir())):
        name = f"n{n}"
        systems.add_system(engine, name, "test")
        result = import_file(engine, path, system=name)
        up, _total = _independent_count(path)
        assert (result.results, result.items_opened, result.assets_covered) == (0, 0, len(up)), path.name
        with engine.begin() as conn:
            assert load(conn, systems.resolve(conn, name, "t").id, "all") == []
