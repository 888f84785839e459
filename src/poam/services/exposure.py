"""Asset exposure and criticality (issue 8): what BOD 26-04 and the priority need to know of each asset.

An asset is `public`, `internal` or `unknown`. A person sets it (`poam asset set`), or the inventory
workbook's public-facing column does; an asset nobody classified is `unknown`, whatever its address
(BOD 26-04 counts unknown as publicly exposed).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select, update

from poam.errors import UsageError
from poam.services import audit, systems
from poam.store import db
from poam.store.tables import assets, findings, items
from poam.store.tables import systems as systems_table

EXPOSURES = ("public", "internal", "unknown")
CRITICALITIES = ("low", "moderate", "high")


@dataclass(frozen=True)
class AssetView:
    identifier: str
    kind: str
    ip: str | None
    fqdn: str | None
    exposure: str
    exposure_source: str
    """`set` (by a person), `inventory` (its public-facing column), `rule` (the system's public rules)
    or `none` (nobody classified it)."""
    criticality: str | None
    in_inventory: bool


@dataclass(frozen=True)
class PublicRules:
    """A system's rules for public exposure: address ranges and host name suffixes."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    domains: tuple[str, ...] = ()

    @classmethod
    def of(cls, cidrs: str, domains: str) -> PublicRules:
        return cls(
            tuple(ipaddress.ip_network(c, strict=False) for c in cidrs.split("\n") if c),
            tuple(d for d in domains.split("\n") if d),
        )

    def match(self, ip: str | None, fqdn: str | None) -> bool:
        if ip and self.networks:
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                address = None
            if address is not None and any(address in n for n in self.networks if n.version == address.version):
                return True
        host = (fqdn or "").lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.domains)


def effective(
    exposure: str | None,
    public: bool | None,
    rules: PublicRules | None = None,
    ip: str | None = None,
    fqdn: str | None = None,
) -> tuple[str, str]:
    """The asset's exposure and where it comes from: a person's setting, else the inventory's
    public-facing column, else the system's public rules (an address or host name they name is
    public), else unknown."""
    if exposure in EXPOSURES:
        return exposure, "set"
    if public is not None:
        return ("public" if public else "internal"), "inventory"
    if rules is not None and rules.match(ip, fqdn):
        return "public", "rule"
    return "unknown", "none"


def _view(r: Any, rules: PublicRules | None = None) -> AssetView:
    exposure, source = effective(r.exposure, r.public, rules, r.ip, r.fqdn)
    return AssetView(
        r.identifier,
        r.kind,
        r.ip,
        r.fqdn,
        exposure,
        source,
        r.criticality,
        bool(r.in_inventory),
    )


def list_assets(engine: Engine, system: str | None) -> list[AssetView]:
    with db.read(engine) as conn:
        info = systems.resolve(conn, system, audit.default_actor())
        rules = _rules(conn, info.id)
        rows = conn.execute(select(assets).where(assets.c.system_id == info.id).order_by(assets.c.identifier))
        return [_view(r, rules) for r in rows]


def _rules(conn: Connection, system_id: int) -> PublicRules:
    row = conn.execute(
        select(systems_table.c.public_cidrs, systems_table.c.public_domains).where(systems_table.c.id == system_id)
    ).one()
    return PublicRules.of(row.public_cidrs, row.public_domains)


def find(conn: Connection, system_id: int, name: str) -> list[Any]:
    """The assets of a system a name designates: its identifier, IP address, host name, NetBIOS name
    or name (case-insensitive for names)."""
    wanted = name.strip()
    lowered = wanted.lower()
    return list(
        conn.execute(
            select(assets).where(
                assets.c.system_id == system_id,
                or_(
                    assets.c.identifier == wanted,
                    assets.c.ip == wanted,
                    func.lower(assets.c.fqdn) == lowered,
                    func.lower(assets.c.netbios) == lowered,
                    func.lower(assets.c.name) == lowered,
                ),
            )
        ).all()
    )


def set_asset(
    engine: Engine, system: str | None, name: str, exposure: str | None, criticality: str | None, actor: str
) -> AssetView:
    """Set an asset's exposure and/or criticality; the asset is named by its identifier, IP address,
    host name or NetBIOS name as poam shows it."""
    if exposure is None and criticality is None:
        raise UsageError("give --exposure or --criticality")
    if exposure is not None and exposure not in EXPOSURES:
        raise UsageError(f"--exposure must be one of {', '.join(EXPOSURES)}")
    if criticality is not None and criticality not in CRITICALITIES:
        raise UsageError(f"--criticality must be one of {', '.join(CRITICALITIES)}")
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        found = find(conn, info.id, name)
        if not found:
            raise UsageError(f"no asset {name.strip()!r} in system {info.name!r}; `poam asset list` shows them")
        if len(found) > 1:
            names = ", ".join(sorted(r.identifier for r in found)[:5])
            raise UsageError(f"{name.strip()!r} names {len(found)} assets ({names}); use the identifier")
        row = found[0]
        values: dict[str, str] = {}
        change: dict[str, object] = {}
        if exposure is not None:
            values["exposure"] = exposure
            change["exposure"] = [
                effective(row.exposure, row.public, _rules(conn, info.id), row.ip, row.fqdn)[0],
                exposure,
            ]
        if criticality is not None:
            values["criticality"] = criticality
            change["criticality"] = [row.criticality, criticality]
        conn.execute(update(assets).where(assets.c.id == row.id).values(**values))
        now = audit.now()
        audit.record(conn, actor, [audit.Event("asset.set", "asset", row.identifier[:100], change, info.id)], now)
        from poam.services import deadlines

        deadlines.mark_stale(conn, items.c.id.in_(select(findings.c.item_id).where(findings.c.asset_id == row.id)))
        deadlines.refresh(conn, actor, f"asset {row.identifier[:100]} changed", now, info.id)
        updated = conn.execute(select(assets).where(assets.c.id == row.id)).one()
        return _view(updated, _rules(conn, info.id))
