"""A FedRAMP POA&M workbook kept by hand, read into `ImportedItem`s (issue 10, point 4).

Template v2.1 (2024-03-29, `.xlsx`) and the older versions (2022-06-23 and 2023-08-30, `.xlsm`,
30 columns without Service Name), and workbooks with those headers in another order: on each
sheet the header row is found by its text (`POAM ID`, `Weakness Name`, ... matched by name,
whatever the case, spaces or line breaks), in the first 30 rows. Sheets: `Open POA&M Items`
(open items), `Closed POA&M Items` (closed items: closed on their Status Date, CG §2.7) and
`Configuration Findings` (open configuration findings); any other sheet with the header row is
read as open items; a sheet without it (Record of Changes) is skipped. The template's guidance
rows (6 and 7) and its example row (`V-1Example`) are skipped.

Strict on structure, lenient on values: a row that cannot be read (no POAM ID, no readable
Original Detection Date or Original Risk Rating) is left out with one warning naming the sheet,
row and column; an odd value elsewhere is warned about and read as empty (the cell itself is
kept, `domain.kept_cells`, so an export writes it back as given). Milestone text outside the
template's grammar (spec §1.5) is kept as free text. The file is refused (`InputError`) only
when no sheet has the POA&M header row, or the workbook is not a safe `.xlsx`/`.xlsm` (zip
limits and XML checks of `inventory_xlsx`). Read with openpyxl in read-only mode, values only
(a formula's last computed value; a Scheduled Completion Date formula never computed is
computed as the template's formula does, spec §1.4).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from poam.domain import kept_cells
from poam.domain.imported import ImportedItem
from poam.domain.milestones import MilestoneSyntaxError, parse_changes, parse_milestones
from poam.domain.models import ItemStatus, Level, PoamItem, YesNo
from poam.errors import InputError, printable
from poam.exporters.fedramp_xlsx import DESCRIPTIONS, FORMAT_HINTS, HEADERS, row_values
from poam.parsers.inventory_xlsx import _check_zip

ORIGIN = "poam-xlsx"
HEADER_ROWS = 30
"""The header row is looked for in a sheet's first rows."""
REQUIRED = ("POAM ID", "Weakness Name", "Original Detection Date", "Original Risk Rating")
"""Columns a sheet must have to be read; a row without a readable value in one is left out."""
MIN_HEADERS = 10
"""A header row names at least this many of the template's columns."""
TEMPLATE_DAYS = {Level.HIGH: 30, Level.MODERATE: 90, Level.LOW: 180}
"""The template's Scheduled Completion Date formula (spec §1.4)."""
_VENDOR_RELEASE = re.compile(r"Vendor fix released (\d{4}-\d{2}-\d{2})\.")
_TEXT_DATES = ("%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y", "%m-%d-%y", "%Y-%m-%dT%H:%M:%S")
_SPLIT = re.compile(r"[,;\n]+")
_ANSWERS = {
    "yes": YesNo.YES,
    "y": YesNo.YES,
    "true": YesNo.YES,
    "no": YesNo.NO,
    "n": YesNo.NO,
    "false": YesNo.NO,
    "pending": YesNo.PENDING,
}


def _key(text: str) -> str:
    """A header as compared: letters and digits only, lower case (`POA&M ID` is `POAM ID`)."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


_BY_KEY = {_key(h): h for h in HEADERS}
_GUIDE = {_key(DESCRIPTIONS[0]), _key(FORMAT_HINTS[0])}


@dataclass
class Workbook:
    """What a POA&M workbook holds: its items, the header block, and the warnings."""

    items: list[ImportedItem] = field(default_factory=list)
    csp: str | None = None
    system_name: str | None = None
    poam_date: dt.date | None = None
    warnings: list[str] = field(default_factory=list)


def _letter(index: int) -> str:
    n, out = index + 1, ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def header_map(cells: tuple[Any, ...]) -> dict[str, int]:
    """The template's headers found in a row, by column index (the first of a repeated one)."""
    found: dict[str, int] = {}
    for i, value in enumerate(cells):
        if isinstance(value, str):
            name = _BY_KEY.get(_key(value))
            if name is not None and name not in found:
                found[name] = i
    return found


