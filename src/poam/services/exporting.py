"""Writing the deliverables: the FedRAMP workbook, the OSCAL POA&M and a text summary."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import secrets
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError

from poam.domain.models import ItemStatus, PoamItem
from poam.domain.policy import due_date, is_late
from poam.errors import OutputError, PoamError, UsageError, ValueRefused, error_kind, printable
from poam.exporters import fedramp_template, fedramp_xlsx, oscal_poam
from poam.services import audit, kev, systems
from poam.services.items import load
from poam.services.systems import SystemInfo
from poam.store import db
from poam.store.tables import assets, audit_events, findings, items, scans


@dataclass(frozen=True, slots=True)
class Export:
    """What an export wrote."""

    path: Path
    system: str
    items: int
    detail: dict[str, int]


def _check_target(path: Path) -> None:
    if path.is_dir():
        raise UsageError(f"{path}: is a folder; give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent}: folder does not exist")


class Deliverable:
    """Writes a file so that it is either wholly the new content or left as it was.

    The content goes to a temporary file beside the target (`.NAME.<random>.tmp`, same folder so
    same file system), which is flushed to disk and renamed over the target by `install` (an
    atomic `os.replace`). Use it around the database transaction that records the export:

        with Deliverable(path) as out, engine.begin() as conn:
            write(out.temp, ...)
            audit.record(conn, ...)
            out.install()

    If anything fails before `install`, the temporary file is removed and the target is untouched
    (the transaction rolls back, so no audit event). If the commit fails after `install`, the
    previous file (kept as a hard link until the commit) is put back, or the new file removed when
    there was none. An `OSError` (disk full, no permission) becomes one `OutputError` line.

    A target that exists and is not a regular file (`/dev/stdout`, a named pipe) cannot be
    replaced: it is written in place. A symbolic link is kept and the file it points to replaced.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.target = path
        self.temp = path
        self.backup: Path | None = None
        self.installed = False
        self.in_place = False

    def __enter__(self) -> Deliverable:
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            mode = None
        except OSError as exc:
            raise self._error(exc) from None
        if mode is not None and not stat.S_ISREG(mode):
            self.in_place = True
            return self
        if mode is not None and not os.access(self.path, os.W_OK):  # as writing in place would be
            raise self._error(PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
        self.target = Path(os.path.realpath(self.path))
        self.temp = self.target.with_name(f".{self.target.name[:100]}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
            os.close(fd)
        except OSError as exc:
            self._discard(self.temp)
            raise self._error(exc) from None
        return self

    def install(self) -> None:
        """Put the written temporary file in place of the target."""
        if self.in_place:
            self.installed = True
            return
        with open(self.temp, "rb+") as f:  # noqa: PTH123
            os.fsync(f.fileno())
        if self.target.exists():
            shutil.copymode(self.target, self.temp)  # a deliberately private file stays private
            backup = self.target.with_name(f".{self.target.name[:100]}.{secrets.token_hex(4)}.old")
            try:
                os.link(self.target, backup)
                self.backup = backup
            except OSError:
                self.backup = None  # no hard links here: a failed commit cannot put it back
        os.replace(self.temp, self.target)
        self.installed = True
        _sync_folder(self.target.parent)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        after_install = self.installed
        if not self.in_place:
            if exc is not None and self.installed:
                try:
                    if self.backup is not None:
                        os.replace(self.backup, self.target)
                        self.backup = None
                    else:
                        self.target.unlink()
                    self.installed = False
                except OSError:
                    pass  # said in the message
            self._discard(self.temp)
            if self.backup is not None:
                self._discard(self.backup)
        if isinstance(exc, OSError):
            raise self._error(exc) from None
        if isinstance(exc, DBAPIError) and after_install:  # the commit that records the export failed
            raise OutputError(
                f"{printable(str(self.path))}: the export could not be recorded in the audit log "
                f"({error_kind(exc)}); "
                f"the file there is {self._kept()}"
            ) from None

    def _kept(self) -> str:
        if self.in_place:
            return "incomplete"
        return "the new export, not recorded in the audit log" if self.installed else "left as it was"

    def _error(self, exc: OSError) -> OutputError:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0) or type(exc).__name__
        return OutputError(
            f"{printable(str(self.path))}: cannot write the file ({reason}); the file there is {self._kept()}"
        )

    @staticmethod
    def _discard(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text(path: Path, text: str) -> None:
    """Write a text file (the summary's `--out`) atomically; no audit event."""
    _check_target(path)
    with Deliverable(path) as out:
        out.temp.write_text(text, encoding="utf-8")
        out.install()


def _record(conn: Connection, actor: str, system: SystemInfo, kind: str, path: Path, detail: dict[str, Any]) -> None:
    audit.record(
        conn, actor, [audit.Event(f"export.{kind}", "system", str(system.id), {"file": str(path), **detail}, system.id)]
    )


SCOPES = ("all", "late")


def export_fedramp(
    engine: Engine,
    path: Path,
    system: str | None,
    actor: str,
    poam_date: dt.date | None = None,
    template: Path | None = None,
    scope: str = "all",
) -> Export:
    """Write the FedRAMP POA&M workbook for the system: streamed by XlsxWriter, or `template` (a
    copy of the official template, .xlsx or .xlsm) filled. `scope` `late`: only the open items past
    their due date on the POAM Date (the earlier of Scheduled Completion Date and the BOD 22-01/KEV
    due date, as `summarize` judges lateness)."""
    if scope not in SCOPES:
        raise ValueRefused(f"--scope must be one of {', '.join(SCOPES)}, not {printable(scope)!r}")
    if template is not None:
        refused = fedramp_template.check_suffix(template, path)
        if refused:
            raise ValueRefused(printable(refused))
        fedramp_template.load(template)  # refuse a file that is not a template before anything else
    _check_target(path)
    day = poam_date or dt.date.today()
    with Deliverable(path) as out, engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        all_items = load(conn, info.id, "open" if scope == "late" else "all")
        if scope == "late":
            all_items = [i for i in all_items if is_late(i.scheduled_completion_date, i.kev_due_date, day)]
        header = fedramp_xlsx.Header(csp=info.org or "", system_name=info.name, impact=info.impact, poam_date=day)
        if template is None:
            counts = fedramp_xlsx.write(out.temp, header, all_items)
        else:
            counts = fedramp_template.fill(template, out.temp, header, all_items)
        detail: dict[str, Any] = {**counts, "scope": scope}
        if template is not None:
            detail["template"] = str(template)
        _record(conn, actor, info, "fedramp", path, detail)
        out.install()
    return Export(path, info.name, len(all_items), counts)


def _last_modified(conn: Connection, system_id: int) -> dt.datetime:
    changed = conn.execute(
        select(func.max(audit_events.c.at)).where(
            audit_events.c.system_id == system_id, ~audit_events.c.action.like("export.%")
        )
    ).scalar_one_or_none()
    return changed or dt.datetime(2000, 1, 1)


def oscal_document(conn: Connection, info: SystemInfo, ssp_href: str | None = None) -> dict[str, Any]:
    """The OSCAL POA&M for a system, as JSON data; `ssp_href` is where the system's OSCAL SSP is
    (None: the document says no OSCAL SSP is delivered)."""
    all_items = load(conn, info.id, "all")
    item_ids = select(items.c.id).where(items.c.system_id == info.id)
    asset_rows = conn.execute(
        select(assets)
        .where(assets.c.id.in_(select(findings.c.asset_id).where(findings.c.item_id.in_(item_ids))))
        .order_by(assets.c.identifier, assets.c.id)
    ).all()
    inventory = [
        oscal_poam.InventoryAsset(a.identifier, a.kind, str(a.id), a.ip, a.fqdn, a.netbios, a.mac, a.os)
        for a in asset_rows
    ]
    versions = {
        r.tool: r.tool_version
        for r in conn.execute(
            select(scans.c.tool, scans.c.tool_version)
            .where(scans.c.system_id == info.id, scans.c.tool_version.is_not(None))
            .order_by(scans.c.started_at)
        )
    }
    tools = [oscal_poam.Tool(name, version) for name, version in sorted(versions.items())]
    doc = oscal_poam.Document(
        system_name=info.name,
        org=info.org,
        fedramp_id=info.fedramp_id,
        impact=info.impact,
        last_modified=_last_modified(conn, info.id),
        items=all_items,
        assets=inventory,
        tools=tools,
        ssp_href=ssp_href,
    )
    return oscal_poam.build(doc)


def oscal_refusals(document: dict[str, Any]) -> list[str]:
    """Why poam would not write this OSCAL document: the NIST schema of its version and FedRAMP's
    rules (`exporters.oscal_checks`). The placeholder poam-item of a system without items names no
    risk (there is none); that one problem is allowed."""
    from poam.exporters import oscal_checks

    body = document[oscal_checks.ROOT]
    found = oscal_checks.problems(document)
    if not body.get("risks"):
        found = [p for p in found if p.path != "$.plan-of-action-and-milestones.poam-items[0].related-risks"]
    return [p.line() for p in found]


def export_oscal(
    engine: Engine, path: Path, system: str | None, actor: str, validate: bool = True, ssp_href: str | None = None
) -> Export:
    """Write the OSCAL POA&M (JSON; XML when the file name ends in `.xml`); refuse to write a
    document that breaks the NIST schema or FedRAMP's rules (checked on its JSON form)."""
    _check_target(path)
    with Deliverable(path) as out, engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        document = oscal_document(conn, info, ssp_href)
        if validate:
            problems = oscal_refusals(document)
            if problems:
                raise PoamError("the OSCAL document would not be valid: " + "; ".join(problems[:5]))
        as_xml = path.suffix.lower() == ".xml"
        if as_xml:
            from poam.exporters import oscal_xml

            oscal_xml.write(out.temp, document)
        else:
            oscal_poam.write(out.temp, document)
        count = len(document["plan-of-action-and-milestones"].get("risks", []))
        _record(conn, actor, info, "oscal", path, {"items": count, "ssp": ssp_href, "xml": as_xml})
        out.install()
    return Export(path, info.name, count, {"poam-items": count})


@dataclass(frozen=True, slots=True)
class Summary:
    """The state of a system's POA&M on a day."""

    system: SystemInfo
    today: dt.date
    open_by_risk: dict[str, int]
    open_total: int
    config_open: int
    closed_total: int
    late: list[PoamItem]
    due_soon: list[PoamItem]
    kev_open: int
    no_poc: int
    scans: int
    assets: int
    kev_catalog: str | None
    last_scan: tuple[str, str | None, dt.datetime | None] | None


def summarize(engine: Engine, system: str | None, today: dt.date | None = None) -> Summary:
    """Counts of open, late and closed items, for the summary report."""
    today = today or dt.date.today()
    with db.read(engine) as conn:
        info = systems.resolve(conn, system, audit.default_actor())
        all_items = load(conn, info.id, "all")
        open_items = [i for i in all_items if i.status is ItemStatus.OPEN]
        by_risk = {"High": 0, "Moderate": 0, "Low": 0}
        for i in open_items:
            by_risk[i.original_risk.fedramp.value] += 1
        late = [i for i in open_items if is_late(i.scheduled_completion_date, i.kev_due_date, today)]
        late_ids = {i.poam_id for i in late}
        soon = [
            i
            for i in open_items
            if i.poam_id not in late_ids and (due_date(i.scheduled_completion_date, i.kev_due_date) - today).days <= 30
        ]
        last = conn.execute(
            select(scans.c.filename, scans.c.tool, scans.c.ended_at)
            .where(scans.c.system_id == info.id)
            .order_by(scans.c.ended_at.desc())
            .limit(1)
        ).first()
        return Summary(
            system=info,
            today=today,
            open_by_risk=by_risk,
            open_total=len(open_items),
            config_open=sum(1 for i in open_items if i.is_config),
            closed_total=len(all_items) - len(open_items),
            late=late,
            due_soon=soon,
            kev_open=sum(1 for i in open_items if i.kev),
            no_poc=sum(1 for i in open_items if not i.point_of_contact),
            scans=conn.execute(select(func.count()).where(scans.c.system_id == info.id)).scalar_one(),
            assets=conn.execute(select(func.count()).where(assets.c.system_id == info.id)).scalar_one(),
            kev_catalog=kev.catalog_version(conn),
            last_scan=(last.filename, last.tool, last.ended_at) if last else None,
        )


def summary_json(s: Summary) -> dict[str, object]:
    """The summary as `poam summary --json` gives it (dates ISO 8601, lists as lists)."""

    def listed(found: list[PoamItem]) -> list[dict[str, object]]:
        return [
            {
                "poam_id": i.poam_id,
                "risk": i.original_risk.fedramp.value,
                "due": due_date(i.scheduled_completion_date, i.kev_due_date).isoformat(),
                "days_late": max((s.today - due_date(i.scheduled_completion_date, i.kev_due_date)).days, 0),
                "weakness": i.weakness_name,
            }
            for i in found
        ]

    name, tool, ended = s.last_scan if s.last_scan else (None, None, None)
    return {
        "system": s.system.name,
        "impact": s.system.impact,
        "policy": s.system.policy,
        "date": s.today.isoformat(),
        "open": s.open_total,
        "open_by_risk": s.open_by_risk,
        "configuration_open": s.config_open,
        "closed": s.closed_total,
        "kev_open": s.kev_open,
        "without_point_of_contact": s.no_poc,
        "assets": s.assets,
        "scans": s.scans,
        "kev_catalog": s.kev_catalog,
        "latest_scan": (
            {"file": name, "tool": tool, "ended_at": ended.strftime("%Y-%m-%dT%H:%M:%SZ") if ended else None}
            if s.last_scan
            else None
        ),
        "late": listed(s.late),
        "due_within_30_days": listed(s.due_soon),
    }


def summary_text(s: Summary) -> str:
    """The summary as plain text; text that came from files (names of weaknesses, scan files and
    tools) is made inert on a terminal, one line each (`printable`)."""
    info = s.system
    lines = [
        f"POA&M summary for {printable(info.name)} ({info.impact} impact, policy {info.policy}) "
        f"on {s.today.isoformat()}",
        "",
        f"Open items: {s.open_total} (High {s.open_by_risk['High']}, Moderate {s.open_by_risk['Moderate']}, "
        f"Low {s.open_by_risk['Low']}); {s.config_open} of them configuration findings",
        f"Late: {len(s.late)}   Due within 30 days: {len(s.due_soon)}   KEV: {s.kev_open}",
        f"Closed items: {s.closed_total}",
        f"Assets: {s.assets}   Scans imported: {s.scans}",
        f"KEV catalog: {printable(s.kev_catalog) if s.kev_catalog else 'not loaded (run `poam kev load FILE`)'}",
    ]
    if s.last_scan:
        name, tool, ended = s.last_scan
        lines.append(
            f"Latest scan: {printable(name)} ({printable(tool or 'unknown tool')}, "
            f"{ended.date().isoformat() if ended else '?'})"
        )
    if s.no_poc:
        lines.append(f"Open items without a point of contact: {s.no_poc}")
    if s.late:
        lines += ["", "Late items:"]
        for i in s.late:
            due = due_date(i.scheduled_completion_date, i.kev_due_date)
            days = (s.today - due).days
            lines.append(
                f"  {printable(i.poam_id):<8} {i.original_risk.fedramp.value:<8} due {due.isoformat()} "
                f"({days} days late)  {printable(i.weakness_name)}"
            )
    if s.due_soon:
        lines += ["", "Due within 30 days:"]
        for i in s.due_soon:
            due = due_date(i.scheduled_completion_date, i.kev_due_date)
            lines.append(
                f"  {printable(i.poam_id):<8} {i.original_risk.fedramp.value:<8} due {due.isoformat()}  "
                f"{printable(i.weakness_name)}"
            )
    return "\n".join(lines) + "\n"
