"""The asset inventory in the FedRAMP Integrated Inventory Workbook layout (SSP Appendix M).

The `Inventory` sheet as the template is submitted (its guidance column A and rows 3-12 deleted, as
the template says): row 1 the column groups, row 2 the 25 headers spelled as the template spells
them, one asset a row from row 3. Every cell is text; text that a spreadsheet would read as a
formula is quote-prefixed (`exporters.cells`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from poam.exporters.cells import clip, looks_like_formula

HEADERS = (
    "UNIQUE ASSET IDENTIFIER",
    "IPv4 or IPv6 Address",
    "Virtual",
    "Public",
    "DNS Name or URL",
    "NetBIOS Name",
    "MAC Address",
    "Authenticated Scan",
    "Baseline Configuration Name",
    "OS Name and Version",
    "Location",
    "Asset Type",
    "Hardware Make/Model",
    "In Latest Scan",
    "Software/ Database Vendor",
    "Software/ Database Name & Version",
    "Patch Level",
    "Diagram Label",
    "Comments",
    "Serial #/Asset Tag#",
    "VLAN/\nNetwork ID",
    "System Administrator/ Owner",
    "Application Administrator/ Owner",
    "Function",
    "End-of-Life ",
)
"""Row 2 of the template's Inventory sheet (columns B to Z there, A to Y once column A is deleted)."""
GROUPS = (
    ("All Inventories", 0, 4),
    ("OS/Infrastructure Inventory", 5, 13),
    ("Software and Database Inventories", 14, 16),
    ("Any Inventory", 17, 24),
)
WIDTHS: tuple[float, ...] = (37.3, 58.3, 25, 13, 13, 15, 15.3, 16.7, 41.2, 19.7, 18.3, 16.5, 17, 16.2, 15.7, 17.7)
WIDTHS += (15.7, 55.8, 13, 18.3, 18.5, 13, 17.8, 17, 13)
"""The template's column widths."""


def key(header: str) -> str:
    """A header as the inventory reader keys it (`Patch Level` -> `patch_level`)."""
    return re.sub(r"[^a-z0-9]+", "_", header.lower()).strip("_")


KEYS = tuple(key(h) for h in HEADERS)


def write(path: Path, rows: Sequence[Mapping[str, str]]) -> int:
    """Write the rows (dicts keyed by `KEYS`) to an .xlsx file; returns the number of assets."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    try:
        sheet = book.add_worksheet("Inventory")
        group = book.add_format({"bold": True, "align": "center", "bg_color": "#D9D9D9", "border": 1})
        head = book.add_format(
            {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#1F3864", "font_color": "#FFFFFF"}
        )
        head.set_border(1)
        cell = book.add_format({"text_wrap": True, "valign": "top", "border": 1})
        quoted = book.add_format({"text_wrap": True, "valign": "top", "border": 1, "quote_prefix": True})
        for name, first, last in GROUPS:
            sheet.merge_range(0, first, 0, last, name, group)
        for col, (header, width) in enumerate(zip(HEADERS, WIDTHS, strict=True)):
            sheet.write_string(1, col, header, head)
            sheet.set_column(col, col, width)
        sheet.set_row(1, 45)
        for n, row in enumerate(rows, start=2):
            for col, k in enumerate(KEYS):
                value = clip(str(row.get(k) or ""))
                if value:
                    sheet.write_string(n, col, value, quoted if looks_like_formula(value) else cell)
        sheet.freeze_panes(2, 1)
        sheet.autofilter(1, 0, max(1, len(rows) + 1), len(HEADERS) - 1)
        sheet.set_landscape()
        sheet.fit_to_pages(1, 0)
        sheet.repeat_rows(0, 1)
    finally:
        book.close()
    return len(rows)
