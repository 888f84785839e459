"""Loading threat data from files (`poam intel load`) and saying what is loaded (`poam intel status`).

Each file is recognised by its content: the CISA KEV catalog (JSON or CSV) or FIRST EPSS scores
(CSV, gzip-compressed or not). A file replaces what was loaded before from the same source, in one
transaction with its audit event. Nothing is fetched: many users are air-gapped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.sql.elements import ColumnElement

from poam.errors import InputError
from poam.intel import epss, fedramp_rules, vulnrichment
from poam.parsers.base import ParseContext
from poam.services import audit, kev
from poam.store.bulk import insert_rows
from poam.store.tables import epss_scores, intel_documents, intel_sources, items, ssvc_decisions, systems

SOURCES = {
    "kev": "CISA Known Exploited Vulnerabilities",
    "epss": "FIRST EPSS scores",
    "vulnrichment": "CISA Vulnrichment SSVC",
    "fedramp-rules": "FedRAMP Consolidated Rules",
    "cci": "DISA Control Correlation Identifiers",
}
STALE_DAYS: dict[str, int | None] = {"kev": 7, "epss": 7, "vulnrichment": 30, "fedramp-rules": None, "cci": None}
"""Days after which data is called stale (None: never; the rules change by release)."""
BATCH = 5000


@dataclass
class Loaded:
    """What loading one file did."""

    source: str
    file: str
    version: str | None
    dated: dt.datetime | None
    records: int
    detail: str
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SourceStatus:
    source: str
    name: str
    version: str | None
    dated: dt.datetime | None
    records: int
    file: str
    loaded_at: dt.datetime | None
    """None for the data shipped with poam."""
    age_days: int | None
    """Whole days from the data's date to `today` (None when the data is undated)."""
    stale: bool


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _kind(path: Path, source: str) -> str:
    if vulnrichment.is_archive(path):
        return "vulnrichment"
    try:
        with path.open("rb") as raw:
            head = epss.opened(raw).read(4096)
    except OSError as exc:
        raise InputError(source, f"cannot read: {exc}") from None
    if epss.looks_like(head):
        return "epss"
    text = head.lstrip(b"\xef\xbb\xbf \r\n\t")
    if text.startswith(b"{") and b'"vulnerabilities"' in head or text.startswith(b"cveID,"):
        return "kev"
    if fedramp_rules.looks_like(head):
        return "fedramp-rules"
    if text.startswith(b"<") and b"cci_list" in head:
        return "cci"
    if text.startswith(b"{") and b'"cveMetadata"' in head:
        return "vulnrichment"
    if not text:
        raise InputError(source, "empty file")
    raise InputError(source, "not threat data poam knows (the CISA KEV catalog as JSON or CSV, FIRST EPSS scores)")


def _record(conn: Connection, loaded: Loaded, path: Path, sha: str, now: dt.datetime) -> None:
    conn.execute(delete(intel_sources).where(intel_sources.c.source == loaded.source))
    conn.execute(
        insert(intel_sources).values(
            source=loaded.source,
            version=(loaded.version or "")[:200] or None,
            dated=loaded.dated,
            records=loaded.records,
            filename=path.name[:1000],
            sha256=sha,
            loaded_at=now,
        )
    )


def load(engine: Engine, path: Path, actor: str) -> Loaded:
    """Load one file of threat data (its kind recognised by content)."""
    source = str(path)
    if not path.exists():
        raise InputError(source, "no such file")
    kind = _kind(path, source)
    if kind == "vulnrichment":
        return _load_vulnrichment(engine, path, source, actor)
    sha = _sha256(path)
    if kind == "fedramp-rules":
        return _load_rules(engine, path, source, sha, actor)
    if kind == "cci":
        from poam.services import cci

        found = cci.load(engine, path, actor)
        loaded = Loaded(
            "cci", source, found.version, _day(found.version), len(found.controls), "CCIs mapped to controls"
        )
        with engine.begin() as conn:
            _record(conn, loaded, path, sha, audit.now())
        return loaded
    if kind == "kev":
        result = kev.load_catalog(engine, path, actor)
        loaded = Loaded(
            "kev",
            source,
            result.version,
            _version_date(result.version),
            result.entries,
            f"{result.items_flagged} open item(s) are KEV",
        )
        with engine.begin() as conn:
            _record(conn, loaded, path, sha, audit.now())
        return loaded
    return _load_epss(engine, path, source, sha, actor)


