"""A third-party parser installed as a distribution with a `poam.parsers` entry point."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from poam.parsers import registry
from poam.services.importer import import_file
from tests.services.test_import import items_of

PLUGIN = """
import datetime as dt
from poam.domain.models import Asset, Coverage, Finding, Scan, Severity, Weakness
from poam.hookspecs import hookimpl


class LinesParser:
    id = "acme-lines"
    name = "ACME scanner line format"
    maps_to = "one finding per line: host, check id, title"
    closes_by_coverage = True

    def sniff(self, head):
        return head.text.startswith("ACME-SCAN v1")

    def parse(self, stream, ctx):
        lines = stream.read().decode().splitlines()
        when = dt.datetime.fromisoformat(lines[0].split()[2])
        seen = {}
        for line in lines[1:]:
            host, check, title = line.split(",")
            asset = seen.setdefault(host, Asset(ip=host))
            yield Finding(Weakness("ACME", check, title, Severity.HIGH), asset, when)
        for asset in seen.values():
            yield Coverage(asset, when, when)
        yield Scan("ACME", started_at=when, ended_at=when)


@hookimpl
def poam_parsers():
    return [LinesParser()]
"""


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    site = tmp_path / "site"
    (site / "acme_poam").mkdir(parents=True)
    (site / "acme_poam" / "__init__.py").write_text(PLUGIN)
    info = site / "acme_poam-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-poam\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[poam.parsers]\nacme = acme_poam\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("POAM_NO_PLUGINS", raising=False)
    registry.plugin_manager.cache_clear()
    yield
    registry.plugin_manager.cache_clear()
    sys.modules.pop("acme_poam", None)


def test_an_installed_plugin_parser_is_found_and_imports(
    installed_plugin: None, engine: Engine, tmp_path: Path
) -> None:
    assert "acme-lines" in registry.parsers()
    scan = tmp_path / "scan.txt"
    scan.write_text("ACME-SCAN v1 2026-01-05T10:00:00\n10.0.0.1,C-1,Open relay\n10.0.0.2,C-1,Open relay\n")
    result = import_file(engine, scan)
    assert result.format == "acme-lines" and result.items_opened == 1
    assert [a.text for a in items_of(engine)["V-1"].assets] == ["10.0.0.1", "10.0.0.2"]  # type: ignore[attr-defined]


def test_plugins_are_off_when_asked(installed_plugin: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POAM_NO_PLUGINS", "1")
    registry.plugin_manager.cache_clear()
    assert "acme-lines" not in registry.parsers()
