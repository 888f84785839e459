"""Matching the hosts a scan reports to the assets already known, and recording new ones."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, bindparam, insert, or_, select, update

from poam.domain.identity import match_asset, merge, normalize
from poam.domain.models import Asset, AssetKind
from poam.store.tables import assets

_FIELDS = ("ip", "fqdn", "netbios", "mac", "name", "os")


def _from_row(row: object) -> Asset:
    return Asset(
        kind=AssetKind(row.kind),  # type: ignore[attr-defined]
        **{f: getattr(row, f) for f in _FIELDS},
    )


class AssetResolver:
    """Resolves observed assets to asset ids within one system and one transaction."""

    def __init__(self, conn: Connection, system_id: int) -> None:
        self.conn = conn
        self.system_id = system_id
        self._cache: dict[Asset, int] = {}
        self._seen: dict[int, tuple[dt.datetime, dt.datetime]] = {}

    def resolve(self, observed: Asset, when: dt.datetime) -> int:
        """The id of the asset (matched or created), noting that it was seen at `when`."""
        asset = normalize(observed)
        asset_id = self._cache.get(asset)
        if asset_id is None:
            asset_id = self._lookup(asset, when)
            self._cache[asset] = asset_id
        first, last = self._seen.get(asset_id, (when, when))
        self._seen[asset_id] = (min(first, when), max(last, when))
        return asset_id

    def _lookup(self, asset: Asset, when: dt.datetime) -> int:
        conds = []
        if asset.kind is AssetKind.HOST:
            if asset.ip:
                conds.append(assets.c.ip == asset.ip)
            if asset.fqdn:
                conds.append(assets.c.fqdn == asset.fqdn)
            if asset.netbios:
                conds.append(assets.c.netbios == asset.netbios)
        elif asset.name:
            conds.append(assets.c.name == asset.name)
        rows = []
        if conds:
            rows = self.conn.execute(
                select(assets).where(
                    assets.c.system_id == self.system_id, assets.c.kind == asset.kind.value, or_(*conds)
                )
            ).all()
        known = {r.id: _from_row(r) for r in rows}
        match = match_asset(asset, list(known.items()))
        if match is not None:
            merged = merge(known[match], asset)
            if merged != known[match]:
                self.conn.execute(
                    update(assets).where(assets.c.id == match).values(**{f: getattr(merged, f) for f in _FIELDS})
                )
            return match
        values = {f: getattr(asset, f) for f in _FIELDS}
        new_id: int = self.conn.execute(
            insert(assets).values(
                system_id=self.system_id,
                kind=asset.kind.value,
                identifier=asset.identifier[:500],
                first_seen=when,
                last_seen=when,
                **values,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        return new_id

    def finish(self) -> None:
        """Widen each asset's first and last seen times by what this import saw."""
        ids = list(self._seen)
        rows = []
        for start in range(0, len(ids), 500):
            rows += self.conn.execute(
                select(assets.c.id, assets.c.first_seen, assets.c.last_seen).where(
                    assets.c.id.in_(ids[start : start + 500])
                )
            ).all()
        params = []
        for row in rows:
            seen = self._seen.get(row.id)
            if seen is None:
                continue
            first = min(seen[0], row.first_seen) if row.first_seen else seen[0]
            last = max(seen[1], row.last_seen) if row.last_seen else seen[1]
            if (first, last) != (row.first_seen, row.last_seen):
                params.append({"_id": row.id, "_first": first, "_last": last})
        if params:
            self.conn.execute(
                update(assets)
                .where(assets.c.id == bindparam("_id"))
                .values(first_seen=bindparam("_first"), last_seen=bindparam("_last")),
                params,
            )
