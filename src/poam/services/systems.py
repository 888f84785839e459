"""Systems: add, list and pick the one a command works on."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.engine import RowMapping

from poam.domain.models import Level
from poam.errors import UsageError, ValueRefused
from poam.services import audit
from poam.store import db
from poam.store.tables import items, systems

DEFAULT_SYSTEM = "default"


@dataclass(frozen=True, slots=True)
class SystemInfo:
    """A system as the shells show it."""

    id: int
    name: str
    impact: str
    org: str | None
    policy: str
    id_prefix: str
    fedramp_id: str | None
    point_of_contact: str | None
    service_names: str | None
    open_items: int = 0
    closed_items: int = 0
    fedramp_class: str | None = None
    fallback_policy: str | None = None
    policy_table: str | None = None
    auto_approve: bool = False  # the AO approved an automated risk adjustment process (FedRAMP AVRAF)
    cpo_uri: str | None = None  # the Certification Package Overview's URI (FedRAMP VER reports)


def _info(row: RowMapping, open_items: int = 0, closed_items: int = 0) -> SystemInfo:
    return SystemInfo(
        id=row["id"],
        name=row["name"],
        impact=row["impact"],
        org=row["org"],
        policy=row["policy"],
        id_prefix=row["id_prefix"],
        fedramp_id=row["fedramp_id"],
        point_of_contact=row["point_of_contact"],
        service_names=row["service_names"],
        open_items=open_items,
        closed_items=closed_items,
        fedramp_class=row["fedramp_class"],
        fallback_policy=row["fallback_policy"],
        policy_table=row["policy_table"],
        auto_approve=bool(row["auto_approve"]),
        cpo_uri=row["cpo_uri"],
    )


def class_for(impact: str) -> str:
    """The CR26 class a system gets when none is given: B for Low, C for Moderate, D for High. FedRAMP
    publishes no such table; the class baselines (155/322/409 controls) are the Low/Moderate/High
    baselines less CA-05, which is the reading used (docs/rules-2026.md 1.1)."""
    return {"Low": "b", "Moderate": "c", "High": "d"}.get(impact, "c")


def policy_values(policy: str | None, cls: str | None, fallback: str | None) -> dict[str, str | None]:
    """The systems columns a `--policy`, `--class` and `--fallback` choice sets, checked: a rule set
    poam ships, or a TOML day table file (kept as `custom:NAME` with its text)."""
    from pathlib import Path

    from poam.services import rulesets

    values: dict[str, str | None] = {}
    if policy is not None:
        if policy in rulesets.RETIRED:
            raise ValueRefused(rulesets.RETIRED[policy])
        if policy.lower().endswith(".toml"):
            table, text = rulesets.read_custom(Path(policy))
            values.update(policy=f"custom:{table.name}", policy_table=text)
        elif policy in rulesets.NAMES:
            values.update(policy=policy, policy_table=None)
        else:
            raise ValueRefused(
                f"unknown policy {policy!r}; choose one of: {', '.join(rulesets.NAMES)}, or a day table FILE.toml"
            )
    if cls is not None:
        if cls.lower() not in rulesets.CLASSES:
            raise ValueRefused(f"--class must be b, c or d (FedRAMP Rev5 certification classes), not {cls!r}")
        values["fedramp_class"] = cls.lower()
    if fallback is not None:
        if fallback not in rulesets.DAY_TABLES:
            raise ValueRefused(f"--fallback must be one of {', '.join(rulesets.DAY_TABLES)}")
        values["fallback_policy"] = fallback
    return values


def _insert(conn: Connection, actor: str, name: str, **fields: str | None) -> SystemInfo:
    name = " ".join(name.split())
    if not name:
        raise UsageError("a system needs a name")
    for field, size in (("name", 200), ("org", 200), ("id_prefix", 20), ("fedramp_id", 100)):
        value = name if field == "name" else fields.get(field)
        if value and len(value) > size:
            raise UsageError(f"{field.replace('_', '-')} is longer than {size} characters")
    if conn.execute(select(systems.c.id).where(systems.c.name == name)).first():
        raise UsageError(f"system {name!r} already exists")
    impact = (fields.get("impact") or "moderate").capitalize()
    if impact not in (Level.LOW, Level.MODERATE, Level.HIGH):
        raise UsageError(f"impact must be low, moderate or high, not {fields.get('impact')!r}")
    rules = policy_values(fields.get("policy") or "fedramp-rev5", fields.get("fedramp_class"), fields.get("fallback"))
    if rules.get("policy") == "fedramp-cr26" and not rules.get("fedramp_class"):
        rules["fedramp_class"] = class_for(impact)
    values = {
        "name": name,
        "org": fields.get("org"),
        "impact": impact,
        **rules,
        "id_prefix": fields.get("id_prefix") or "V-",
        "next_seq": 1,
        "fedramp_id": fields.get("fedramp_id"),
        "point_of_contact": fields.get("point_of_contact"),
        "service_names": fields.get("service_names"),
        "created_at": audit.now(),
    }
    new_id = conn.execute(insert(systems).values(**values)).inserted_primary_key[0]  # type: ignore[index]
    detail = {k: v for k, v in values.items() if k not in ("next_seq", "created_at", "policy_table") and v is not None}
    audit.record(conn, actor, [audit.Event("system.add", "system", str(new_id), detail, new_id)])
    row = conn.execute(select(systems).where(systems.c.id == new_id)).mappings().one()
    return _info(row)


def add_system(engine: Engine, name: str, actor: str, **fields: str | None) -> SystemInfo:
    """Create a system (an authorization boundary)."""
    with engine.begin() as conn:
        return _insert(conn, actor, name, **fields)


def list_systems(engine: Engine) -> list[SystemInfo]:
    """Every system with its open and closed item counts."""
    with db.read(engine) as conn:
        counts: dict[tuple[int, str], int] = {
            (r.system_id, r.status): r.n
            for r in conn.execute(
                select(items.c.system_id, items.c.status, func.count().label("n")).group_by(
                    items.c.system_id, items.c.status
                )
            )
        }
        rows = conn.execute(select(systems).order_by(systems.c.name)).mappings().all()
        return [_info(r, counts.get((r["id"], "open"), 0), counts.get((r["id"], "closed"), 0)) for r in rows]


def _checked(conn: Connection, info: SystemInfo, actor: str) -> SystemInfo:
    """A writer's system, its items first checked against the log (`audit.precheck`): an edit made
    outside poam is recorded before this write's changes are sealed."""
    if not db.is_read_only(conn):
        audit.precheck(conn, info.id, actor)
    return info


