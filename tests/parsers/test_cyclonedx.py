"""The CycloneDX parser (JSON and XML, 1.2-1.6, vulnerability extension) on hand-written BOMs and
on the real files of the corpus."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.cyclonedx import CycloneDxParser
from poam.parsers.registry import read_head
from poam.parsers.sca import purl_name
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir
from tests.parsers.test_stig_ckl import detected, run_with_context
from tests.parsers.test_trivy import only_input_errors

SBOM_ONLY = {"defectdojo__cyclonedx__cyclonedx_bom.xml", "defectdojo__cyclonedx__retirejs.latest.xml"}


def write(tmp_path: Path, doc: Any, name: str = "bom.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def parse(path: Path, asset: str | None = None) -> list[Any]:
    with path.open("rb") as f:
        return list(CycloneDxParser().parse(f, ParseContext(str(path), asset_name=asset)))


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[Any]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


def bom(vulns: list[Any] | None, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "metadata": {
            "timestamp": "2026-01-05T10:00:00Z",
            "tools": {"components": [{"type": "application", "name": "trivy", "version": "0.50.1"}]},
            "component": {"bom-ref": "root", "type": "container", "name": "ghcr.io/acme/web:1.2"},
        },
        "components": [
            {
                "bom-ref": "pkg:deb/debian/openssl@3.0.1",
                "type": "library",
                "name": "openssl",
                "version": "3.0.1",
                "purl": "pkg:deb/debian/openssl@3.0.1",
                "components": [{"bom-ref": "inner", "type": "library", "name": "libssl3", "version": "3.0.1"}],
            },
        ],
        **extra,
    }
    if vulns is not None:
        doc["vulnerabilities"] = vulns
    return doc


def test_json_vulnerabilities_per_affected_component(tmp_path: Path) -> None:
    vuln = {
        "id": "CVE-2024-0001",
        "source": {"name": "debian"},
        "ratings": [
            {
                "source": {"name": "nvd"},
                "score": 9.8,
                "severity": "critical",
                "method": "CVSSv31",
                "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            },
            {"source": {"name": "debian"}, "severity": "low"},
            {"source": {"name": "nvd"}, "score": 5.0, "method": "CVSSv2", "vector": "AV:N/AC:L/Au:N/C:P/I:N/A:N"},
        ],
        "cwes": [79],
        "description": "Bad TLS",
        "recommendation": "Upgrade openssl",
        "advisories": [{"url": "https://example.com/a"}],
        "affects": [
            {"ref": "pkg:deb/debian/openssl@3.0.1"},
            {"ref": "inner"},
            {"ref": "pkg:npm/%40acme/left-pad@1.0.0"},
        ],
    }
    records = parse(write(tmp_path, bom([vuln])))
    (cov,) = coverage(records)
    assert (cov.asset.kind, cov.asset.name, cov.checks) == (
        AssetKind.CONTAINER_IMAGE,
        "ghcr.io/acme/web",
        Checks.VULNERABILITY,
    )
    got = {f.path: f for f in findings(records)}
    assert set(got) == {"openssl", "libssl3", "left-pad"}  # nested component found; an unknown purl by its name
    f = got["openssl"]
    assert "3.0.1" in (f.evidence or "") and "pkg:deb/debian/openssl@3.0.1" in (f.evidence or "")
    assert f.observed_at == dt.datetime(2026, 1, 5, 10, 0)
    w = f.weakness
    assert (w.tool, w.vuln_id, w.severity) == ("trivy", "CVE-2024-0001", Severity.LOW)  # the source's own rating
    assert (w.cvss3_score, w.cvss2_score, w.cwes, w.solution) == (9.8, 5.0, ("79",), "Upgrade openssl")
    assert w.cves == ("CVE-2024-0001",) and w.see_also == "https://example.com/a"
    scan = records[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.tool_version) == ("trivy", "0.50.1")


def test_vex_states_and_severity_fallbacks(tmp_path: Path) -> None:
    affects = [{"ref": "pkg:deb/debian/openssl@3.0.1"}]
    vulns = [
        {
            "id": "CVE-1",
            "analysis": {"state": "not_affected", "justification": "code_not_reachable"},
            "affects": affects,
        },
        {
            "id": "CVE-2",
            "analysis": {"state": "exploitable"},
            "affects": affects,
            "ratings": [{"score": 7.5, "method": "CVSSv3", "vector": "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
        },
        {"id": "CVE-3", "analysis": {"state": "resolved"}, "affects": affects},
        {"id": "CVE-4", "affects": affects, "ratings": [{"severity": "unknown"}, {"severity": "medium"}]},
        {"id": "SNYK-5", "references": [{"id": "CVE-2024-5555"}]},
        {"source": {"name": "no id"}},
    ]
    got = {f.weakness.vuln_id: f for f in findings(parse(write(tmp_path, bom(vulns))))}
    assert got["CVE-1"].status is FindingStatus.FIXED and "code_not_reachable" in (got["CVE-1"].evidence or "")
    assert got["CVE-2"].status is FindingStatus.OPEN and got["CVE-2"].weakness.severity is Severity.HIGH
    assert got["CVE-2"].weakness.cvss3_vector == "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
    assert got["CVE-3"].status is FindingStatus.FIXED
    assert got["CVE-4"].weakness.severity is Severity.MEDIUM
    assert got["SNYK-5"].path is None and got["SNYK-5"].weakness.cves == ("CVE-2024-5555",)
    assert got["CVE-3"].weakness.severity is Severity.LOW  # no rating at all: never dropped as informational
    assert len(got) == 5


def test_sbom_without_vulnerabilities_is_refused_but_an_empty_list_is_a_clean_scan(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="SBOM without vulnerabilities: nothing to import"):
        parse(write(tmp_path, bom(None)))
    records = parse(write(tmp_path, bom([]), "empty.json"))
    assert findings(records) == [] and [c.asset.name for c in coverage(records)] == ["ghcr.io/acme/web"]


def test_subject_fallbacks_and_vex_only_boms(tmp_path: Path) -> None:
    plain = bom([{"id": "CVE-1", "affects": [{"ref": "inner"}]}])
    plain["metadata"] = {"tools": [{"vendor": "anchore", "name": "grype", "version": "0.74"}]}
    records = parse(write(tmp_path, plain))
    assert coverage(records) == [] and findings(records)[0].asset.name == "unnamed"
    assert findings(records)[0].weakness.tool == "grype"
    named = parse(write(tmp_path, plain), asset="github.com/acme/app")
    assert [(c.asset.kind, c.asset.name) for c in coverage(named)] == [(AssetKind.REPOSITORY, "github.com/acme/app")]
    app = bom([])
    app["metadata"]["component"] = {"type": "application", "group": "com.acme", "name": "api", "version": "2.0"}
    app["metadata"]["tools"] = []
    records = parse(write(tmp_path, app, "app.json"))
    assert [c.asset.name for c in coverage(records)] == ["com.acme:api"] and records[-1].tool == "CycloneDX"
    vex = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.4",
        "vulnerabilities": [{"id": "CVE-1", "analysis": {"state": "false_positive"}, "affects": [{"ref": "x"}]}],
    }
    records = parse(write(tmp_path, vex, "vex.json"), asset="github.com/acme/app")
    assert coverage(records) == []  # no components: a VEX statement, not a scan
    assert findings(records)[0].status is FindingStatus.SET_ASIDE  # a false-positive claim is not a fix


XML_14 = """<?xml version="1.0"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.4" version="1">
  <metadata><timestamp>2026-01-05T10:00:00Z</timestamp>
    <tools><tool><vendor>anchore</vendor><name>grype</name><version>0.41.0</version></tool></tools>
    <component type="application"><name>shop</name></component></metadata>
  <components>
    <component type="library" bom-ref="c1"><name>log4j-core</name><version>2.13.2</version>
      <components><component type="library" bom-ref="c2"><name>log4j-api</name><version>2.13.2</version></component>
      </components></component>
  </components>
  <vulnerabilities>
    <vulnerability bom-ref="v1"><id>CVE-2021-44228</id><source><name>nvd</name></source>
      <ratings><rating><source><name>nvd</name></source><score>10.0</score><severity>critical</severity>
        <method>CVSSv31</method><vector>CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H</vector></rating></ratings>
      <cwes><cwe>502</cwe></cwes><description>Log4Shell</description>
      <analysis><state>in_triage</state></analysis>
      <affects><target><ref>c1</ref></target><target><ref>c2</ref></target></affects>
    </vulnerability>
  </vulnerabilities>
