"""CSV files of POA&M items or findings, for spreadsheets and scripts.

One header row, then one row per record; RFC 4180 quoting (`\\r\\n` line ends, fields with commas,
quotes or line breaks quoted), UTF-8 with a byte order mark by default, since Excel reads a CSV file
as UTF-8 only when it starts with one (`bom=False` for tools that do not skip it). Lists are
joined with `; `, true/false written `yes`/`no`, missing values left empty. No cell can become a
formula: text that starts like one is prefixed with `'` (`cells.inert`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from poam.exporters.cells import inert

FINDING_COLUMNS = (
    "poam_id",
    "item_status",
    "asset",
    "port",
    "protocol",
    "path",
    "status",
    "first_seen",
    "last_seen",
    "fixed_at",
    "tool",
    "source_identifier",
    "weakness_name",
)
"""One finding: its item, asset, where on the asset, open or fixed, when a scan first and last saw
it (UTC, ISO 8601) and the tool and check that reported it."""


def cell_text(value: object) -> str:
    """A value as CSV text, made inert."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return inert("; ".join(str(v) for v in value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return inert(str(value))


def write(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, object]], bom: bool = True) -> int:
    """Write the rows (each a mapping from column to value); returns how many were written."""
    count = 0
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        out = csv.writer(f, lineterminator="\r\n")
        out.writerow(columns)
        for row in rows:
            out.writerow([cell_text(row.get(c)) for c in columns])
            count += 1
    return count