def resolve(conn: Connection, name: str | None, actor: str, create_default: bool = False) -> SystemInfo:
    """The system a command works on: the named one, or the only one there is.

    With `create_default`, an empty database gets a system named `default`.
    """
    if name:
        row = conn.execute(select(systems).where(systems.c.name == name)).mappings().first()
        if row is None:
            raise UsageError(f"no system named {name!r}; add it with `poam system add {name}`")
        return _checked(conn, _info(row), actor)
    rows = conn.execute(select(systems).limit(2)).mappings().all()
    if len(rows) == 1:
        return _checked(conn, _info(rows[0]), actor)
    if not rows:
        if create_default:
            return _insert(conn, actor, DEFAULT_SYSTEM)
        raise UsageError("the database has no system yet; import a scan or run `poam system add NAME`")
    raise UsageError("the database holds several systems; pick one with --system NAME")


def _cidr(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise ValueRefused(f"--public-cidr: not an address range: {text!r}") from None


def _suffix(text: str) -> str:
    suffix = text.strip().lower().lstrip(".").rstrip(".")
    if not suffix or " " in suffix or len(suffix) > 253:
        raise ValueRefused(f"--public-domain: not a domain name: {text!r}")
    return suffix


def set_public_rules(
    engine: Engine, name: str, cidrs: list[str] | None, domains: list[str] | None, actor: str
) -> tuple[list[str], list[str]]:
    """Replace a system's rules for public exposure (address ranges, host name suffixes); None
    leaves a list as it is, an empty list clears it. Returns the rules now in force."""
    done = configure(engine, name, actor, cidrs=cidrs, domains=domains)
    return done.cidrs, done.domains


def set_rules(
    engine: Engine, name: str, actor: str, policy: str | None, cls: str | None, fallback: str | None
) -> tuple[SystemInfo, int]:
    """Change a system's rule set, class or fallback table. Returns the system and how many items'
    deadlines changed."""
    done = configure(engine, name, actor, policy=policy, cls=cls, fallback=fallback)
    return done.info, done.changed


@dataclass(frozen=True)
class Configured:
    info: SystemInfo
    cidrs: list[str]
    domains: list[str]
    changed: int  # items whose deadlines changed


def configure(
    engine: Engine,
    name: str,
    actor: str,
    *,
    policy: str | None = None,
    cls: str | None = None,
    fallback: str | None = None,
    cidrs: list[str] | None = None,
    domains: list[str] | None = None,
    auto_approve: bool | None = None,
    cpo_uri: str | None = None,
    details: dict[str, str] | None = None,
) -> Configured:
    """`poam system set`: the rule set (policy, class, fallback) and the rules for public exposure,
    every value checked before anything is written, then one transaction: one audit event, and every
    open item's deadlines computed again (changes audited)."""
    from poam.services import deadlines

    values: dict[str, object] = dict(policy_values(policy, cls, fallback))
    if auto_approve is not None:
        values["auto_approve"] = auto_approve
    if cpo_uri is not None:
        values["cpo_uri"] = check_cpo_uri(cpo_uri)
    values.update(check_details(details or {}))
    new_cidrs = sorted({_cidr(c) for c in cidrs}) if cidrs is not None else None
    new_domains = sorted({_suffix(d) for d in domains}) if domains is not None else None
    with engine.begin() as conn:
        info = resolve(conn, name, actor)
        old = conn.execute(select(systems).where(systems.c.id == info.id)).mappings().one()
        if values.get("policy") == "fedramp-cr26" and not (values.get("fedramp_class") or old["fedramp_class"]):
            values["fedramp_class"] = class_for(old["impact"])
        if new_cidrs is not None:
            values["public_cidrs"] = "\n".join(new_cidrs)
        if new_domains is not None:
            values["public_domains"] = "\n".join(new_domains)
        changes: dict[str, object] = {}
        for key, value in values.items():
            if key == "policy_table":
                if value != old[key]:
                    changes[key] = [_table_digest(old[key]), _table_digest(str(value) if value else None)]
            elif key in ("public_cidrs", "public_domains"):
                before = [x for x in (old[key] or "").split("\n") if x]
                changes[key] = [before, [x for x in str(value or "").split("\n") if x]]
            elif old[key] != value:
                changes[key] = [old[key], value]
        if values:
            conn.execute(update(systems).where(systems.c.id == info.id).values(**values))
        now = audit.now()
        if changes:
            audit.record(conn, actor, [audit.Event("system.set", "system", str(info.id), changes, info.id)], now)
        deadlines.mark_stale(conn, items.c.system_id == info.id)
        changed = deadlines.refresh(conn, actor, f"rules of system {info.name} changed", now, info.id)
        row = conn.execute(select(systems).where(systems.c.id == info.id)).mappings().one()
        query = select(items.c.status, func.count()).where(items.c.system_id == info.id).group_by(items.c.status)
        counts: dict[str, int] = {row[0]: row[1] for row in conn.execute(query)}
        return Configured(
            _info(row, counts.get("open", 0), counts.get("closed", 0)),
            [x for x in row["public_cidrs"].split("\n") if x],
            [x for x in row["public_domains"].split("\n") if x],
            changed,
        )


DETAILS = {"org": 200, "fedramp_id": 100, "point_of_contact": 2000}
"""The descriptive fields `system set` may change, with their longest value."""


def check_details(details: dict[str, str]) -> dict[str, str | None]:
    """The organization, FedRAMP id and point of contact to store: spaces trimmed, an empty value
    clears the field; ValueRefused for an unknown field or a value too long."""
    out: dict[str, str | None] = {}
    for key, text in details.items():
        if key not in DETAILS:
            raise ValueRefused(f"unknown system field {key!r}")
        value = " ".join(text.split()) if key != "point_of_contact" else text.strip()
        if len(value) > DETAILS[key]:
            raise ValueRefused(f"--{key.replace('_', '-')} is longer than {DETAILS[key]} characters")
        out[key] = value or None
    return out


def check_cpo_uri(text: str) -> str:
    """A Certification Package Overview URI as the VER reports need it: absolute http(s), with a
    host, no spaces or control characters (FedRAMP common-definitions `format: uri`)."""
    from urllib.parse import urlsplit

    value = text.strip()
    if len(value) > 2000:
        raise ValueRefused("--cpo-uri is longer than 2000 characters")
    if not value.isprintable() or any(ch.isspace() for ch in value):
        raise ValueRefused(f"--cpo-uri must not contain spaces or control characters: {value!r}")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueRefused(f"--cpo-uri is not a URI: {value!r}") from None
    if parts.scheme.lower() not in ("https", "http") or not parts.hostname:
        raise ValueRefused(f"--cpo-uri must be an absolute https:// (or http://) URI with a host, not {value!r}")
    return value


def _table_digest(text: str | None) -> str | None:
    """A custom day table as the audit log records it: its name, days and the SHA-256 of its text."""
    if text is None:
        return None
    import hashlib

    from poam.services import rulesets

    table = rulesets.parse_day_table(text, "the custom table")
    days = ", ".join(f"{lv.value} {n}" for lv, n in table.days.items())
    return f"custom:{table.name} ({days}; sha256 {hashlib.sha256(text.encode()).hexdigest()[:16]})"


def remove_system(engine: Engine, name: str, actor: str) -> dict[str, int]:
    """Delete a system and everything recorded for it (scans, assets, findings, items, milestones,
    evaluations, teams); the audit log keeps its events and records the removal with the counts."""
    from sqlalchemy import delete

    from poam.store import tables as t

    with engine.begin() as conn:
        info = resolve(conn, name, actor)
        item_ids = select(t.items.c.id).where(t.items.c.system_id == info.id).scalar_subquery()
        scan_ids = select(t.scans.c.id).where(t.scans.c.system_id == info.id).scalar_subquery()
        counts: dict[str, int] = {}
        order = (
            (t.sightings, t.sightings.c.system_id == info.id),
            (t.findings, t.findings.c.system_id == info.id),
            (t.milestone_changes, t.milestone_changes.c.item_id.in_(item_ids)),
            (t.milestones, t.milestones.c.item_id.in_(item_ids)),
            (t.evaluations, t.evaluations.c.item_id.in_(item_ids)),
            (t.vendor_checkins, t.vendor_checkins.c.item_id.in_(item_ids)),
            (t.deviations, t.deviations.c.item_id.in_(item_ids)),
        )
        for table, where in order:
            counts[table.name] = conn.execute(delete(table).where(where)).rowcount
        conn.execute(update(t.items).where(t.items.c.system_id == info.id).values(previous_item_id=None))
        counts["items"] = conn.execute(delete(t.items).where(t.items.c.system_id == info.id)).rowcount
        conn.execute(delete(t.scan_assets).where(t.scan_assets.c.scan_id.in_(scan_ids)))
        for table in (t.scans, t.weaknesses, t.assets, t.teams):
            counts[table.name] = conn.execute(delete(table).where(table.c.system_id == info.id)).rowcount
        conn.execute(delete(systems).where(systems.c.id == info.id))
        audit.record(
            conn, actor, [audit.Event("system.remove", "system", str(info.id), {"name": info.name, **counts}, info.id)]
        )
        return counts
