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


FILE_TIME = dt.datetime(2026, 2, 1, 8, 30)


def parse_ctx(path: Path, scan_date: dt.datetime | None = None) -> tuple[list[object], ParseContext]:
    ctx = ParseContext(str(path), scan_date=scan_date, file_time=FILE_TIME)
    with path.open("rb") as f:
        return list(NessusParser().parse(f, ctx)), ctx


def test_host_without_time_takes_the_file_time(tmp_path: Path) -> None:
    # once refused (asking for --scan-date); now one rule for every format: the file's mtime
    p = write_nessus(tmp_path / "t.nessus", [Host("h1", ip="10.0.0.1", start=None, items=[Item("1")])])
    records, ctx = parse_ctx(p)
    assert [r.observed_at for r in records if isinstance(r, Finding)] == [FILE_TIME]
    assert [(c.started_at, c.ended_at) for c in records if isinstance(c, Coverage)] == [(FILE_TIME, FILE_TIME)]
    assert ctx.report.used_file_time and not ctx.report.warnings
    when = dt.datetime(2026, 5, 1)
    records, ctx = parse_ctx(p, scan_date=when)  # --scan-date wins, and it is no file time
    assert [r.observed_at for r in records if isinstance(r, Finding)] == [when]
    assert not ctx.report.used_file_time


def test_a_dated_file_does_not_use_the_file_time(tmp_path: Path) -> None:
    p = write_nessus(tmp_path / "d.nessus", [Host("h1", ip="10.0.0.1", items=[Item("1")])])
    records, ctx = parse_ctx(p)
    assert [r.observed_at for r in records if isinstance(r, Finding)] == [dt.datetime(2026, 1, 5, 10)]
    assert not ctx.report.used_file_time


def test_host_without_host_properties_takes_the_file_time(tmp_path: Path) -> None:
    p = tmp_path / "bare.nessus"
    p.write_text(
        '<NessusClientData_v2><Report name="r"><ReportHost name="10.0.0.9">'
        '<ReportItem port="22" protocol="tcp" severity="2" pluginID="7" pluginName="x" pluginFamily="f"/>'
        "</ReportHost></Report></NessusClientData_v2>"
    )
    records, ctx = parse_ctx(p)
    (f,) = [r for r in records if isinstance(r, Finding)]
    assert (f.asset.ip, f.observed_at, f.location) == ("10.0.0.9", FILE_TIME, "22/tcp")
    assert ctx.report.used_file_time


def test_unreadable_host_start_is_warned_and_the_end_used(tmp_path: Path) -> None:
    p = tmp_path / "u.nessus"
    p.write_text(
        '<NessusClientData_v2><Report name="r"><ReportHost name="10.0.0.9"><HostProperties>'
        '<tag name="HOST_START">sometime</tag><tag name="HOST_END">Mon Jan 5 10:30:00 2026</tag>'
        '</HostProperties><ReportItem port="22" protocol="tcp" severity="2" pluginID="7" pluginName="x"/>'
        "</ReportHost></Report></NessusClientData_v2>"
    )
    records, ctx = parse_ctx(p)
    assert [r.observed_at for r in records if isinstance(r, Finding)] == [dt.datetime(2026, 1, 5, 10, 30)]
    assert ctx.report.warnings == ["host '10.0.0.9': HOST_START 'sometime' is not a date; not used"]
    assert not ctx.report.used_file_time


def _odd_items(tmp_path: Path, items: str) -> Path:
    p = tmp_path / "odd.nessus"
    p.write_text(
        '<NessusClientData_v2><Report name="r"><ReportHost name="10.0.0.9"><HostProperties>'
        '<tag name="HOST_START_TIMESTAMP">1767607200</tag></HostProperties>'
        f'{items}<ReportItem port="443" protocol="tcp" severity="3" pluginID="2" pluginName="ok"/>'
        "</ReportHost></Report></NessusClientData_v2>"
    )
    return p


def test_odd_values_are_warned_and_the_other_items_import(tmp_path: Path) -> None:
    items = (
        '<ReportItem port="http" protocol="tcp" severity="2" pluginID="10" pluginName="odd port"/>'
        '<ReportItem port="80" protocol="tcp" severity="9" pluginID="11" pluginName="odd severity"/>'
        '<ReportItem port="81" protocol="tcp" severity="9" pluginID="11" pluginName="odd severity"/>'
        '<ReportItem port="82" protocol="tcp" severity="9" pluginID="12" pluginName="risk factor">'
        "<risk_factor>High</risk_factor></ReportItem>"
        '<ReportItem port="83" protocol="tcp" severity="1" pluginName="no id"/>'
    )
    records, ctx = parse_ctx(_odd_items(tmp_path, items))
    found = [r for r in records if isinstance(r, Finding)]
    assert [(f.weakness.vuln_id, f.location, f.weakness.severity) for f in found] == [
        ("10", "", Severity.MEDIUM),  # no port
        ("11", "80/tcp", Severity.MEDIUM),  # severity 9: rated Moderate
        ("11", "81/tcp", Severity.MEDIUM),
        ("12", "82/tcp", Severity.HIGH),  # severity 9 but a known risk factor: no warning
        ("2", "443/tcp", Severity.HIGH),
    ]
    assert ctx.report.warnings == [
        "plugin 10 on host '10.0.0.9' (line 1): port 'http' is not a number; no port",
        "plugin 11 on host '10.0.0.9' (line 1): severity '9' not recognised; rated Moderate",
        "plugin 11 on host '10.0.0.9' (line 1): severity '9' not recognised; rated Moderate",
        "ReportItem on host '10.0.0.9' (line 1): no pluginID; left out",
    ]
    assert (ctx.report.warning_count, ctx.report.skipped) == (4, 1)


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
