"""An asset identifier longer than its column is refused, never cut: cut, two hosts would become one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from poam.domain.models import Asset, AssetKind
from poam.errors import InputError
from poam.services import systems
from poam.services.assets import AssetResolver
from poam.services.importer import import_file
from poam.store.tables import assets
from tests.builders import write_csv

WHEN = dt.datetime(2026, 1, 10)
HEADER = ["detector", "weakness_id", "weakness_name", "severity", "asset", "detected"]


def finding(asset: str, weakness: str = "PT-1") -> dict[str, str]:
    return {
        "detector": "Pen Test",
        "weakness_id": weakness,
        "weakness_name": "n",
        "severity": "low",
        "asset": asset,
        "detected": "2026-01-10",
    }


def asset_count(engine: Engine) -> int:
    with engine.begin() as conn:
        count: int = conn.execute(select(func.count()).select_from(assets)).scalar_one()
    return count


def test_two_long_host_names_alike_in_their_first_500_characters_are_refused(engine: Engine, tmp_path: Path) -> None:
    # before: both were cut to the same 500 characters and became one asset
    stem = "a" * 480 + ".example"
    rows = [finding(f"{stem}.one.example.com"), finding(f"{stem}.two.example.com", "PT-2")]
    path = write_csv(tmp_path / "long.csv", rows, HEADER)
    with pytest.raises(InputError, match=r"long\.csv: host name longer than 500 characters: 'aaaaaaaa"):
        import_file(engine, path)
    assert asset_count(engine) == 0


def test_a_web_application_origin_longer_than_its_column_is_refused(engine: Engine, tmp_path: Path) -> None:
    url = "https://" + "b" * 600 + ".example.com/login"
    with pytest.raises(InputError, match=r"asset name longer than 500 characters: 'https://bbbb"):
        import_file(engine, write_csv(tmp_path / "web.csv", [finding(url)], HEADER))
    assert asset_count(engine) == 0


def test_identifiers_that_fit_exactly_are_stored_whole(engine: Engine, tmp_path: Path) -> None:
    host = "c" * 488 + ".example.com"  # 500 characters
    r = import_file(engine, write_csv(tmp_path / "fit.csv", [finding(host)], HEADER))
    assert r.items_opened == 1
    with engine.begin() as conn:
        assert conn.execute(select(assets.c.fqdn, assets.c.identifier)).one() == (host, host)


@pytest.mark.parametrize(
    ("asset", "problem"),
    [
        (Asset(ip="10.0.0." + "1" * 60), "IP address longer than 64 characters: '10.0.0.111"),
        (Asset(netbios="N" * 101), "NetBIOS name longer than 100 characters: 'NNNN"),
        (Asset(kind=AssetKind.CLOUD_RESOURCE, name="arn:aws:s3:::" + "x" * 500), "asset name longer than 500"),
        (Asset(name="agent-" + "9" * 500), "asset name longer than 500"),
    ],
)
def test_every_identifying_column_is_checked(engine: Engine, asset: Asset, problem: str) -> None:
    with engine.begin() as conn:
        info = systems.resolve(conn, None, "t", create_default=True)
        resolver = AssetResolver(conn, info.id, "scan.json")
        with pytest.raises(InputError, match=f"^scan.json: {problem}"):
            resolver.resolve(asset, WHEN)


def test_descriptive_values_are_still_cut(engine: Engine) -> None:
    with engine.begin() as conn:
        info = systems.resolve(conn, None, "t", create_default=True)
        resolver = AssetResolver(conn, info.id, "scan.json")
        asset = Asset(
            kind=AssetKind.CLOUD_RESOURCE, name="arn:aws:s3:::bucket", os="o" * 600, account="1" * 300, region="r" * 150
        )
        asset_id = resolver.resolve(asset, WHEN)
        stored = conn.execute(
            select(assets.c.os, assets.c.account, assets.c.region).where(assets.c.id == asset_id)
        ).one()
    assert stored == ("o" * 500, "1" * 200, "r" * 100)
