"""Rule sets by name: the tables they read, loaded from files, and the one a system follows.

- `fedramp-cr26`: tables from the FedRAMP rules JSON in force (`services.intel.active_rules`).
- `bod-26-04`: Table 1 from `data/rules/bod-26-04.toml`; findings without a CVE follow the system's
  fallback table (`fedramp-rev5` unless set).
- `fedramp-rev5`, `cms`, `dod`: day tables in `data/rules/*.toml`; a custom one is a TOML file a user
  gives (`poam system set NAME --policy FILE.toml`), kept in the database as given.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from poam.domain.models import Level
from poam.domain.rules import Facts, Outcome, bod2604, cr26
from poam.domain.rules.days import DayTable
from poam.errors import ValueRefused

DATA = Path(__file__).resolve().parent.parent / "data" / "rules"
DAY_TABLES = ("fedramp-rev5", "cms", "dod")
NAMES = ("fedramp-cr26", "bod-26-04", *DAY_TABLES)
CLASSES = cr26.CLASSES
RETIRED = {
    "bod-19-02": "BOD 19-02 was revoked by CISA BOD 26-04 (2026-06-10): use bod-26-04",
    "bod-22-01": "BOD 22-01 was revoked by CISA BOD 26-04 (2026-06-10): use bod-26-04",
}
MAX_TOML = 64 * 1024


def parse_day_table(text: str, source: str) -> DayTable:
    """A day table from TOML text: `name`, `title`, `source`, `[days]` with Critical, High, Moderate
    and Low (whole days, 0-3650), optional `[labels]`, `kev_due` (default true) and
    `vendor_release_restarts` (default false)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueRefused(f"{source}: not a TOML file: {exc}") from None
    days = data.get("days")
    if not isinstance(days, dict):
        raise ValueRefused(f"{source}: a day table needs a [days] table with Critical, High, Moderate and Low")
    table: dict[Level, int] = {}
    for level in Level:
        value = days.get(level.value, days.get(level.value.lower()))
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 3650:
            raise ValueRefused(f"{source}: days.{level.value} must be whole days from 1 to 3650, not {value!r}")
        table[level] = value
    name = data.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,29}", name.strip()):
        raise ValueRefused(f"{source}: the table needs a `name` of 1 to 30 letters, digits, '.', '_' or '-'")
    name = name.strip()
    if name in NAMES or name in RETIRED:
        raise ValueRefused(f"{source}: {name!r} is the name of a rule set poam ships; give yours another name")
    labels = data.get("labels") or {}
    kev_due = data.get("kev_due", True)
    restarts = data.get("vendor_release_restarts", False)
    if (
        not isinstance(labels, dict)
        or not all(isinstance(v, str) and v.isprintable() and len(v) <= 30 for v in labels.values())
        or not isinstance(kev_due, bool)
        or not isinstance(restarts, bool)
    ):
        raise ValueRefused(
            f"{source}: `labels` must be a table of short texts, `kev_due` and `vendor_release_restarts` true or false"
        )
    return DayTable(
        name=name,
        title=str(data.get("title") or name)[:200],
        source=str(data.get("source") or source)[:500],
        days=table,
        labels={lv: str(labels[lv.value]) for lv in Level if lv.value in labels} or None,
        kev_due=kev_due,
        vendor_release_restarts=restarts,
    )


@cache
def shipped_day_table(name: str) -> DayTable:
    data = tomllib.loads((DATA / f"{name}.toml").read_text(encoding="utf-8"))
    labels = data.get("labels")
    return DayTable(
        name=data["name"],
        title=data["title"],
        source=data["source"],
        days={lv: int(data["days"][lv.value]) for lv in Level},
        labels={lv: labels[lv.value] for lv in Level} if labels else None,
        kev_due=bool(data.get("kev_due", True)),
        vendor_release_restarts=bool(data.get("vendor_release_restarts", False)),
    )


@cache
def bod_table() -> bod2604.BodTable:
    data = tomllib.loads((DATA / "bod-26-04.toml").read_text(encoding="utf-8"))
    rows = tuple(
        bod2604.Row(number, public, kev, automatable, total, days or None, forensic)
        for number, public, kev, automatable, total, days, forensic in data["rows"]
    )
    return bod2604.BodTable(rows, int(data["missing_metadata_days"]), data["source"])


def read_custom(path: Path) -> tuple[DayTable, str]:
    """A user's TOML day table and its text (kept in the database so the file may go away)."""
    import stat

    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ValueRefused(f"{path}: not a regular file")
        with path.open("rb") as f:
            data = f.read(MAX_TOML + 1)
        if len(data) > MAX_TOML:
            raise ValueRefused(f"{path}: larger than {MAX_TOML // 1024} KiB; a day table is a few lines")
        text = data.decode("utf-8-sig")
    except OSError as exc:
        raise ValueRefused(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueRefused(f"{path}: not UTF-8 text") from None
    return parse_day_table(text, str(path)), text


@dataclass(frozen=True)
class RuleSet:
    """The rule set a system follows, with its tables loaded."""

    name: str
    title: str
    source: str
    compute: Callable[[Facts], Outcome]
    template: DayTable
    """The day table that sets the template's Scheduled Completion Date column (the rule set itself
    for day tables, else the fallback)."""
    cr26: cr26.Cr26Tables | None = None
    fedramp_class: str | None = None


def day_table(name: str | None, policy_table: str | None = None) -> DayTable:
    if policy_table:
        return parse_day_table(policy_table, "the system's custom table")
    return shipped_day_table(name or "fedramp-rev5")


def for_system(conn: Connection, system: Any) -> RuleSet:
    """The rule set of a system (a `SystemInfo` or a `systems` row)."""
    name = system.policy
    if name == "fedramp-cr26":
        from poam.services import intel

        tables = _cr26_tables(conn, intel)
        cls = system.fedramp_class or "c"
        fallback = shipped_day_table("fedramp-rev5")
        return RuleSet(
            name,
            f"FedRAMP CR26 VDR/VER, Class {cls.upper()} (rules {tables.version})",
            "FedRAMP Consolidated Rules 2026: VDR-TFR-PVR, VER-TFR-EVU, VER-TFR-MAV, VDR-TFR-KEV",
            lambda facts: cr26.compute(facts, tables, cls),
            fallback,
            tables,
            cls,
        )
    if name == "bod-26-04":
        fallback = day_table(system.fallback_policy)
        table = bod_table()
        return RuleSet(
            name,
            f"CISA BOD 26-04 Table 1 (without a CVE: {fallback.name})",
            table.source,
            lambda facts: bod2604.compute(facts, table, fallback),
            fallback,
        )
    from poam.domain.rules import days

    table_ = day_table(name, system.policy_table if name.startswith("custom:") else None)
    return RuleSet(table_.name, table_.title, table_.source, lambda facts: days.compute(facts, table_, name), table_)


_CR26_CACHE: dict[str, cr26.Cr26Tables] = {}


def _cr26_tables(conn: Connection, intel: Any) -> cr26.Cr26Tables:
    from poam.intel import fedramp_rules

    key = intel.rules_key(conn)
    if key not in _CR26_CACHE:
        _CR26_CACHE[key] = fedramp_rules.cr26_tables(intel.active_rules(conn))
    return _CR26_CACHE[key]