def _version_date(version: str) -> dt.datetime | None:
    """KEV's catalogVersion is its release date (`2026.12.02`)."""
    try:
        return dt.datetime.strptime(version[:10], "%Y.%m.%d")
    except ValueError:
        return None


def _load_epss(engine: Engine, path: Path, source: str, sha: str, actor: str) -> Loaded:
    ctx = ParseContext(source)
    with path.open("rb") as raw:
        stream = epss.opened(raw)
        lines = stream.read(300).decode("utf-8", "replace").splitlines()
        stream.seek(0)
        first = lines[0] if lines else ""
        head = epss.header(first)
        with engine.begin() as conn:
            conn.execute(delete(epss_scores))
            count, batch, seen = 0, [], set()
            for score in epss.scores(stream, ctx):
                if score.cve in seen:
                    raise InputError(source, f"{score.cve} is listed twice: not one day's EPSS scores")
                seen.add(score.cve)
                batch.append({"cve": score.cve, "epss": score.epss, "percentile": score.percentile})
                if len(batch) >= BATCH:
                    insert_rows(conn, epss_scores, batch)
                    count, batch = count + len(batch), []
            insert_rows(conn, epss_scores, batch)
            count += len(batch)
            if count == 0:
                first_problem = ctx.report.warnings[0] if ctx.report.warnings else "no rows"
                raise InputError(source, f"no EPSS score could be read ({first_problem})")
            loaded = Loaded(
                "epss",
                source,
                head.model,
                head.scored,
                count,
                f"model {head.model or 'not given'}",
                list(ctx.report.warnings),
            )
            now = audit.now()
            _record(conn, loaded, path, sha, now)
            detail = {"file": source, "sha256": sha, "model": head.model, "score_date": head.scored, "scores": count}
            audit.record(conn, actor, [audit.Event("intel.load", "intel", "epss", detail)], now)
    return loaded


def _load_vulnrichment(engine: Engine, path: Path, source: str, actor: str) -> Loaded:
    ctx = ParseContext(source)
    sha = "" if path.is_dir() else _sha256(path)
    with engine.begin() as conn:
        conn.execute(delete(ssvc_decisions))
        records, batch, seen, latest = 0, [], set(), None
        for found in vulnrichment.decisions(path, ctx):
            records += 1
            if found is None or found.cve in seen:  # no CISA-ADP decision; or the record twice
                continue
            seen.add(found.cve)
            if found.assessed_at and (latest is None or found.assessed_at > latest):
                latest = found.assessed_at
            batch.append(
                {
                    "cve": found.cve,
                    "exploitation": found.exploitation,
                    "automatable": found.automatable,
                    "technical_impact": found.technical_impact,
                    "assessed_at": found.assessed_at,
                }
            )
            if len(batch) >= BATCH:
                insert_rows(conn, ssvc_decisions, batch)
                batch = []
        insert_rows(conn, ssvc_decisions, batch)
        if records == 0:
            raise InputError(source, "no CVE record found")
        loaded = Loaded(
            "vulnrichment", source, None, latest, len(seen), f"{records} CVE records read", list(ctx.report.warnings)
        )
        now = audit.now()
        _record(conn, loaded, path, sha, now)
        detail = {"file": source, "sha256": sha, "records": records, "decisions": len(seen)}
        audit.record(conn, actor, [audit.Event("intel.load", "intel", "vulnrichment", detail)], now)
        _recompute(conn, actor, "CISA Vulnrichment (SSVC) loaded", now, items.c.cves != "")
    return loaded


