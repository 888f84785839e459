"""`poam report monthly`: the month's package for a system, written into one folder.

What it holds depends on the system's rule set:

- `fedramp-cr26` (FedRAMP providers from 2026-12-07): the VER reports for the month, the
  Vulnerability Detail Report and Accepted Vulnerability Info (report period: the month's first to
  last day, UTC) and the Historical VER Activity (`services.ver`), and the human-readable VDR
  activity report (HTML and PDF, `services.ver_activity`).
- any other rule set: the FedRAMP POA&M workbook and the OSCAL POA&M (`services.exporting`).
- always: the inventory in the Integrated Inventory Workbook layout, the executive summary (HTML
  and PDF, `services.reporting`), and `<system>-<YYYY-MM>-manifest.json` listing every file with
  its SHA-256.

Made after the month ended, the workbook, OSCAL POA&M, Historical VER Activity and inventory show
the system as it stands when the package is made (what is submitted), while the VER reports for the
month's period, the executive summary and the snapshot are as of the month's end: a note in the
result and the manifest says so.

Files are named `<system>-<YYYY-MM>-<kind>.<ext>` (the system name reduced to letters, digits,
`.`, `_` and `-`). Each file is written atomically (`exporting.Deliverable`); a file of that name
that is a symbolic link is refused, so nothing is written outside OUT_DIR through a link.

Then the submission is recorded (`milestones.record_submission`, dated the day the package is made:
every open item detected by then becomes reported, as the workbook and VER reports deliver it) and
the month is frozen (`snapshots.freeze`). A month frozen before with other content is refused
before anything is written, unless `replace` (audited).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from poam.domain.rules import UTC
from poam.errors import UsageError, ValueRefused, printable
from poam.services import audit, exporting, milestones, reporting, snapshots, systems
from poam.services.systems import SystemInfo
from poam.store import db
from poam.store.tables import assets, scan_assets, scans

MANIFEST = "manifest.json"
ACTIVITY_HOOK = ("poam.services.ver_activity", "both")
"""Where the human-readable VDR activity report comes from: a function
`both(engine, system, actor, within, html_path, pdf_path, now=...)` writing both files."""


@dataclass
class Package:
    """What `package` wrote."""

    folder: Path
    system: str
    month: str
    files: list[dict[str, Any]] = field(default_factory=list)
    snapshot: dict[str, Any] = field(default_factory=dict)
    reported: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "system": self.system,
            "month": self.month,
            "files": self.files,
            "snapshot": self.snapshot,
            "reported": self.reported,
            "notes": self.notes,
        }


def file_stem(system: str, month: str) -> str:
    """`<system>-<month>` with the system name made safe as a file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", system).strip(".-") or "system"
    return f"{safe[:80]}-{month}"


def _folder(out_dir: Path) -> Path:
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueRefused(f"{printable(str(out_dir))}: is a file, not a folder; give a folder for the package")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{printable(str(out_dir))}: cannot create the folder ({exc.strerror})") from None
    return out_dir


def _target(folder: Path, name: str) -> Path:
    path = folder / name
    if path.is_symlink():
        raise UsageError(
            f"{printable(str(path))}: is a symbolic link; poam does not write through links in the package folder"
        )
    if path.exists() and not path.is_file():
        raise UsageError(f"{printable(str(path))}: exists and is not a regular file")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inventory_rows(conn: Connection, info: SystemInfo) -> list[dict[str, str]]:
    """The system's assets as Integrated Inventory Workbook rows: the inventory's own cells where it
    was imported, completed from what poam knows (addresses, names, OS, owner, latest scan)."""
    from poam.exporters.reports.inventory_workbook import KEYS

    latest = conn.execute(
        select(scans.c.id).where(scans.c.system_id == info.id).order_by(scans.c.ended_at.desc()).limit(1)
    ).scalar_one_or_none()
    seen: dict[int, bool | None] = {}
    if latest is not None:
        for r in conn.execute(
            select(scan_assets.c.asset_id, scan_assets.c.authenticated).where(scan_assets.c.scan_id == latest)
        ):
            seen[r.asset_id] = r.authenticated
    out = []
    for a in conn.execute(select(assets).where(assets.c.system_id == info.id).order_by(assets.c.identifier)):
        given: dict[str, str] = json.loads(a.inventory_row) if a.inventory_row else {}
        row = {k: str(v) for k, v in given.items() if k in KEYS}
        derived = {
            "unique_asset_identifier": a.identifier,
            "ipv4_or_ipv6_address": a.ip,
            "public": None if a.public is None else ("Yes" if a.public else "No"),
            "dns_name_or_url": a.fqdn,
            "netbios_name": a.netbios,
            "mac_address": a.mac,
            "os_name_and_version": a.os,
            "asset_type": a.asset_type or a.kind,
            "system_administrator_owner": a.owner,
            "authenticated_scan": None if seen.get(a.id) is None else ("Yes" if seen[a.id] else "No"),
            "in_latest_scan": "Yes" if a.id in seen else "No",
            "comments": None if a.in_inventory else "Found by scans; not in the imported inventory.",
        }
        for k, v in derived.items():
            if v and not row.get(k):
                row[k] = str(v)
        out.append(row)
    return out


def _checked_freeze(engine: Engine, info: SystemInfo, month: str, actor: str, replace: bool) -> None:
    """Refuse now, before anything is written, if freezing the month would be refused."""
    with engine.connect() as conn:
        trial = conn.begin()
        try:
            snapshots.freeze(conn, info, month, actor, replace)
        finally:
            trial.rollback()


