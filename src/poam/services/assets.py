"""Matching the hosts a scan reports to the assets already known, and recording new ones."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from poam.domain.identity import match_asset, merge, normalize
from poam.domain.models import Asset, AssetKind
from poam.errors import InputError
from poam.store.tables import assets, lone_surrogate

_FIELDS = ("ip", "fqdn", "netbios", "mac", "name", "os", "account", "region")
_INDEXED = ("ip", "fqdn", "netbios", "name", "mac")


def _from_row(row: object) -> Asset:
    return Asset(
        kind=AssetKind(row.kind),  # type: ignore[attr-defined]
        **{f: getattr(row, f) for f in _FIELDS},
    )


def _size(column: str) -> int:
    """The length of a column of the assets table."""
    length: int = assets.c[column].type.length  # type: ignore[attr-defined]
    return length


_LABELS = {"ip": "IP address", "fqdn": "host name", "netbios": "NetBIOS name", "name": "asset name"}
_IDENTIFYING = {f: (label, _size(f)) for f, label in _LABELS.items()}
"""Identifiers an asset is matched by, their names in messages and their column sizes (MAC
addresses are unbounded text)."""
_DESCRIPTIVE = {f: _size(f) for f in ("os", "account", "region")}
"""Descriptive values and their column sizes."""


def _fit(asset: Asset, source: str) -> Asset:
    """Refuse an identifier longer than its column (cut, two assets would become one); cut
    descriptive text to its column."""
    for f, (label, size) in _IDENTIFYING.items():
        value = getattr(asset, f)
        if value and len(value) > size:
            raise InputError(source, f"{label} longer than {size} characters: {value[:40]!r}...")
        if value and lone_surrogate(value):
            raise InputError(source, f"{label} {value[:40]!r} holds a lone surrogate: it cannot be stored")
    long = {
        f: getattr(asset, f)[:n] for f, n in _DESCRIPTIVE.items() if getattr(asset, f) and len(getattr(asset, f)) > n
    }
    return replace(asset, **long) if long else asset


class AssetResolver:
    """Resolves observed assets to asset ids within one system and one transaction."""

    def __init__(self, conn: Connection, system_id: int, source: str = "input") -> None:
        self.conn = conn
        self.system_id = system_id
        self.source = source
        """The file being imported, for errors."""
        self._cache: dict[Asset, int] = {}
        self._raw: dict[Asset, int] = {}
        self._last: tuple[Asset | None, int] = (None, 0)
        self._index: dict[str, dict[str, set[int]]] | None = None
        self._known: dict[int, Asset] = {}
        self._stored_last: dict[int, dt.datetime] = {}
        self._seen: dict[int, tuple[dt.datetime, dt.datetime]] = {}

    def resolve(self, observed: Asset, when: dt.datetime) -> int:
        """The id of the asset (matched or created), noting that it was seen at `when`."""
        if observed is self._last[0]:  # parsers hand out one Asset object per host: the common case
            asset_id = self._last[1]
        else:
            asset_id = self._raw.get(observed) or self._resolve(observed, when)
            self._last = (observed, asset_id)
        first, last = self._seen.get(asset_id, (when, when))
        if when < first or when > last:
            self._seen[asset_id] = (min(first, when), max(last, when))
        elif asset_id not in self._seen:
            self._seen[asset_id] = (first, last)
        return asset_id

    def _resolve(self, observed: Asset, when: dt.datetime) -> int:
        asset = _fit(normalize(observed), self.source)
        asset_id = self._cache.get(asset)
        if asset_id is None:
            asset_id = self._lookup(asset, when)
            self._cache[asset] = asset_id
        self._raw[observed] = asset_id
        return asset_id

    def _load(self) -> dict[str, dict[str, set[int]]]:
        """Index the system's assets by identifier, once per import (a few hundred bytes per asset)."""
        if self._index is None:
            self._index = {f: {} for f in _INDEXED}
            for row in self.conn.execute(select(assets).where(assets.c.system_id == self.system_id)):
                self._remember(row.id, _from_row(row))
                if row.last_seen:
                    self._stored_last[row.id] = row.last_seen
        return self._index

    def _remember(self, asset_id: int, asset: Asset) -> None:
        index = self._index
        assert index is not None
        self._known[asset_id] = asset
        for f in _INDEXED:
            value = getattr(asset, f)
            for each in value.split("\n") if f == "mac" and value else [value]:  # MACs: one per line
                if each:
                    index[f].setdefault(each, set()).add(asset_id)

    def _lookup(self, asset: Asset, when: dt.datetime) -> int:
        index = self._load()
        fields: tuple[str, ...] = ("ip", "fqdn", "netbios", "mac") if asset.kind is AssetKind.HOST else ("name",)
        if asset.kind is AssetKind.HOST and not (asset.ip or asset.fqdn or asset.netbios or asset.mac):
            fields = ("name",)
        ids: set[int] = set()
        for f in fields:
            value = getattr(asset, f)
            for each in value.split("\n") if f == "mac" and value else [value]:
                if each:
                    ids |= index[f].get(each, set())
        candidates = [(i, self._known[i]) for i in sorted(ids) if self._known[i].kind is asset.kind]
        match = match_asset(asset, candidates)
        if match is not None:
            known = self._known[match]
            merged = merge(known, asset, newer=when >= self._stored_last.get(match, when))
            if merged != known:
                self.conn.execute(
                    update(assets).where(assets.c.id == match).values(**{f: getattr(merged, f) for f in _FIELDS})
                )
                self._remember(match, merged)
            return match
        values = {f: getattr(asset, f) for f in _FIELDS}
        new_id: int = self.conn.execute(
            insert(assets),
            {
                "system_id": self.system_id,
                "kind": asset.kind.value,
                "identifier": asset.identifier[:500],
                "first_seen": when,
                "last_seen": when,
                **values,
            },
        ).inserted_primary_key[0]  # type: ignore[index]
        self._remember(new_id, asset)
        return new_id

    def finish(self) -> None:
        """Widen each asset's first and last seen times by what this import saw."""
        ids = list(self._seen)
        rows: list[Any] = []
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