def _is_header(found: dict[str, int]) -> bool:
    return all(h in found for h in ("POAM ID", "Weakness Name")) and len(found) >= MIN_HEADERS


@contextlib.contextmanager
def _open(path: Path) -> Iterator[Any]:
    """The workbook, read-only, values only, after the zip and XML checks; closed afterwards."""
    import openpyxl

    source = str(path)
    _check_zip(path, source)
    with path.open("rb") as handle:  # a handle: detection is by content, whatever the file's extension
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # openpyxl warns of the template's unsupported extensions
                book = openpyxl.load_workbook(handle, read_only=True, data_only=True, keep_links=False)
        except Exception as exc:  # openpyxl raises many kinds on damaged files
            raise InputError(source, f"cannot read the workbook ({type(exc).__name__})") from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield book
        finally:
            book.close()


def looks_like(path: Path) -> bool:
    """Whether a file is a workbook with a POA&M header row on some sheet (detection by content)."""
    try:
        with path.open("rb") as f:
            if f.read(4) != b"PK\x03\x04":
                return False
        with zipfile.ZipFile(path) as z:
            if "xl/workbook.xml" not in z.namelist():
                return False
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    try:
        with _open(path) as book:
            for sheet in book.worksheets:
                for cells in sheet.iter_rows(max_row=HEADER_ROWS, values_only=True):
                    if _is_header(header_map(cells)):
                        return True
    except InputError:
        return True  # a workbook refused as unsafe: `read` says why (never sent on to another reader)
    return False


def read(path: Path) -> Workbook:
    """Every item of the workbook's POA&M sheets, with a warning line per odd value or row left out."""
    source = str(path)
    out = Workbook()
    sheets = 0
    with _open(path) as book:
        for sheet in book.worksheets:
            sheets += _Sheet(sheet.title, out).read(sheet.iter_rows(values_only=True))
    if not sheets:
        raise InputError(
            source,
            "not a POA&M workbook: no sheet has the FedRAMP POA&M header row (POAM ID, Weakness Name, ...)",
        )
    return out


class _Row:
    """One row's cells, by header, with the warnings of its odd values."""

    def __init__(self, sheet: str, number: int, cells: tuple[Any, ...], columns: dict[str, int], out: Workbook) -> None:
        self.sheet, self.number, self.cells, self.columns, self.out = sheet, number, cells, columns, out
        self.pending: list[tuple[int, str]] = []

    def exact(self, header: str) -> Any:
        """The cell's value as the workbook holds it (None: no such column)."""
        i = self.columns.get(header)
        return self.cells[i] if i is not None and i < len(self.cells) else None

    def raw(self, header: str) -> Any:
        value = self.exact(header)
        if isinstance(value, str):
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        return value

    def where(self, header: str | None = None) -> str:
        at = f"{self.sheet} row {self.number}"
        if header is None:
            return at
        return f"{at}, column {_letter(self.columns[header])} ({header})"

    def warn(self, header: str, problem: str) -> None:
        self.pending.append((self.columns[header], f"{self.where(header)}: {problem}"))

    def flush(self) -> None:
        """The row's warnings, in column order."""
        self.out.warnings += [text for _i, text in sorted(self.pending)]

    def text(self, header: str) -> str | None:
        value = kept_cells.plain(self.raw(header))
        if value is None:
            return None
        if isinstance(value, dt.datetime | dt.date):
            return value.isoformat()
        text = str(value).strip()
        return text or None

    def date(self, header: str, required: bool = False) -> dt.date | None:
        value = kept_cells.plain(self.raw(header))
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise _Unreadable(header, "empty")
            return None
        day = _as_date(value)
        if day is None or not dt.date(1900, 1, 2) <= day <= dt.date(2199, 12, 31):
            problem = f"not a date: {printable(str(value)[:40])!r}"
            if required:
                raise _Unreadable(header, problem)
            self.warn(header, f"{problem}; read as empty")
            return None
        return day

    def required_date(self, header: str) -> dt.date:
        """A date the row cannot be read without."""
        day = self.date(header, required=True)
        if day is None:  # never: `date` raises for a required one
            raise _Unreadable(header, "empty")
        return day

    def required_level(self, header: str) -> Level:
        """A rating the row cannot be read without."""
        level = self.level(header, required=True)
        if level is None:  # never: `level` raises for a required one
            raise _Unreadable(header, "empty")
        return level

    def yes_no(self, header: str) -> YesNo:
        text = self.text(header)
        if text is None:
            return YesNo.NO
        found = _ANSWERS.get(text.lower())
        if found is None:
            self.warn(header, f"not Yes, No or Pending: {printable(text[:40])!r}; read as No")
            return YesNo.NO
        return found

    def level(self, header: str, required: bool = False) -> Level | None:
        text = self.text(header)
        if text is None or (not required and text.lower() in ("n/a", "na", "none")):
            if required:
                raise _Unreadable(header, "empty")
            return None
        try:
            return Level(text.strip().capitalize())
        except ValueError:
            problem = f"not Low, Moderate or High: {printable(text[:40])!r}"
            if required:
                raise _Unreadable(header, problem) from None
            self.warn(header, f"{problem}; read as empty")
            return None