def _load_rules(engine: Engine, path: Path, source: str, sha: str, actor: str) -> Loaded:
    if path.stat().st_size > fedramp_rules.MAX_SIZE:
        raise InputError(source, "larger than 64 MiB: not the FedRAMP rules file")
    data = path.read_bytes()
    rules = fedramp_rules.read(data, source)
    dated = _day(rules.last_updated)
    loaded = Loaded("fedramp-rules", source, rules.version, dated, rules.rule_count(), "rules in force from this file")
    with engine.begin() as conn:
        conn.execute(delete(intel_documents).where(intel_documents.c.source == "fedramp-rules"))
        conn.execute(insert(intel_documents).values(source="fedramp-rules", body=data.decode("utf-8-sig")))
        now = audit.now()
        _record(conn, loaded, path, sha, now)
        detail = {"file": source, "sha256": sha, "version": rules.version}
        audit.record(conn, actor, [audit.Event("intel.load", "intel", "fedramp-rules", detail)], now)
        _recompute(
            conn,
            actor,
            f"FedRAMP rules {rules.version} loaded",
            now,
            items.c.system_id.in_(select(systems.c.id).where(systems.c.policy == "fedramp-cr26")),
        )
    return loaded


def _day(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text[:10])
    except ValueError:
        return None


def _recompute(conn: Connection, actor: str, reason: str, now: dt.datetime, where: ColumnElement[bool]) -> None:
    """Deadlines follow the facts: open items the new data bears on are computed again (audited)."""
    from poam.services import deadlines

    deadlines.mark_stale(conn, where)
    deadlines.refresh(conn, actor, reason, now)


def rules_key(conn: Connection) -> str:
    """Which FedRAMP rules are in force: the SHA-256 of the loaded file, or `bundled`."""
    sha = conn.execute(
        select(intel_sources.c.sha256).where(intel_sources.c.source == "fedramp-rules")
    ).scalar_one_or_none()
    return sha or "bundled"


def active_rules(conn: Connection) -> fedramp_rules.Rules:
    """The FedRAMP rules in force here: the newest loaded with `intel load`, else the shipped ones."""
    body = conn.execute(
        select(intel_documents.c.body).where(intel_documents.c.source == "fedramp-rules")
    ).scalar_one_or_none()
    if body is None:
        return fedramp_rules.bundled()
    return fedramp_rules.check(json.loads(body), "the loaded FedRAMP rules")


def status(engine: Engine, today: dt.date | None = None) -> list[SourceStatus]:
    """Each source: loaded or not, its date, its record count and how stale it is."""
    from poam.store import db

    today = today or dt.datetime.now(dt.UTC).date()
    with db.read(engine) as conn:
        rows = {r.source: r for r in conn.execute(select(intel_sources))}
    out = []
    for key, name in SOURCES.items():
        r = rows.get(key)
        if r is None and key == "fedramp-rules":
            shipped = fedramp_rules.bundled()
            count = shipped.rule_count()
            dated = _day(shipped.last_updated)
            age = (today - dated.date()).days if dated else None
            out.append(SourceStatus(key, name, shipped.version, dated, count, "shipped with poam", None, age, False))
            continue
        if r is None and key == "cci":
            from poam.services import cci

            shipped_list = cci.bundled()
            dated = _day(shipped_list.version)
            age = (today - dated.date()).days if dated else None
            out.append(
                SourceStatus(
                    key,
                    name,
                    shipped_list.version,
                    dated,
                    len(shipped_list.controls),
                    "shipped with poam",
                    None,
                    age,
                    False,
                )
            )
            continue
        if r is None:
            continue
        age = (today - r.dated.date()).days if r.dated else None
        out.append(
            SourceStatus(
                key,
                name,
                r.version,
                r.dated,
                r.records,
                r.filename,
                r.loaded_at,
                age,
                _stale(key, age),
            )
        )
    return out


def _stale(key: str, age: int | None) -> bool:
    limit = STALE_DAYS[key]
    return limit is not None and (age is None or age > limit)