</bom>"""

XML_EXT = """<?xml version="1.0"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.2" xmlns:v="http://cyclonedx.org/schema/ext/vulnerability/1.0">
  <metadata><component type="container"><name>acme/web:7</name></component></metadata>
  <components>
    <component type="library"><name>apt</name><version>1.8</version>
      <v:vulnerabilities><v:vulnerability ref="urn:uuid:1"><v:id>CVE-2011-3374</v:id>
        <v:source name="debian"><v:url>https://example.com/1</v:url></v:source>
        <v:ratings><v:rating><v:score><v:base>4.3</v:base></v:score><v:severity>Low</v:severity>
          <v:method>CVSSv2</v:method><v:vector>AV:N/AC:M/Au:N/C:N/I:P/A:N</v:vector></v:rating></v:ratings>
        <v:recommendations><v:recommendation>Upgrade</v:recommendation></v:recommendations>
      </v:vulnerability></v:vulnerabilities>
    </component>
    <component type="library" bom-ref="pkg:maven/a/b@1"><name>b</name><version>1</version></component>
  </components>
  <v:vulnerabilities>
    <v:vulnerability ref="pkg:maven/a/b@1"><v:id>CVE-2018-7489</v:id></v:vulnerability>
  </v:vulnerabilities>
</bom>"""


def test_xml_14_and_the_vulnerability_extension(tmp_path: Path) -> None:
    records = parse(write(tmp_path, XML_14, "a.xml"))
    (cov,) = coverage(records)
    assert (cov.asset.kind, cov.asset.name, cov.started_at) == (
        AssetKind.REPOSITORY,
        "shop",
        dt.datetime(2026, 1, 5, 10),
    )
    got = {f.path: f for f in findings(records)}
    assert set(got) == {"log4j-core", "log4j-api"}
    w = got["log4j-core"].weakness
    assert (w.tool, w.severity, w.cvss3_score, w.cwes, w.description) == (
        "grype",
        Severity.CRITICAL,
        10.0,
        ("502",),
        "Log4Shell",
    )
    records = parse(write(tmp_path, XML_EXT, "b.xml"))
    assert [c.asset.name for c in coverage(records)] == ["acme/web"]
    got = {f.weakness.vuln_id: f for f in findings(records)}
    apt = got["CVE-2011-3374"]
    assert apt.path == "apt" and (apt.weakness.cvss2_score, apt.weakness.severity) == (4.3, Severity.LOW)
    assert apt.weakness.solution == "Upgrade" and apt.weakness.family == "debian"
    assert got["CVE-2018-7489"].path == "b"
    sbom = XML_EXT.replace(' xmlns:v="http://cyclonedx.org/schema/ext/vulnerability/1.0"', "")
    sbom = sbom[: sbom.index("<components>")] + "<components/></bom>"
    with pytest.raises(InputError, match="SBOM without vulnerabilities"):
        parse(write(tmp_path, sbom, "c.xml"))
    declared = XML_EXT[: XML_EXT.index("<components>")] + "<components/></bom>"
    assert findings(parse(write(tmp_path, declared, "d.xml"))) == []  # the extension in use: a clean result


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"bomFormat": "SPDX", "vulnerabilities": []}', "not a CycloneDX JSON BOM"),
        ('{"bomFormat": "CycloneDX", "vulnerabilities": {}}', "vulnerabilities is a dict"),
        ('{"bomFormat": "CycloneDX", "components": 5, "vulnerabilities": []}', "components is a int"),
        ('<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components>', "not well-formed XML"),
        ('<!DOCTYPE bom [<!ENTITY x "y">]><bom xmlns="http://cyclonedx.org/schema/bom/1.4"/>', "entity declarations"),
        ("<other/>", "no <bom> root"),
    ],
)
def test_bad_input_is_an_input_error(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, content, "bad.txt"))


def test_odd_vulnerabilities_are_read_past_with_a_warning(tmp_path: Path) -> None:
    affects = [{"ref": "pkg:deb/debian/openssl@3.0.1"}]
    vulns = [
        {"id": "CVE-1", "affects": affects, "analysis": {"state": "pondering"}},
        {"id": "CVE-2", "affects": affects, "analysis": {"state": "suppressed"}},
        {"id": "CVE-3", "affects": affects, "ratings": [{"severity": "severe", "score": 7.5, "method": "CVSSv31"}]},
        {"id": "CVE-4", "affects": affects, "analysis": {"state": "in_triage"}, "ratings": [{"severity": "high"}]},
    ]
    records, ctx = run_with_context(CycloneDxParser(), write(tmp_path, bom(vulns)))
    got = {f.weakness.vuln_id: (f.status, f.weakness.severity) for f in findings(records)}
    assert got == {
        "CVE-1": (FindingStatus.OPEN, Severity.LOW),
        "CVE-2": (FindingStatus.SET_ASIDE, Severity.LOW),  # never opens nor closes a finding
        "CVE-3": (FindingStatus.OPEN, Severity.HIGH),
        "CVE-4": (FindingStatus.OPEN, Severity.HIGH),
    }
    assert ctx.report.warnings == [
        "vulnerability 1 (CVE-1): analysis state 'pondering' not recognised; kept open",
        "vulnerability 2 (CVE-2): analysis state 'suppressed' is not a CycloneDX state; read as set aside",
        "vulnerability 3 (CVE-3): severity 'severe' not recognised; rated high",
    ]
    assert [c.asset.name for c in coverage(records)] == ["ghcr.io/acme/web"]  # every vulnerability was read


def test_an_unreadable_vulnerability_leaves_the_bom_without_coverage(tmp_path: Path) -> None:
    """A vulnerability poam cannot identify is left out; the BOM then closes nothing by absence."""
    affects = [{"ref": "pkg:deb/debian/openssl@3.0.1"}]
    vulns = [{"id": "CVE-1", "affects": affects}, {"source": {"name": "no id"}}, 5, {"id": "X" * 201}]
    records, ctx = run_with_context(CycloneDxParser(), write(tmp_path, bom(vulns)))
    assert [f.weakness.vuln_id for f in findings(records)] == ["CVE-1"] and coverage(records) == []
    assert ctx.report.warnings == [
        "vulnerability 2: no id; left out",
        "vulnerability 3: not an object; left out",
        "vulnerability 4 (" + "X" * 60 + "): id longer than 200 characters; left out",
    ]


def test_several_boms_in_one_file(tmp_path: Path) -> None:
    """BOMs written one after another, or one per line: each its own subject and time, one scan."""
    web = bom([{"id": "CVE-1", "affects": [{"ref": "inner"}]}])
    api = bom([{"id": "CVE-2", "affects": [{"ref": "inner"}]}])
    api["metadata"]["component"]["name"] = "ghcr.io/acme/api:7"
    api["metadata"]["timestamp"] = "2026-01-06T10:00:00.5Z"
    sbom = bom(None)
    for text in (
        json.dumps(web, indent=2) + json.dumps(api, indent=2) + json.dumps(sbom),
        json.dumps(web) + "\n" + json.dumps(api) + "\n" + json.dumps(sbom) + "\n",
    ):
        path = write(tmp_path, text)
        with path.open("rb") as f:
            assert CycloneDxParser().sniff(read_head(f))
        assert detected(path) == "cyclonedx"
        records, ctx = run_with_context(CycloneDxParser(), path)
        assert [(f.weakness.vuln_id, f.asset.name, f.observed_at) for f in findings(records)] == [
            ("CVE-1", "ghcr.io/acme/web", dt.datetime(2026, 1, 5, 10)),
            ("CVE-2", "ghcr.io/acme/api", dt.datetime(2026, 1, 6, 10, 0, 0, 500000)),
        ]
        assert [c.asset.name for c in coverage(records)] == ["ghcr.io/acme/web", "ghcr.io/acme/api"]
        assert ctx.report.warnings == ["document 3: an SBOM without vulnerabilities; left out"]
        scan = records[-1]
        assert isinstance(scan, Scan) and (scan.tool, scan.started_at, scan.ended_at) == (
            "trivy",
            dt.datetime(2026, 1, 5, 10),
            dt.datetime(2026, 1, 6, 10, 0, 0, 500000),
        )
    with pytest.raises(InputError, match="SBOM without vulnerabilities: nothing to import"):
        parse(write(tmp_path, json.dumps(sbom) + json.dumps(sbom)))
    with pytest.raises(InputError, match="document 2: not a CycloneDX JSON BOM"):
        parse(write(tmp_path, json.dumps(web) + "[]"))


def test_an_undated_bom_takes_the_file_time(tmp_path: Path) -> None:
    mtime = dt.datetime(2026, 2, 3, 4, 5, 6)
    undated = bom([{"id": "CVE-1", "affects": [{"ref": "inner"}]}])
    del undated["metadata"]["timestamp"]
    records, ctx = run_with_context(CycloneDxParser(), write(tmp_path, undated), file_time=mtime)
    assert [f.observed_at for f in findings(records)] == [mtime] and ctx.report.used_file_time
    assert [(c.started_at, c.ended_at) for c in coverage(records)] == [(mtime, mtime)]
    dated = bom([{"id": "CVE-1", "affects": [{"ref": "inner"}]}])
    records, ctx = run_with_context(CycloneDxParser(), write(tmp_path, dated), file_time=mtime)
    assert [f.observed_at for f in findings(records)] == [dt.datetime(2026, 1, 5, 10)]
    assert not ctx.report.used_file_time


def test_odd_values_do_not_crash(tmp_path: Path) -> None:
    odd = {
        "bomFormat": "CycloneDX",
        "metadata": {"tools": "x", "component": [], "timestamp": 5},
        "components": [None, {"name": 3, "components": None}],
        "vulnerabilities": [
            None,
            {
                "id": "CVE-1",
                "ratings": [None, {"score": "x", "method": 5}],
                "affects": "x",
                "cwes": ["x"],
                "analysis": [],
            },
        ],
    }
    (f,) = findings(parse(write(tmp_path, odd)))
    assert f.weakness.severity is Severity.LOW and f.path is None  # unrated


# --- the real CycloneDX files of the corpus --------------------------------------------------

ASSETS = {
    "dd_1_15_0.xml": "defectdojo/defectdojo-django",
    "grype.xml": "defectdojo/defectdojo-django",
    "issue_9277.json": "library/ubuntu",
    "log4j.json": "./configuration/.m2/repository/org/apache/logging/log4j/log4j-core/2.13.2",
    "log4j.xml": "./configuration/.m2/repository/org/apache/logging/log4j/log4j-core/2.13.2",
    "nested-component-log4j.json": "./configuration/.m2/repository/org/apache/logging/log4j/log4j-core/2.13.2",
}


def _json_expected(doc: dict[str, Any]) -> set[tuple[str, str | None]]:
    names: dict[str, str] = {}
    stack = list(doc.get("components") or [])
    while stack:
        c = stack.pop()
        names[c.get("bom-ref") or c.get("purl") or ""] = c["name"]
        stack.extend(c.get("components") or [])
    out: set[tuple[str, str | None]] = set()
    for v in doc["vulnerabilities"]:
        for a in v.get("affects") or [{"ref": None}]:
            ref = a["ref"]
            out.add((v["id"], names.get(ref) or (purl_name(ref) if ref else None)))
    return out


def _xml_expected(path: Path) -> set[tuple[str, str | None]]:
    tree: Any = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    names = {}
    for c in tree.xpath("//*[local-name()='components']/*[local-name()='component']"):
        name = c.xpath("string(*[local-name()='name'])")
        for key in (c.get("bom-ref"), c.xpath("string(*[local-name()='purl'])")):
            if key:
                names[key] = name
    out: set[tuple[str, str | None]] = set()
    v: Any
    for v in tree.xpath("//*[local-name()='vulnerability']"):
        vid = v.xpath("string(*[local-name()='id'])")
        holder = v.getparent().getparent()
        if etree.QName(holder).localname == "component":
            out.add((vid, holder.xpath("string(*[local-name()='name'])")))
            continue
        refs = v.xpath("*[local-name()='affects']/*/*[local-name()='ref']/text()") + (
            [v.get("ref")] if v.get("ref") else []
        )
        for ref in refs or [None]:
            out.add((vid, names.get(ref) or (purl_name(ref) if ref else None)))
    return out


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("cyclonedx").iterdir())


@pytest.mark.corpus
def test_every_corpus_file_matches_an_independent_count() -> None:
    files = corpus_files()
    assert len(files) >= 15
    for path in files:
        if path.name in SBOM_ONLY:
            with pytest.raises(InputError, match="SBOM without vulnerabilities"):
                parse(path)
            continue
        records = parse(path)
        expected = _json_expected(json.loads(path.read_text())) if path.suffix == ".json" else _xml_expected(path)
        got = {(f.weakness.vuln_id, f.path) for f in findings(records)}
        assert got == expected, path.name
        assert len(findings(records)) == len(expected), path.name
        short = path.name.removeprefix("defectdojo__cyclonedx__")
        names = {f.asset.name for f in findings(records)} | {c.asset.name for c in coverage(records)}
        assert names <= {ASSETS.get(short, "unnamed")}, short
        assert len(coverage(records)) == (1 if short in ASSETS else 0), short
        assert isinstance(records[-1], Scan)


@pytest.mark.corpus
def test_corpus_vex_and_tools() -> None:
    folder = corpus_dir("cyclonedx")
    for name in ("issue_8022.json", "valid-vulnerability-1.4.json", "valid-vulnerability-1.4.xml"):
        (f,) = findings(parse(folder / f"defectdojo__cyclonedx__{name}"))
        assert f.status is FindingStatus.FIXED and f.weakness.cves == ("CVE-2018-7489",), name
    recs = parse(folder / "defectdojo__cyclonedx__issue_9277.json")
    assert records_tool(recs) == ("trivy", "0.48.1")
    assert records_tool(parse(folder / "defectdojo__cyclonedx__dd_1_15_0.xml")) == ("grype", "0.11.0")
    (f,) = findings(parse(folder / "defectdojo__cyclonedx__no-severity.json"))
    assert f.weakness.severity is Severity.CRITICAL  # from the CVSS score: the file gives no severity word
    assert findings(parse(folder / "defectdojo__cyclonedx__jake.xml")) == []


@pytest.mark.corpus
def test_corpus_vex_states_by_an_independent_count() -> None:
    """Vulnerabilities whose analysis state is a VEX conclusion are fixed; false_positive ones set
    aside (the corpus holds none: checked with grep); counted from the raw text."""
    state = re.compile(r'"state"\s*:\s*"(\w+)"|<state>\s*(\w+)\s*</state>')
    for path in corpus_files():
        if path.name in SBOM_ONLY:
            continue
        words = [a or b for a, b in state.findall(path.read_text())]
        found = findings(parse(path))
        fixed = {f.weakness.vuln_id for f in found if f.status is FindingStatus.FIXED}
        aside = {f.weakness.vuln_id for f in found if f.status is FindingStatus.SET_ASIDE}
        assert len(fixed) == sum(w in ("not_affected", "resolved", "resolved_with_pedigree") for w in words), path.name
        assert len(aside) == words.count("false_positive"), path.name


def records_tool(records: list[Any]) -> tuple[str, str | None]:
    scan = records[-1]
    return scan.tool, scan.tool_version


def test_sniff_claims_exactly_the_cyclonedx_folder() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus absent")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if CycloneDxParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set(corpus_files())


# --- end to end ------------------------------------------------------------------------------


def test_import_end_to_end_and_a_later_scan_fixes(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(CycloneDxParser())
    affects = [{"ref": "pkg:deb/debian/openssl@3.0.1"}]
    jan = bom(
        [
            {"id": "CVE-1", "affects": affects, "ratings": [{"severity": "high"}]},
            {"id": "CVE-2", "affects": [{"ref": "inner"}], "ratings": [{"severity": "critical"}]},
        ]
    )
    feb = bom([{"id": "CVE-2", "affects": [{"ref": "inner"}], "ratings": [{"severity": "critical"}]}])
    feb["metadata"]["timestamp"] = "2026-02-05T10:00:00Z"
    r = import_file(engine, write(tmp_path, jan, "jan.json"))
    assert (r.format, r.tool, r.assets_covered, r.items_opened) == ("cyclonedx", "trivy", 1, 2)
    r = import_file(engine, write(tmp_path, feb, "feb.json"))
    assert (r.fixed_findings, r.items_closed) == (1, 1)
    with engine.begin() as conn:
        items = {i.source_identifier: i for i in load(conn, systems.resolve(conn, None, "t").id, "all")}
    assert items["CVE-1"].status.value == "closed"
    assert [a.text for a in items["CVE-2"].assets] == ["ghcr.io/acme/web (libssl3)"]


@pytest.mark.corpus
def test_corpus_file_imports(engine: Engine, register_parser: Any) -> None:
    register_parser(CycloneDxParser())
    path = corpus_dir("cyclonedx") / "defectdojo__cyclonedx__log4j.xml"
    r = import_file(engine, path)
    assert (r.assets_covered, r.results, r.items_opened) == (1, 8, 8)
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert {i.detector_source for i in items} == {"grype"}
    assert {a.text.rsplit(" ", 1)[-1] for i in items for a in i.assets} == {"(log4j-core)"}
    with pytest.raises(InputError, match="SBOM without vulnerabilities"):
        import_file(engine, corpus_dir("cyclonedx") / "defectdojo__cyclonedx__cyclonedx_bom.xml")


@pytest.mark.corpus
def test_mutated_corpus_files_give_input_errors_or_records() -> None:
    only_input_errors(CycloneDxParser(), "cyclonedx")


@pytest.mark.corpus
def test_mutated_corpus_xml_gives_input_errors_or_records() -> None:
    rnd = random.Random(7)
    for path in sorted(corpus_dir("cyclonedx").glob("*.xml")):
        base = etree.parse(str(path))
        for n in range(30):
            root = etree.fromstring(etree.tostring(base))
            elements = list(root.iter())
            for _ in range(4):
                el = rnd.choice(elements)
                parent = el.getparent()
                if rnd.random() < 0.4 and parent is not None:
                    parent.remove(el)
                else:
                    el.text = rnd.choice(["", "x", "-1", "1e309", "CVSSv3", "not_affected"])
                    el.set(rnd.choice(["ref", "bom-ref", "type"]), rnd.choice(["", "pkg:", "container"]))
            try:
                list(CycloneDxParser().parse(io.BytesIO(etree.tostring(root)), ParseContext(path.name)))
            except InputError:
                pass
            except Exception as exc:  # pragma: no cover - the failure message names the case
                pytest.fail(f"{path.name} mutation {n}: {type(exc).__name__}: {exc}")


# --- review fix: a false-positive claim is set aside, never a fix ----------------------------------


def test_vex_conclusions_close_and_a_false_positive_claim_is_set_aside(tmp_path: Path) -> None:
    affects = [{"ref": "pkg:deb/debian/openssl@3.0.1"}]
    states = ["not_affected", "resolved", "resolved_with_pedigree", "false_positive", "exploitable", "in_triage"]
    vulns = [{"id": f"CVE-{n}", "affects": affects, "analysis": {"state": s}} for n, s in enumerate(states)]
    records, ctx = run_with_context(CycloneDxParser(), write(tmp_path, bom(vulns)))
    assert [f.status for f in findings(records)] == [
        FindingStatus.FIXED,
        FindingStatus.FIXED,
        FindingStatus.FIXED,
        FindingStatus.SET_ASIDE,
        FindingStatus.OPEN,
        FindingStatus.OPEN,
    ]
    assert ctx.report.warnings == []  # every state is one CycloneDX defines
    assert "analysis: state false_positive" in (findings(records)[3].evidence or "")


def test_a_false_positive_claim_keeps_the_finding_open(engine: Engine, tmp_path: Path) -> None:
    """A person must approve a false-positive claim (a deviation): the BOM still lists the
    vulnerability, so a covering BOM neither closes it nor opens a new one from it."""
    affects = [{"ref": "pkg:deb/debian/openssl@3.0.1"}]
    jan = import_file(engine, write(tmp_path, bom([{"id": "CVE-1", "affects": affects}]), "jan.json"))
    assert (jan.assets_covered, jan.items_opened) == (1, 1)
    claimed = [
        {"id": "CVE-1", "affects": affects, "analysis": {"state": "false_positive"}},
        {"id": "CVE-2", "affects": affects, "analysis": {"state": "false_positive"}},
    ]
    feb_bom = bom(claimed)
    feb_bom["metadata"]["timestamp"] = "2026-02-05T10:00:00Z"
    feb = import_file(engine, write(tmp_path, feb_bom, "feb.json"))
    assert (feb.assets_covered, feb.set_aside, feb.fixed_findings, feb.items_closed) == (1, 2, 0, 0)
    assert (feb.new_findings, feb.items_opened) == (0, 0)
    with engine.begin() as conn:
        (item,) = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert (item.source_identifier, item.status.value) == ("CVE-1", "open")