class _Unreadable(Exception):
    def __init__(self, header: str, problem: str) -> None:
        super().__init__(problem)
        self.header = header
        self.problem = problem


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 < value < 200_000:
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))  # an Excel serial date, unformatted
    if isinstance(value, str):
        text = value.strip()
        for fmt in _TEXT_DATES:
            try:
                return dt.datetime.strptime(text, fmt).date()
            except ValueError:
                continue
    return None


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in _SPLIT.split(text or "") if p.strip())


class _Sheet:
    def __init__(self, title: str, out: Workbook) -> None:
        self.title = title
        self.out = out
        name = title.lower()
        self.status = ItemStatus.CLOSED if "closed" in name else ItemStatus.OPEN
        self.is_config = "config" in name and self.status is ItemStatus.OPEN

    def read(self, rows: Iterator[tuple[Any, ...]]) -> int:
        """Read the sheet's items; 1 when it has the header row, else 0."""
        columns: dict[str, int] | None = None
        above: list[tuple[Any, ...]] = []
        for number, cells in enumerate(rows, start=1):
            if columns is None:
                found = header_map(cells)
                if _is_header(found):
                    columns = found
                    self._header_block(above)
                    missing = [h for h in REQUIRED if h not in found]
                    if missing:
                        self.out.warnings.append(
                            f"{self.title} row {number}: no {', '.join(missing)} column; sheet left out"
                        )
                        return 1
                    absent = [h for h in HEADERS if h not in found and h != "Service Name"]
                    if absent:
                        self.out.warnings.append(
                            f"{self.title} row {number}: no column {', '.join(absent)}; read as empty"
                        )
                elif number >= HEADER_ROWS:
                    return 0
                else:
                    above.append(cells)
                continue
            if not any(c is not None and (not isinstance(c, str) or c.strip()) for c in cells):
                continue
            row = _Row(self.title, number, cells, columns, self.out)
            first = row.text("POAM ID") or ""
            if _key(first) in _GUIDE:
                continue  # the template's guidance rows
            if first.endswith("Example") and number <= 8:
                self.out.warnings.append(f"{row.where('POAM ID')}: the template's example row {first!r}; left out")
                continue
            try:
                self.out.items.append(self._item(row))
                row.flush()
            except _Unreadable as exc:
                self.out.warnings.append(f"{row.where(exc.header)}: {exc.problem}; row left out")
        return 0 if columns is None else 1

    def _header_block(self, above: list[tuple[Any, ...]]) -> None:
        """CSP, System Name, Impact Level, POAM Date: labels on one row, values on the next."""
        for i, cells in enumerate(above[:-1]):
            labels = {_key(c): j for j, c in enumerate(cells) if isinstance(c, str)}
            if "poamdate" in labels and "systemname" in labels:
                values = above[i + 1]

                def at(name: str, values: tuple[Any, ...] = values, labels: dict[str, int] = labels) -> Any:
                    j = labels.get(name)
                    return values[j] if j is not None and j < len(values) else None

                day = _as_date(kept_cells.plain(at("poamdate")))
                if day is not None and dt.date(2000, 1, 2) <= day <= dt.date(2199, 12, 31):
                    self.out.poam_date = self.out.poam_date or day
                for name, attr in (("csp", "csp"), ("systemname", "system_name")):
                    text = at(name)
                    if isinstance(text, str) and text.strip() and text.strip() != "Text":
                        setattr(self.out, attr, getattr(self.out, attr) or text.strip())
                return

    def _item(self, row: _Row) -> ImportedItem:
        poam_id = row.text("POAM ID")
        if poam_id is None:
            raise _Unreadable("POAM ID", "empty")
        detected = row.required_date("Original Detection Date")
        original = row.required_level("Original Risk Rating")
        adjusted = row.level("Adjusted Risk Rating")
        risk_adjustment = row.yes_no("Risk Adjustment")
        status_date = row.date("Status Date") or detected
        scheduled = row.date("Scheduled Completion Date")
        if scheduled is None:  # never computed (a workbook saved by a program): the template's formula
            rating = adjusted if adjusted is not None and risk_adjustment is YesNo.YES else original
            scheduled = detected + dt.timedelta(days=TEMPLATE_DAYS[rating.fedramp])
        extra: dict[str, Any] = {}
        milestones_text = row.text("Planned Milestones")
        try:
            planned = tuple(parse_milestones(milestones_text or ""))
        except MilestoneSyntaxError as exc:
            planned = ()
            extra["milestones_text"] = milestones_text
            row.warn("Planned Milestones", f"not in the template's form ({exc}); kept as free text")
        changes_text = row.text("Milestone Changes")
        try:
            changes = tuple(parse_changes(changes_text or ""))
        except MilestoneSyntaxError as exc:
            changes = ()
            extra["milestone_changes_text"] = changes_text
            row.warn("Milestone Changes", f"not in the template's form ({exc}); kept as free text")
        comments = row.text("Comments")
        release: dt.date | None = None
        if comments:
            first, _, rest = comments.partition("\n")
            m = _VENDOR_RELEASE.fullmatch(first.strip())
            if m:
                release = dt.date.fromisoformat(m.group(1))
                comments = rest.strip() or None
        kev_due = row.date("Binding Operational Directive 22-01 Due Date")
        item = PoamItem(
            poam_id=poam_id,
            status=self.status,
            weakness_name=row.text("Weakness Name") or "",
            weakness_description=row.text("Weakness Description") or "",
            detector_source=row.text("Weakness Detector Source") or "",
            source_identifier=row.text("Weakness Source Identifier") or "",
            detection_date=detected,
            scheduled_completion_date=scheduled,
            status_date=status_date,
            original_risk=original,
            controls=_split(row.text("Controls")),
            point_of_contact=row.text("Point of Contact"),
            resources_required=row.text("Resources Required"),
            remediation_plan=row.text("Overall Remediation Plan"),
            milestones=planned,
            milestone_changes=changes,
            vendor_dependency=row.yes_no("Vendor Dependency"),
            last_vendor_checkin=row.date("Last Vendor Check-in Date"),
            vendor_product=row.text("Vendor Dependent Product Name"),
            adjusted_risk=adjusted,
            risk_adjustment=risk_adjustment,
            false_positive=row.yes_no("False Positive"),
            operational_requirement=row.yes_no("Operational Requirement"),
            deviation_rationale=row.text("Deviation Rationale"),
            supporting_documents=row.text("Supporting Documents"),
            comments=comments,
            auto_approve=row.yes_no("Auto-Approve"),
            kev=row.yes_no("Binding Operational Directive 22-01 tracking") is YesNo.YES,
            kev_due_date=kev_due,
            cves=_split(row.text("CVE")),
            service_names=row.text("Service Name"),
            is_config=self.is_config,
            closed_at=status_date if self.status is ItemStatus.CLOSED else None,
            reported_at=self.out.poam_date,
            vendor_release_date=release,
            origin=ORIGIN,
            asset_text=row.text("Asset Identifier"),
        )
        given = [row.exact(h) for h in HEADERS]
        cells = kept_cells.kept(HEADERS, given, row_values(item))
        if given[HEADERS.index("Scheduled Completion Date")] is None:
            # an empty cell, or the template's formula never computed: the export writes the date it gives
            cells.pop("Scheduled Completion Date", None)
        if cells:
            extra[kept_cells.KEY] = cells
        return ImportedItem(item=replace(item, extra={}), where=row.where(), asset_text=item.asset_text, extra=extra)
