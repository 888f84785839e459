"""`poam deviation`: request, approve, reject, list and evidence through the command line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from poam.cli import cli
from tests.builders import Host, Item, write_nessus
from tests.services.test_import import JAN


def run(*args: str, user: str = "alice") -> Result:
    return CliRunner().invoke(cli, [*args], catch_exceptions=False, env={"POAM_USER": user, "POAM_SYSTEM": "cso"})


@pytest.fixture
def db(engine: Engine, db_url: str, tmp_path: Path) -> str:
    """A migrated database (SQLite, then PostgreSQL) with one system and V-1 (High) and V-2 (Moderate)."""
    scan = write_nessus(
        tmp_path / "jan.nessus",
        [Host("web", ip="10.0.0.5", start=JAN, items=[Item("100", cvss3=7.5), Item("200", cvss3=5.0)])],
    )
    assert run("system", "add", "cso", "--policy", "fedramp-rev5", "--db", db_url).exit_code == 0
    assert run("import", str(scan), "--db", db_url).exit_code == 0
    return db_url


def test_request_approve_list_show_and_evidence(db: str, tmp_path: Path) -> None:
    dr = tmp_path / "DR 7.pdf"
    dr.write_bytes(b"%PDF deviation request form")
    digest = hashlib.sha256(dr.read_bytes()).hexdigest()
    r = run(
        "deviation", "request", "V-1", "--type", "ra", "--rationale", "MFA", "--adjusted-risk", "moderate",
        "--evidence", str(dr), "--db", db,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "V-1: risk adjustment #1 requested (pending approval)" in r.stdout and digest in r.stdout
    r = run("deviation", "approve", "V-1", "--type", "ra", "--note", "ok", "--db", db, user="bob")
    assert r.exit_code == 0, r.stderr
    assert "adjusted risk rating Moderate" in r.stdout and "deadlines recomputed" in r.stdout
    listed = json.loads(run("deviation", "list", "--status", "approved", "--json", "--db", db).stdout)
    assert [(d["poam_id"], d["type"], d["requester"], d["approver"]) for d in listed] == [
        ("V-1", "risk-adjustment", "alice", "bob")
    ]
    assert run("deviation", "list", "--status", "pending", "--json", "--db", db).stdout.strip() == "[]"
    shown = json.loads(run("item", "show", "V-1", "--json", "--db", db).stdout)
    assert shown["deviations"][0]["evidence"] == [{"name": "DR 7.pdf", "sha256": digest, "size": dr.stat().st_size}]
    assert shown["supporting_documents"] == f"Deviation Request : DR 7.pdf ({digest[:12]})"
    out = tmp_path / "out"
    out.mkdir()
    r = run("deviation", "evidence", "V-1", "--type", "ra", "--out", str(out), "--db", db)
    assert r.exit_code == 0 and (out / "DR 7.pdf").read_bytes() == dr.read_bytes()


def test_refusals_exit_2_with_one_line(db: str, tmp_path: Path) -> None:
    assert run("deviation", "request", "V-2", "--type", "fp", "--rationale", "not loaded", "--db", db).exit_code == 0
    r = run("deviation", "approve", "V-2", "--type", "fp", "--db", db)  # alice asked: she cannot approve
    assert r.exit_code == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert "the requester cannot approve" in r.stderr
    missing = tmp_path / "nope.pdf"
    r = run("deviation", "request", "V-1", "--type", "ra", "--rationale", "x", "--adjusted-risk", "low",
            "--evidence", str(missing), "--db", db)  # fmt: skip
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "nope.pdf: no such file" in r.stderr
    r = run("deviation", "request", "V-2", "--type", "accepted", "--rationale", "x", "--db", db)
    assert r.exit_code == 2 and "fedramp-rev5" in r.stderr
    r = run("deviation", "request", "V-1", "--type", "or", "--rationale", "needed", "--db", db)
    assert r.exit_code == 2 and "rated High" in r.stderr
    r = run("deviation", "request", "V-1", "--type", "fp", "--rationale", "x", "--adjusted-risk", "low", "--db", db)
    assert r.exit_code == 2 and "--adjusted-risk is for a risk adjustment" in r.stderr
    r = run("deviation", "request", "V-2", "--type", "fp", "--rationale", "again", "--db", db)
    assert r.exit_code == 1 and "already has a pending false positive" in r.stderr
    r = run("deviation", "approve", "V-2", "--type", "fp", "--db", db, user="bob")
    assert r.exit_code == 0 and "V-2: closed on" in r.stdout
    r = run("deviation", "request", "V-2", "--type", "or", "--rationale", "x", "--db", db)
    assert r.exit_code == 1 and "V-2 is closed" in r.stderr
    listed = json.loads(run("deviation", "list", "--json", "--db", db).stdout)
    assert [(d["poam_id"], d["status"]) for d in listed] == [("V-2", "approved")]
