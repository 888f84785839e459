"""Cells of an imported POA&M workbook that poam would write otherwise, kept so that an export
writes them back as the workbook gave them (the round trip of issue 10, point 4).

A reader compares each cell as given with the cell poam would write for the item it read (a
text date `05/23/2014`, a control list `AC-2;SI-2`, milestone text outside the grammar): where
they differ it keeps both, by header, in the item's `extra["cells"]`. The exporter writes the
given cell back only while poam's value is still the one computed at import: once the item
changed (a new milestone, a closure), poam's value is written. Standard library only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

KEY = "cells"
"""The key of `extra` that holds the kept cells: `{header: [given, computed]}`."""


def plain(value: Any) -> Any:
    """A cell value compared as a cell: a date-time at midnight is the date, an empty text is
    empty (None), a whole float is an integer."""
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time() and value.tzinfo is None else value
    if value == "":
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def encode(value: Any) -> Any:
    """A cell value as JSON: dates tagged, everything else as it is."""
    value = plain(value)
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    return value


def decode(value: Any) -> Any:
    """The cell value `encode` stored."""
    if isinstance(value, dict):
        if "datetime" in value:
            return dt.datetime.fromisoformat(str(value["datetime"]))
        if "date" in value:
            return dt.date.fromisoformat(str(value["date"]))
        return None
    return value


def kept(headers: Sequence[str], given: Sequence[Any], computed: Sequence[Any]) -> dict[str, list[Any]]:
    """The cells whose given value differs from the computed one: `{header: [given, computed]}`."""
    out: dict[str, list[Any]] = {}
    for name, a, b in zip(headers, given, computed, strict=True):
        if plain(a) != plain(b):
            out[name] = [encode(a), encode(b)]
    return out


def restore(headers: Sequence[str], values: list[Any], cells: Mapping[str, Any] | None) -> list[Any]:
    """The row's values with each kept cell given back where poam's value is still the one
    computed at import."""
    if not cells:
        return values
    out = list(values)
    for i, name in enumerate(headers):
        pair = cells.get(name)
        if isinstance(pair, list) and len(pair) == 2 and plain(out[i]) == decode(pair[1]):
            out[i] = decode(pair[0])
    return out
