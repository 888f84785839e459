"""Coverage-aware reconciliation across formats: a scan closes only findings of its own tool, on
the assets (and kinds of checks) it covered; and one host seen by two scanners is one asset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from poam.domain.models import ItemStatus
from poam.services.importer import import_file
from poam.store.tables import assets
from tests.builders import Host, Item, write_nessus
from tests.services.test_import import FEB, JAN, items_of


def zap(path: Path, site: str, alerts: list[tuple[str, str]], generated: str) -> Path:
    items = "".join(
        f"<alertitem><pluginid>{pid}</pluginid><alertRef>{pid}</alertRef><alert>Alert {pid}</alert>"
        f"<name>Alert {pid}</name><riskcode>2</riskcode><confidence>2</confidence><riskdesc>Medium (Medium)"
        f"</riskdesc><desc>d</desc><instances><instance><uri>{site}{page}</uri><method>GET</method>"
        f"</instance></instances><count>1</count><solution>s</solution></alertitem>"
        for pid, page in alerts
    )
    host = site.split("://")[1]
    path.write_text(
        f'<?xml version="1.0"?><OWASPZAPReport programName="ZAP" version="2.14.0" generated="{generated}">'
        f'<site name="{site}" host="{host}" port="443" ssl="true"><alerts>{items}</alerts></site>'
        "</OWASPZAPReport>"
    )
    return path


def trivy(path: Path, image: str, vulns: list[tuple[str, str]], created: str) -> Path:
    doc: dict[str, Any] = {
        "SchemaVersion": 2,
        "CreatedAt": created,
        "ArtifactName": image,
        "ArtifactType": "container_image",
        "Metadata": {"RepoTags": [image]},
        "Results": [
            {
                "Target": f"{image} (debian 12)",
                "Class": "os-pkgs",
                "Type": "debian",
                "Vulnerabilities": [
                    {"VulnerabilityID": v, "PkgName": p, "InstalledVersion": "1.0", "Severity": "HIGH", "Title": v}
                    for v, p in vulns
                ],
            }
        ],
    }
    path.write_text(json.dumps(doc))
    return path


def test_a_web_scan_never_closes_infrastructure_findings(engine: Engine, tmp_path: Path) -> None:
    host = Host("app.example.com", ip="10.0.0.5", fqdn="app.example.com", start=JAN, items=[Item("100", severity=3)])
    import_file(engine, write_nessus(tmp_path / "n.nessus", [host]))
    import_file(engine, zap(tmp_path / "z1.xml", "https://app.example.com", [("10020", "/")], "2026-01-06T10:00:00"))
    r = import_file(engine, zap(tmp_path / "z2.xml", "https://app.example.com", [], "2026-02-06T10:00:00"))
    assert r.closed_ids == ["V-2"]  # the ZAP finding is fixed; the Nessus one is not ZAP's to close
    items = items_of(engine)
    assert items["V-1"].status is ItemStatus.OPEN  # type: ignore[attr-defined]
    assert [a.text for a in items["V-2"].assets] == ["https://app.example.com/"]  # type: ignore[attr-defined]


def test_an_image_scan_covers_only_its_image(engine: Engine, tmp_path: Path) -> None:
    import_file(
        engine,
        trivy(tmp_path / "a1.json", "ghcr.io/acme/web:1.0", [("CVE-2024-0001", "openssl")], "2026-01-05T10:00:00Z"),
    )
    import_file(
        engine,
        trivy(tmp_path / "b1.json", "ghcr.io/acme/api:2.0", [("CVE-2024-0001", "openssl")], "2026-01-05T11:00:00Z"),
    )
    r = import_file(engine, trivy(tmp_path / "a2.json", "ghcr.io/acme/web:1.1", [], "2026-02-05T10:00:00Z"))
    assert r.fixed_findings == 1 and r.closed_ids == []
    (item,) = items_of(engine).values()
    assert [a.text for a in item.assets] == ["ghcr.io/acme/api (openssl)"]  # type: ignore[attr-defined]


def test_the_same_host_seen_by_two_scanners_is_one_asset(engine: Engine, tmp_path: Path) -> None:
    host = Host("web01", ip="10.0.0.5", fqdn="web01.example.com", start=JAN, items=[Item("100", severity=3)])
    import_file(engine, write_nessus(tmp_path / "n.nessus", [host]))
    csv = tmp_path / "pt.csv"
    csv.write_text(
        "detector,weakness_id,weakness_name,severity,asset,detected\n"
        "Pen Test,PT-1,Weak password,high,10.0.0.5,2026-01-09\n"
    )
    import_file(engine, csv)
    with engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(assets)).scalar_one() == 1
    assert [a.text for a in items_of(engine)["V-2"].assets] == ["web01.example.com"]  # type: ignore[attr-defined]


def test_a_vulnerability_scan_never_closes_configuration_findings(engine: Engine, tmp_path: Path) -> None:
    host = Host("web01", ip="10.0.0.5", start=JAN, items=[Item("100", severity=3)])
    import_file(engine, write_nessus(tmp_path / "n.nessus", [host]))
    xml = write_nessus(tmp_path / "c.nessus", [Host("web01", ip="10.0.0.5", start=JAN)]).read_text()
    compliance = (
        '<ReportItem port="0" svc_name="general" protocol="tcp" severity="3" pluginID="21156" '
        'pluginName="Unix Compliance Checks" pluginFamily="Policy Compliance">'
        "<cm:compliance-check-name>1.1 Ensure password policy</cm:compliance-check-name>"
        "<cm:compliance-check-id>abc123</cm:compliance-check-id>"
        "<cm:compliance-result>FAILED</cm:compliance-result></ReportItem>"
    )
    xml = xml.replace("<NessusClientData_v2>", '<NessusClientData_v2 xmlns:cm="http://www.nessus.org/cm">')
    xml = xml.replace("</HostProperties>", "</HostProperties>" + compliance)
    (tmp_path / "c.nessus").write_text(xml)
    import_file(engine, tmp_path / "c.nessus")
    items = items_of(engine)
    assert items["V-2"].is_config and items["V-2"].controls == ("CM-6",)  # type: ignore[attr-defined]
    # February: a vulnerability scan (no compliance results) of the same host, showing plugin 100 fixed
    r = import_file(engine, write_nessus(tmp_path / "f.nessus", [Host("web01", ip="10.0.0.5", start=FEB)]))
    assert r.closed_ids == ["V-1"]
    assert items_of(engine)["V-2"].status is ItemStatus.OPEN  # type: ignore[attr-defined]