def package(
    engine: Engine,
    system: str | None,
    month: str,
    out_dir: Path,
    actor: str,
    replace: bool = False,
    now: dt.datetime | None = None,
) -> Package:
    """Write the month's package into `out_dir` (see the module's rules)."""
    from poam.exporters.reports import executive, inventory_workbook, render

    p = reporting.period(month)
    now = now or dt.datetime.now(UTC)
    if p.first > now.date():
        raise ValueRefused(f"--month: {p.month} has not begun")
    render.require()
    with db.read(engine) as conn:
        info = systems.resolve(conn, system, actor)
    cr26 = info.policy == "fedramp-cr26"
    if cr26 and not info.cpo_uri:
        raise UsageError(
            f"system {info.name!r} has no Certification Package Overview URI, which every VER report names: "
            f"set it with `poam system set {shlex.quote(info.name)} --cpo-uri https://...`"
        )
    folder = _folder(out_dir)
    _checked_freeze(engine, info, p.month, actor, replace)
    stem = file_stem(info.name, p.month)
    result = Package(folder, info.name, p.month)
    if p.last < now.date():  # made after the month ended: say which files are of today
        today = now.date().isoformat()
        current = "the Historical VER Activity" if cr26 else "the POA&M workbook and OSCAL POA&M"
        dated = "the VER reports, the executive summary" if cr26 else "the executive summary"
        result.notes.append(
            f"{current} and the inventory show the system as it stands now ({today}), not at the end of "
            f"{p.month}; {dated} and the snapshot are as of {p.last.isoformat()}"
        )

    def add(path: Path, kind: str) -> None:
        result.files.append({"name": path.name, "kind": kind, "bytes": path.stat().st_size, "sha256": _sha256(path)})

    if cr26:
        from poam.services import ver

        within = ver.period(p.first, p.last)
        for kind in ("vdr", "avi", "ver-history"):
            path = _target(folder, f"{stem}-{kind}.json")
            ver.export(engine, kind, path, info.name, actor, within=within if kind != "ver-history" else None, now=now)
            add(path, kind)
        module, name = ACTIVITY_HOOK
        try:
            hook = getattr(importlib.import_module(module), name, None)
        except ImportError:
            hook = None
        if hook is not None:
            html_path = _target(folder, f"{stem}-vdr-activity.html")
            pdf_path = _target(folder, f"{stem}-vdr-activity.pdf")
            hook(engine, info.name, actor, within, html_path, pdf_path, now=now)
            add(html_path, "vdr-activity-html")
            add(pdf_path, "vdr-activity-pdf")
        else:
            result.notes.append("the human-readable VDR activity report is not available in this version of poam")
    else:
        path = _target(folder, f"{stem}-poam.xlsx")
        exporting.export_fedramp(engine, path, info.name, actor, min(p.last, now.date()))
        add(path, "fedramp-poam")
        path = _target(folder, f"{stem}-poam-oscal.json")
        exporting.export_oscal(engine, path, info.name, actor)
        add(path, "oscal-poam")

    path = _target(folder, f"{stem}-inventory.xlsx")
    with exporting.Deliverable(path) as out, engine.begin() as conn:
        count = inventory_workbook.write(out.temp, inventory_rows(conn, info))
        audit.record(
            conn,
            actor,
            [audit.Event("export.inventory", "system", str(info.id), {"file": str(path), "assets": count}, info.id)],
        )
        out.install()
    add(path, "inventory")

    figures = reporting.month(engine, info.name, p.month, now)
    text = executive.html(figures)
    html_path = _target(folder, f"{stem}-executive-summary.html")
    pdf_path = _target(folder, f"{stem}-executive-summary.pdf")
    with exporting.Deliverable(html_path) as out_html, exporting.Deliverable(pdf_path) as out_pdf:
        out_html.temp.write_text(text, encoding="utf-8")
        executive.pdf(text, out_pdf.temp)
        with engine.begin() as conn:
            detail = {"files": [str(html_path), str(pdf_path)], "month": p.month}
            event = audit.Event("export.executive-summary", "system", str(info.id), detail, info.id)
            audit.record(conn, actor, [event])
            out_html.install()
            out_pdf.install()
    add(html_path, "executive-summary-html")
    add(pdf_path, "executive-summary-pdf")

    _when, result.reported = milestones.record_submission(engine, info.name, actor, now.date(), now.date())
    with engine.begin() as conn:
        frozen = snapshots.freeze(conn, info, p.month, actor, replace, now)
    result.snapshot = {"sha256": frozen.sha256, "items": frozen.items, "outcome": frozen.outcome}

    manifest = {
        "system": info.name,
        "rule_set": info.policy,
        "month": p.month,
        "period": {"from": p.first.isoformat(), "to": p.last.isoformat()},
        "generated_at": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "generated_by": actor,
        "files": result.files,
        "snapshot": result.snapshot,
        "submission": {"date": now.date().isoformat(), "items_reported": len(result.reported)},
        "notes": result.notes,
    }
    path = _target(folder, f"{stem}-{MANIFEST}")
    body = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    with exporting.Deliverable(path) as out, engine.begin() as conn:
        out.temp.write_text(body, encoding="utf-8")
        detail = {"file": str(path), "month": p.month, "sha256": hashlib.sha256(body.encode()).hexdigest()}
        audit.record(conn, actor, [audit.Event("export.monthly", "system", str(info.id), detail, info.id)])
        out.install()
    result.files.append(
        {"name": path.name, "kind": "manifest", "bytes": path.stat().st_size, "sha256": detail["sha256"]}
    )
    return result
