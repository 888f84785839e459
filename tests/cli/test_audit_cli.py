"""`poam audit verify [--head HASH] [--key FILE] [--json]` and `poam audit head`: exit 0 intact, 1 not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from poam.cli import cli
from poam.services import audit
from poam.store.db import open_db
from poam.store.tables import items
from tests.builders import Host, Item, write_nessus
from tests.services.test_import import JAN


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "poam.db")


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "audit.key"
    path.write_bytes(b"k" * 40)
    return path


def load(db: str, tmp_path: Path, key: Path | None = None) -> str:
    """Import a scan of two items (keyed when a key is given); returns the head hash."""
    hosts = [Host("web", ip="10.0.0.5", start=JAN, items=[Item("100"), Item("200")])]
    env = {audit.KEY_ENV: str(key)} if key else {audit.KEY_ENV: ""}
    assert run("import", str(write_nessus(tmp_path / "a.nessus", hosts)), "--db", db, env=env).exit_code == 0
    r = run("audit", "head", "--db", db, "--json")
    assert r.exit_code == 0
    return str(json.loads(r.stdout)["head"])


def tamper(db: str) -> None:
    engine = open_db(db)
    with engine.begin() as conn:
        conn.execute(update(items).where(items.c.poam_id == "V-2").values(remediation_plan="nothing to see"))
    engine.dispose()


def test_verify_intact_and_json(db: str, tmp_path: Path) -> None:
    head = load(db, tmp_path)
    r = run("audit", "verify", "--db", db, "--head", head)
    assert r.exit_code == 0 and "intact" in r.stdout and "including the given head" in r.stdout
    assert "2 items match" in r.stdout
    r = run("audit", "verify", "--db", db, "--json")
    data = json.loads(r.stdout)
    assert r.exit_code == 0 and data["intact"] is True and data["items_checked"] == 2 and data["item_problems"] == []
    assert data["authenticated_events"] == data["keyed_events"] == 0 and data["anchor_found"] is None


def test_verify_names_items_changed_without_an_event(db: str, tmp_path: Path) -> None:
    load(db, tmp_path)
    tamper(db)
    r = run("audit", "verify", "--db", db)
    assert r.exit_code == 1 and r.stdout == ""
    assert "1 of 2 items do not match it: item V-2 (system default) changed without an audit event" in r.stderr
    r = run("audit", "verify", "--db", db, "--json")
    data = json.loads(r.stdout)
    assert r.exit_code == 1 and data["intact"] is False
    assert data["item_problems"] == [
        {
            "system": "default",
            "poam_id": "V-2",
            "problem": "changed",
            "text": "item V-2 (system default) changed without an audit event",
        }
    ]


def test_verify_with_the_key(db: str, tmp_path: Path, key: Path) -> None:
    load(db, tmp_path, key)
    key_id = audit.load_key(key).key_id
    r = run("audit", "verify", "--db", db)
    assert r.exit_code == 0 and "keyed events checked for linkage only, not authenticated (give --key FILE)" in r.stdout
    r = run("audit", "verify", "--db", db, "--key", str(key))
    assert r.exit_code == 0 and f"authenticated with key {key_id}" in r.stdout
    assert key.read_bytes().decode() not in r.stdout + r.stderr  # the key itself is never printed
    other = tmp_path / "other.key"
    other.write_bytes(b"o" * 32)
    r = run("audit", "verify", "--db", db, "--key", str(other), "--json")
    data = json.loads(r.stdout)
    assert r.exit_code == 1 and data["broken_event"] == 1 and "another key" in data["broken_reason"]


def test_verify_key_on_an_unkeyed_log_fails(db: str, tmp_path: Path, key: Path) -> None:
    load(db, tmp_path)
    r = run("audit", "verify", "--db", db, "--key", str(key))
    assert r.exit_code == 1 and audit.NO_KEYED_EVENT in r.stderr


def test_a_bad_key_file_is_one_line(db: str, tmp_path: Path) -> None:
    load(db, tmp_path)
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 10)
    r = run("audit", "verify", "--db", db, "--key", str(short))
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and "holds 10 bytes" in r.stderr
    hosts = [Host("db", ip="10.0.0.6", start=JAN, items=[Item("300")])]
    r = run("import", str(write_nessus(tmp_path / "b.nessus", hosts)), "--db", db, env={audit.KEY_ENV: str(short)})
    assert r.exit_code != 0 and "holds 10 bytes" in r.stderr


def test_verify_head_not_in_the_chain(db: str, tmp_path: Path) -> None:
    load(db, tmp_path)
    r = run("audit", "verify", "--db", db, "--head", "a" * 64)
    assert r.exit_code == 1 and "does not hold the head" in r.stderr
    r = run("audit", "verify", "--db", db, "--head", "xyz")
    assert r.exit_code == 2


def test_audit_seal_after_a_direct_edit_is_on_record(db: str, tmp_path: Path) -> None:
    load(db, tmp_path)
    engine = open_db(db)
    with engine.begin() as conn:  # an edit made outside poam
        conn.execute(update(items).where(items.c.poam_id == "V-1").values(comments="edited by hand"))
    engine.dispose()
    assert run("audit", "verify", "--db", db).exit_code == 1
    r = run("audit", "seal", "--json", "--user", "isso", "--db", db)
    assert r.exit_code == 0 and json.loads(r.stdout) == {"items_sealed": 1}
    assert run("audit", "verify", "--db", db).exit_code == 0
