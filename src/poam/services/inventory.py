"""The asset inventory: import the FedRAMP Integrated Inventory Workbook (or Nmap discovery) and
report what the scans saw that the inventory lacks, and what the inventory lists that no scan saw.

An inventory asset's UNIQUE ASSET IDENTIFIER becomes its Asset Identifier on the POA&M, as the
FedRAMP guide requires; scan findings attach to inventory assets through the usual host matching.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, exists, select, update

from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.inventory_xlsx import InventoryEntry, entries, is_workbook
from poam.parsers.registry import detect
from poam.services import audit, systems
from poam.services.assets import AssetResolver
from poam.store import db
from poam.store.tables import assets, findings, items, scan_assets


@dataclass
class InventoryResult:
    """What an inventory import did."""

    source: str
    system: str
    entries: int = 0
    created: int = 0
    matched: int = 0
    removed: list[str] = field(default_factory=list)


def _entries(path: Path, source: str) -> tuple[list[InventoryEntry], bool]:
    """The file's entries and whether it is a complete inventory (a workbook) or discovery (Nmap)."""
    with path.open("rb") as f:
        head = f.read(8)
        f.seek(0)
        if is_workbook(head):
            return list(entries(path)), True
        parser = detect(f, source)
        if parser.id != "nmap-xml":
            raise InputError(source, f"not an inventory: {parser.name} files are imported with `poam import`")
        found = []
        for rec in parser.parse(f, ParseContext(source)):
            asset = getattr(rec, "asset", None)
            if asset is not None and getattr(rec, "weakness", None) is None:
                found.append(InventoryEntry(asset.identifier, asset))
        return found, False


def import_inventory(engine: Engine, path: Path, system: str | None, actor: str) -> InventoryResult:
    """Record the inventory in one transaction. A workbook is the complete inventory: assets it
    no longer lists leave the inventory; Nmap discovery only adds."""
    source = str(path)
    if not path.is_file():
        raise InputError(source, "no such file")
    found, complete = _entries(path, source)
    if complete and not found:
        raise InputError(source, "the workbook lists no assets (only the template's guidance and example rows?)")
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor, create_default=True)
        result = InventoryResult(source, info.name, len(found))
        now = audit.now()
        before = {r.id for r in conn.execute(select(assets.c.id).where(assets.c.system_id == info.id))}
        resolver = AssetResolver(conn, info.id, source)
        listed: set[int] = set()
        for entry in found:
            asset_id = resolver.resolve(entry.asset, now)
            listed.add(asset_id)
            values: dict[str, object] = {"in_inventory": True}
            if complete or asset_id not in before:  # discovery names only the assets it creates
                values["identifier"] = entry.unique_id[:500]
            if complete:
                values.update(
                    public=entry.public,
                    asset_type=(entry.asset_type or "")[:100] or None,
                    owner=(entry.owner or "")[:200] or None,
                    inventory_row=json.dumps(entry.row, sort_keys=True, ensure_ascii=False),
                )
            conn.execute(update(assets).where(assets.c.id == asset_id).values(**values))
        result.created = len(listed - before)
        result.matched = len(listed & before)
        if complete:
            gone = conn.execute(
                select(assets.c.id, assets.c.identifier).where(
                    assets.c.system_id == info.id, assets.c.in_inventory.is_(True), assets.c.id.not_in(listed)
                )
            ).all()
            for row in gone:
                conn.execute(update(assets).where(assets.c.id == row.id).values(in_inventory=False))
            result.removed = [r.identifier for r in gone]
        detail = {
            "file": source,
            "entries": result.entries,
            "created": result.created,
            "matched": result.matched,
            "removed": result.removed,
            "complete": complete,
        }
        audit.record(conn, actor, [audit.Event("inventory.import", "system", str(info.id), detail, info.id)], now)
        from poam.services import deadlines

        deadlines.mark_stale(conn, items.c.system_id == info.id)
        deadlines.refresh(conn, actor, "inventory imported (public-facing column)", now, info.id)
    return result


@dataclass
class InventoryReport:
    """Gaps between the inventory and the scans."""

    system: str
    inventory: int
    missing_from_inventory: list[str]
    never_scanned: list[str]


def report(engine: Engine, system: str | None) -> InventoryReport:
    """Assets the scans saw that the inventory lacks, and inventory assets no scan covered."""
    with db.read(engine) as conn:
        info = systems.resolve(conn, system, audit.default_actor())
        seen = exists().where(scan_assets.c.asset_id == assets.c.id)
        has_findings = exists().where(findings.c.asset_id == assets.c.id)
        base = select(assets.c.identifier).where(assets.c.system_id == info.id).order_by(assets.c.identifier)
        missing = list(conn.execute(base.where(assets.c.in_inventory.is_(False), seen | has_findings)).scalars())
        never = list(conn.execute(base.where(assets.c.in_inventory.is_(True), ~seen)).scalars())
        total = len(list(conn.execute(base.where(assets.c.in_inventory.is_(True))).scalars()))
    return InventoryReport(info.name, total, missing, never)
