"""The Nessus v2 parser on hand-written files and on the real files of the corpus."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from poam.domain.models import Coverage, Finding, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.nessus import NessusParser
from tests.builders import Host, Item, write_nessus
from tests.conftest import corpus_dir


def parse(path: Path) -> list[object]:
    with path.open("rb") as f:
        return list(NessusParser().parse(f, ParseContext(str(path))))


def test_fields_of_a_report_item(tmp_path: Path) -> None:
    host = Host(
        "web01",
        ip="10.0.0.5",
        fqdn="web01.example.com",
        netbios="WEB01",
        mac="00:11:22:33:44:55",
        items=[
            Item(
                "12345",
                port=443,
                severity=3,
                name="Bad TLS",
                cvss3=7.5,
                cvss2=5.0,
                cves=("CVE-2024-0001", "CVE-2024-0002"),
                output="found it",
            )
        ],
    )
    records = parse(write_nessus(tmp_path / "a.nessus", [host]))
    cov = [r for r in records if isinstance(r, Coverage)]
    found = [r for r in records if isinstance(r, Finding)]
    info = [r for r in records if isinstance(r, Scan)]
    assert len(cov) == 1 and cov[0].asset.fqdn == "web01.example.com"
    assert cov[0].started_at == dt.datetime(2026, 1, 5, 10, 0)
    (f,) = found
    assert (f.weakness.vuln_id, f.weakness.name, f.weakness.severity) == ("12345", "Bad TLS", Severity.HIGH)
    assert (f.port, f.protocol, f.service, f.evidence) == (443, "tcp", "www", "found it")
    assert f.weakness.cves == ("CVE-2024-0001", "CVE-2024-0002")
    assert (f.weakness.cvss3_score, f.weakness.cvss2_score) == (7.5, 5.0)
    assert (f.asset.ip, f.asset.netbios, f.asset.mac) == ("10.0.0.5", "WEB01", "00:11:22:33:44:55")
    assert info[0].tool == "Nessus" and info[0].name == "Test Policy"
    assert info[0].started_at == dt.datetime(2026, 1, 5, 10, 0)
    assert info[0].ended_at == dt.datetime(2026, 1, 5, 10, 30)


def test_score_computed_from_vector_when_missing(tmp_path: Path) -> None:
    p = tmp_path / "v.nessus"
    p.write_text(
        '<NessusClientData_v2><Report name="r"><ReportHost name="10.0.0.1"><HostProperties>'
        '<tag name="HOST_START_TIMESTAMP">1767607200</tag></HostProperties>'
        '<ReportItem port="22" protocol="tcp" severity="2" pluginID="1" pluginName="x" pluginFamily="f">'
        "<cvss3_vector>CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H</cvss3_vector>"
        "<cvss_vector>CVSS2#AV:N/AC:L/Au:N/C:P/I:N/A:N</cvss_vector></ReportItem>"
        "</ReportHost></Report></NessusClientData_v2>"
    )
    (f,) = [r for r in parse(p) if isinstance(r, Finding)]
    assert f.weakness.cvss3_score == 9.8
    assert f.weakness.cvss2_vector == "AV:N/AC:L/Au:N/C:P/I:N/A:N" and f.weakness.cvss2_score == 5.0
    assert f.observed_at == dt.datetime(2026, 1, 5, 10, 0)  # from the epoch tag, as UTC


def test_host_without_time_needs_scan_date(tmp_path: Path) -> None:
    p = write_nessus(tmp_path / "t.nessus", [Host("h1", ip="10.0.0.1", start=None, items=[Item("1")])])
    with pytest.raises(InputError, match="HOST_START"):
        parse(p)
    with p.open("rb") as f:
        when = dt.datetime(2026, 5, 1)
        recs = list(NessusParser().parse(f, ParseContext(str(p), scan_date=when)))
    assert [r.observed_at for r in recs if isinstance(r, Finding)] == [when]


def test_truncated_file_is_an_input_error(tmp_path: Path) -> None:
    text = (write_nessus(tmp_path / "x", [Host("h", ip="10.0.0.1", items=[Item("1")] * 3)])).read_text()
    p = tmp_path / "cut.nessus"
    p.write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="not well-formed XML"):
        parse(p)


# --- the real Nessus files of the corpus -------------------------------------------------------


def _independent_count(path: Path) -> tuple[dict[str, set[str]], set[str]]:
    """Plugin id -> asset identifiers for non-informational results, and all host names, read with
    plain lxml parsing (a different code path from the streaming parser)."""
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    plugins: dict[str, set[str]] = {}
    hosts = set()
    for host in tree.iter("ReportHost"):
        props = {t.get("name"): (t.text or "").strip() for t in host.iter("tag")}
        ident = props.get("host-fqdn") or props.get("host-ip") or host.get("name")
        hosts.add(ident)
        for item in host.iter("ReportItem"):
            if item.get("severity") != "0":
                port = item.get("port")
                loc = f" ({port}/{item.get('protocol')})" if port and port != "0" else ""
                plugins.setdefault(item.get("pluginID"), set()).add(ident + loc)
    return plugins, hosts


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("nessus_xml").iterdir())


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = corpus_files()
    assert len(files) >= 4
    for path in files:
        records = parse(path)
        expected, hosts = _independent_count(path)
        findings = [r for r in records if isinstance(r, Finding) and r.weakness.severity is not Severity.INFO]
        got: dict[str, set[str]] = {}
        for f in findings:
            loc = f" ({f.location})" if f.location else ""
            got.setdefault(f.weakness.vuln_id, set()).add(f.asset.identifier + loc)
        assert got == expected, path.name
        assert {c.asset.identifier for c in records if isinstance(c, Coverage)} == hosts, path.name
        assert isinstance(records[-1], Scan) and records[-1].started_at is not None


@pytest.mark.corpus
def test_corpus_cvss3_file_keeps_scores_and_cves() -> None:
    path = corpus_dir("nessus_xml") / "defectdojo__tenable__nessus_with_cvssv3.nessus"
    findings = [r for r in parse(path) if isinstance(r, Finding)]
    tree = etree.parse(str(path))
    v3_plugins = {i.get("pluginID") for i in tree.iter("ReportItem") if i.find("cvss3_base_score") is not None}
    assert {f.weakness.vuln_id for f in findings if f.weakness.cvss3_score is not None} == v3_plugins
    assert len(v3_plugins) >= 8
    assert sum(len(f.weakness.cves) for f in findings) == len(list(tree.iter("cve")))
    info = next(r for r in parse(path) if isinstance(r, Scan))
    assert info.tool_version == "10.1.1"


def test_credentialed_status_from_the_scan_information_plugin(tmp_path: Path) -> None:
    info = Item("19506", port=0, severity=0, output="Nessus version : 10.8.3\nCredentialed checks : yes, as 'root'")
    recs = parse(write_nessus(tmp_path / "c.nessus", [Host("h", ip="10.0.0.1", items=[info, Item("1")])]))
    covs = [r for r in recs if isinstance(r, Coverage)]
    assert [c.authenticated for c in covs] == [None, True]
    assert next(r for r in recs if isinstance(r, Scan)).tool_version == "10.8.3"
    tagged = parse(write_nessus(tmp_path / "t.nessus", [Host("h", ip="10.0.0.1", credentialed=False, items=[info])]))
    assert [c.authenticated for c in tagged if isinstance(c, Coverage)] == [False]  # the host tag wins
