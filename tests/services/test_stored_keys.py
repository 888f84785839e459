"""Scanner text is cleaned (NUL dropped, cut to column size) before it becomes a finding's key, so
that what is looked up is what was stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from poam.services.importer import import_file
from poam.store.tables import findings, weaknesses
from tests.builders import CSV_HEADER, write_csv

DATES = ("2026-01-05", "2026-02-05", "2026-03-05")


def trivy(path: Path, vuln: str, package: str, created: str) -> Path:
    doc = {
        "SchemaVersion": 2,
        "CreatedAt": created,
        "ArtifactName": "ghcr.io/acme/web:1.0",
        "ArtifactType": "container_image",
        "Metadata": {"RepoTags": ["ghcr.io/acme/web:1.0"]},
        "Results": [
            {
                "Target": "x (debian 12)",
                "Class": "os-pkgs",
                "Type": "debian",
                "Vulnerabilities": [
                    {"VulnerabilityID": vuln, "PkgName": package, "InstalledVersion": "1.0", "Severity": "HIGH"}
                ],
            }
        ],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.begin() as conn:
        q = select(findings.c.path, findings.c.status, weaknesses.c.vuln_id, weaknesses.c.tool).join(weaknesses)
        return [tuple(r) for r in conn.execute(q.order_by(findings.c.id))]


def test_a_package_name_with_nul_is_one_finding_across_imports(engine: Engine, tmp_path: Path) -> None:
    for d in DATES:
        r = import_file(engine, trivy(tmp_path / f"{d}.json", "CVE-2024-0001", "open\x00ssl", d + "T10:00:00Z"))
        assert r.new_findings == (1 if d == DATES[0] else 0)
    assert rows(engine) == [("openssl", "open", "CVE-2024-0001", "Trivy")]


def test_a_vulnerability_id_with_nul_imports(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, trivy(tmp_path / "t.json", "CVE-2024-0002\x00", "openssl", "2026-01-05T10:00:00Z"))
    assert rows(engine) == [("openssl", "open", "CVE-2024-0002", "Trivy")]


HEADER = [*CSV_HEADER, "path"]


def csv_row(detected: str, status: str = "open", **extra: str) -> dict[str, str]:
    row = {
        "detector": "Pen Test",
        "weakness_id": "PT-1",
        "weakness_name": "Weak TLS",
        "severity": "high",
        "asset": "10.0.0.5",
        "port": "443",
        "detected": detected,
        "status": status,
    }
    return {**row, **extra}


@pytest.mark.parametrize(
    "extra",
    [
        {"protocol": "tcp-over-quic-experi"},
        {"protocol": "tcp-over-quic-experimental-x"},
        {"path": "/lo\x00gin", "port": ""},
    ],
    ids=["protocol-at-limit", "protocol-over-limit", "nul-in-path"],
)
def test_a_retest_finds_the_same_finding(engine: Engine, tmp_path: Path, extra: dict[str, str]) -> None:
    new = [
        import_file(engine, write_csv(tmp_path / f"{d}.csv", [csv_row(d, **extra)], HEADER)).new_findings for d in DATES
    ]
    assert new == [1, 0, 0]
    assert len(rows(engine)) == 1


def test_a_retest_marks_an_over_long_protocol_finding_fixed(engine: Engine, tmp_path: Path) -> None:
    proto = {"protocol": "tcp-over-quic-experimental-x"}
    import_file(engine, write_csv(tmp_path / "jan.csv", [csv_row(DATES[0], **proto)], HEADER))
    r = import_file(engine, write_csv(tmp_path / "feb.csv", [csv_row(DATES[1], "fixed", **proto)], HEADER))
    assert (r.new_findings, r.fixed_findings, r.closed_ids) == (0, 1, ["V-1"])


@pytest.mark.parametrize("field", ["weakness_id", "detector"])
def test_nul_in_a_key_column_imports(engine: Engine, tmp_path: Path, field: str) -> None:
    row = csv_row(DATES[0])
    row[field] = row[field][:2] + "\x00" + row[field][2:]
    import_file(engine, write_csv(tmp_path / "r.csv", [row], HEADER))
    import_file(engine, write_csv(tmp_path / "r2.csv", [{**row, "detected": DATES[1]}], HEADER))
    assert rows(engine) == [(None, "open", "PT-1", "Pen Test")]
