"""Asset exposure and criticality (issue 8): set by a person or by the inventory's public-facing
column; an asset nobody classified is `unknown`, whatever its address (BOD 26-04)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from poam.cli import cli
from poam.errors import UsageError
from poam.services import exposure, inventory
from poam.services.importer import import_file
from poam.store.tables import audit_events
from tests.builders import Host, Item, write_nessus
from tests.services.test_import import JAN


def scanned(engine: Engine, tmp_path: Path) -> None:
    hosts = [
        Host("web01", ip="203.0.113.10", fqdn="web01.example.com", start=JAN, items=[Item("100")]),
        Host("db01", ip="10.0.0.2", fqdn="db01.example.com", start=JAN, items=[Item("100")]),
    ]
    import_file(engine, write_nessus(tmp_path / "jan.nessus", hosts), parallel=False)


def test_an_asset_nobody_classified_is_unknown_whatever_its_address(engine: Engine, tmp_path: Path) -> None:
    scanned(engine, tmp_path)
    shown = {a.fqdn: (a.exposure, a.exposure_source, a.criticality) for a in exposure.list_assets(engine, None)}
    assert shown == {"web01.example.com": ("unknown", "none", None), "db01.example.com": ("unknown", "none", None)}


def test_set_by_ip_or_host_name_and_audited(engine: Engine, tmp_path: Path) -> None:
    scanned(engine, tmp_path)
    view = exposure.set_asset(engine, None, "203.0.113.10", "public", "high", "alice")
    assert (view.fqdn, view.exposure, view.exposure_source, view.criticality) == (
        "web01.example.com",
        "public",
        "set",
        "high",
    )
    view = exposure.set_asset(engine, None, "DB01.example.com", "internal", None, "alice")
    assert (view.exposure, view.criticality) == ("internal", None)
    with engine.begin() as conn:
        details = [
            json.loads(d)
            for d in conn.execute(select(audit_events.c.detail).where(audit_events.c.action == "asset.set")).scalars()
        ]
    assert details == [
        {"criticality": [None, "high"], "exposure": ["unknown", "public"]},
        {"exposure": ["unknown", "internal"]},
    ]


@pytest.mark.parametrize(
    ("name", "exposure_", "problem"),
    [
        ("10.9.9.9", "public", "no asset '10.9.9.9'"),
        ("203.0.113.10", "outside", "--exposure must be one of public, internal, unknown"),
        ("203.0.113.10", None, "give --exposure or --criticality"),
    ],
)
def test_what_cannot_be_set_is_refused(
    engine: Engine, tmp_path: Path, name: str, exposure_: str | None, problem: str
) -> None:
    scanned(engine, tmp_path)
    with pytest.raises(UsageError, match=problem):
        exposure.set_asset(engine, None, name, exposure_, None, "t")


def test_the_inventory_public_column_classifies_and_a_person_overrides(engine: Engine, tmp_path: Path) -> None:
    from tests.services.test_inventory import workbook

    rows = [
        {"UNIQUE ASSET IDENTIFIER": "web01", "IPv4 or IPv6 Address": "203.0.113.10", "Public": "Yes"},
        {"UNIQUE ASSET IDENTIFIER": "db01", "IPv4 or IPv6 Address": "10.0.0.2", "Public": "No"},
    ]
    inventory.import_inventory(engine, workbook(tmp_path / "inv.xlsx", rows), None, "t")
    shown = {a.ip: (a.exposure, a.exposure_source) for a in exposure.list_assets(engine, None)}
    assert shown == {"203.0.113.10": ("public", "inventory"), "10.0.0.2": ("internal", "inventory")}
    exposure.set_asset(engine, None, "10.0.0.2", "public", None, "t")
    shown = {a.ip: (a.exposure, a.exposure_source) for a in exposure.list_assets(engine, None)}
    assert shown["10.0.0.2"] == ("public", "set")


def test_the_command_line(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    hosts = [Host("web01", ip="203.0.113.10", fqdn="web01.example.com", start=JAN, items=[Item("100")])]
    assert (
        CliRunner().invoke(cli, ["--db", db, "import", str(write_nessus(tmp_path / "j.nessus", hosts))]).exit_code == 0
    )
    r = CliRunner().invoke(cli, ["--db", db, "asset", "set", "web01.example.com", "--exposure", "public"])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().endswith(": exposure public, criticality not set")
    r = CliRunner().invoke(cli, ["--db", db, "asset", "list", "--json"])
    (shown,) = json.loads(r.stdout)
    assert (shown["exposure"], shown["exposure_source"], shown["ip"]) == ("public", "set", "203.0.113.10")
    r = CliRunner().invoke(cli, ["--db", db, "asset", "set", "nope", "--exposure", "public"])
    assert r.exit_code == 1 and "no asset 'nope'" in r.stderr


def test_a_systems_public_rules_classify_what_nobody_else_did(engine: Engine, tmp_path: Path) -> None:
    from poam.services import systems

    scanned(engine, tmp_path)
    hosts = [Host("cdn", ip="10.0.0.9", fqdn="cdn.public.example.org", start=JAN, items=[Item("100")])]
    import_file(engine, write_nessus(tmp_path / "cdn.nessus", hosts), parallel=False)
    exposure.set_asset(engine, None, "10.0.0.2", "internal", None, "t")  # a person's word wins
    rules = systems.set_public_rules(engine, "default", ["203.0.113.0/24", "10.0.0.0/8"], ["Public.Example.org."], "t")
    assert rules == (["10.0.0.0/8", "203.0.113.0/24"], ["public.example.org"])
    shown = {a.ip: (a.exposure, a.exposure_source) for a in exposure.list_assets(engine, None)}
    assert shown == {
        "203.0.113.10": ("public", "rule"),
        "10.0.0.2": ("internal", "set"),
        "10.0.0.9": ("public", "rule"),
    }
    systems.set_public_rules(engine, "default", ["192.0.2.0/24"], [], "t")  # each list replaced
    shown = {a.ip: (a.exposure, a.exposure_source) for a in exposure.list_assets(engine, None)}
    assert shown["203.0.113.10"] == ("unknown", "none") and shown["10.0.0.9"] == ("unknown", "none")
    with pytest.raises(UsageError, match="--public-cidr: not an address range: '10.0.0.0/33'"):
        systems.set_public_rules(engine, "default", ["10.0.0.0/33"], None, "t")


def test_system_set_on_the_command_line(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    assert CliRunner().invoke(cli, ["--db", db, "system", "add", "web"]).exit_code == 0
    r = CliRunner().invoke(
        cli, ["--db", db, "system", "set", "web", "--public-cidr", "203.0.113.0/24", "--public-domain", "example.com"]
    )
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == "web: public ranges 203.0.113.0/24; public domains example.com"
    r = CliRunner().invoke(cli, ["--db", db, "system", "set", "web", "--clear-public-rules"])
    assert r.stdout.strip() == "web: public ranges none; public domains none"
    r = CliRunner().invoke(cli, ["--db", db, "system", "set", "web"])
    assert r.exit_code == 1 and "give --policy, --class, --fallback, --public-cidr" in r.stderr
