"""The CISA Known Exploited Vulnerabilities catalog, loaded from a file (never fetched)."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, insert, select, update

from poam.errors import InputError
from poam.parsers import csvio, jsonio
from poam.services import audit
from poam.store.tables import items, kev_entries, settings
from poam.store.tables import systems as systems_table

MAX_SIZE = 200 * 1024 * 1024
_CVE = re.compile(r"^CVE-\d{4}-\d{4,19}$")


@dataclass(frozen=True, slots=True)
class KevLoad:
    """What loading a catalog did."""

    version: str
    entries: int
    items_flagged: int


def _date(value: object, source: str, cve: str, field: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InputError(source, f"{cve}: {field} {value!r} is not a date") from None


def _rows(path: Path, source: str) -> tuple[str, list[dict[str, object]]]:
    if path.stat().st_size > MAX_SIZE:
        raise InputError(source, "file is larger than 200 MB; not a KEV catalog")
    raw = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(source, "not UTF-8 text") from None
    if not text.strip():
        raise InputError(source, "empty file")
    if text.lstrip().startswith("{"):
        doc = jsonio.load(io.BytesIO(raw), source, MAX_SIZE)  # nesting and numbers bounded first
        vulns = doc.get("vulnerabilities") if isinstance(doc, dict) else None
        if not isinstance(vulns, list):
            raise InputError(source, "not a KEV catalog (no 'vulnerabilities' list)")
        version = str(doc.get("catalogVersion") or doc.get("dateReleased") or "unknown")
        return version, [v for v in vulns if isinstance(v, dict)]
    table = csvio.table(io.BytesIO(raw), source)  # field limit, encoding, a file cut short refused
    header = next(table, None)
    if not header or "cveID" not in header or "dueDate" not in header:
        raise InputError(source, "not a KEV catalog (CSV needs cveID and dueDate columns)")
    rows: list[dict[str, object]] = [
        dict(zip(header, row, strict=False)) for row in table if any(cell.strip() for cell in row)
    ]
    return _csv_version(rows, path.name), rows


def _csv_version(rows: list[dict[str, object]], name: str) -> str:
    """The CSV catalog carries no version: its newest `dateAdded`, written as CISA writes the JSON
    catalog's version (`2026.12.02`), dates it (the catalog is at least that recent); the file name
    when no date can be read."""
    newest = None
    for row in rows:
        try:
            day = dt.date.fromisoformat(str(row.get("dateAdded") or "").strip())
        except ValueError:
            continue
        newest = day if newest is None or day > newest else newest
    return f"{newest:%Y.%m.%d} (CSV, newest dateAdded)" if newest else f"csv:{name}"


def _text(value: object, size: int | None) -> str | None:
    """Descriptive text as the column holds it (cut to its size; never refused)."""
    if value in (None, ""):
        return None
    text = str(value)
    return text[:size] if size else text


def _yes_no(value: object) -> bool | None:
    """BOD 26-04's `forensicTriage` ("Yes"/"No", any case); None when absent or another word."""
    word = str(value or "").strip().lower()
    return True if word == "yes" else False if word == "no" else None


def load_catalog(engine: Engine, path: Path, actor: str) -> KevLoad:
    """Replace the stored catalog with this file and flag the open items it lists."""
    source = str(path)
    if not path.is_file():
        raise InputError(source, "no such file")
    version, raw_rows = _rows(path, source)
    rows = []
    seen: set[str] = set()
    for v in raw_rows:
        cve = str(v.get("cveID") or "").strip().upper()
        if not _CVE.match(cve):
            raise InputError(source, f"entry with bad cveID {v.get('cveID')!r}")
        due = _date(v.get("dueDate"), source, cve, "dueDate")
        if due is None:
            raise InputError(source, f"{cve}: no dueDate")
        if cve in seen:
            continue
        seen.add(cve)
        rows.append(
            {
                "cve": cve,
                "vendor": _text(v.get("vendorProject"), 200),
                "product": _text(v.get("product"), 200),
                "name": _text(v.get("vulnerabilityName"), None),
                "date_added": _date(v.get("dateAdded"), source, cve, "dateAdded"),
                "due_date": due,
                "ransomware": _text(v.get("knownRansomwareCampaignUse"), 20),
                "forensic_triage": _yes_no(v.get("forensicTriage")),
            }
        )
    if not rows:
        raise InputError(source, "the catalog lists no vulnerabilities")
    with engine.begin() as conn:
        for system_id in conn.execute(select(systems_table.c.id)).scalars().all():
            audit.precheck(conn, system_id, actor)  # edits made outside poam stay on record
        conn.execute(delete(kev_entries))
        for start in range(0, len(rows), 2000):
            conn.execute(insert(kev_entries), rows[start : start + 2000])
        conn.execute(delete(settings).where(settings.c.key == "kev_version"))
        conn.execute(insert(settings).values(key="kev_version", value=version))
        flagged = refresh_items(conn)
        now = audit.now()
        audit.record(
            conn,
            actor,
            [audit.Event("kev.load", "kev", version, {"entries": len(rows), "items_flagged": flagged})],
            now,
        )
        from poam.services import deadlines

        deadlines.mark_stale(conn, items.c.cves != "")
        deadlines.refresh(conn, actor, f"KEV catalog {version} loaded", now)
    return KevLoad(version, len(rows), flagged)


def due_date(conn: Connection, cves: Iterable[str]) -> dt.date | None:
    """The earliest KEV due date among these CVEs, or None when none is in the catalog."""
    cve_list = [c for c in cves if c]
    if not cve_list:
        return None
    dues = conn.execute(select(kev_entries.c.due_date).where(kev_entries.c.cve.in_(cve_list))).scalars()
    return min(dues, default=None)


def due_dates(conn: Connection, cves: list[str]) -> dict[str, dt.date]:
    """KEV due date per CVE, for those of these CVEs that the catalog lists."""
    found: dict[str, dt.date] = {}
    for start in range(0, len(cves), 500):
        rows = conn.execute(
            select(kev_entries.c.cve, kev_entries.c.due_date).where(kev_entries.c.cve.in_(cves[start : start + 500]))
        )
        found.update({r.cve: r.due_date for r in rows})
    return found


def refresh_items(conn: Connection) -> int:
    """Set the KEV flag and due date of open items from the stored catalog; returns how many are KEV."""
    flagged = 0
    rows = conn.execute(
        select(items.c.id, items.c.cves, items.c.kev, items.c.kev_due_date).where(items.c.status == "open")
    ).all()
    for row in rows:
        due = due_date(conn, row.cves.split(",")) if row.cves else None
        if due is not None:
            flagged += 1
        if bool(row.kev) != (due is not None) or row.kev_due_date != due:
            conn.execute(update(items).where(items.c.id == row.id).values(kev=due is not None, kev_due_date=due))
    return flagged


def catalog_version(conn: Connection) -> str | None:
    """The version of the loaded catalog, or None."""
    return conn.execute(select(settings.c.value).where(settings.c.key == "kev_version")).scalar_one_or_none()
