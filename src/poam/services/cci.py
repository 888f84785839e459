"""The DISA Control Correlation Identifier (CCI) list: CCI -> NIST SP 800-53 control.

poam ships DISA's list (version 2016-06-27, NIST SP 800-53 rev 4 references) and uses it until a
newer list is loaded with `poam cci load U_CCI_List.xml`; each CCI maps to the control of its
newest 800-53 revision in the list.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, Engine, delete, func, insert, select

from poam.domain.controls import control_id
from poam.errors import InputError
from poam.parsers.xmlsafe import iterparse, release
from poam.services import audit
from poam.store.tables import cci_map, settings

BUNDLED = Path(__file__).resolve().parent.parent / "data" / "U_CCI_List.xml.gz"
_NS = "{http://iase.disa.mil/cci}"


@dataclass(frozen=True, slots=True)
class CciList:
    """A CCI list read from a file."""

    version: str
    controls: dict[str, tuple[str, int]]
    """CCI -> (control, 800-53 revision)."""


def read(stream: BinaryIO, source: str) -> CciList:
    """Read a DISA CCI list (its XML schema, namespaced or not)."""
    controls: dict[str, tuple[str, int]] = {}
    version = "unknown"
    saw_root = False
    for _event, el in iterparse(
        stream, source, (f"{_NS}cci_item", "cci_item", f"{_NS}version", "version", f"{_NS}cci_list", "cci_list")
    ):
        tag = el.tag.removeprefix(_NS) if isinstance(el.tag, str) else ""
        if tag == "version" and el.getparent() is not None:
            version = (el.text or "").strip() or version
        elif tag == "cci_list":
            saw_root = True
        elif tag == "cci_item":
            cci = (el.get("id") or "").strip().upper()
            best: tuple[str, int] | None = None
            for ref in el.iter(f"{_NS}reference", "reference"):
                title = ref.get("title") or ""
                if "800-53" not in title or "800-53A" in title:
                    continue
                try:
                    revision = int(float(ref.get("version") or 0))
                except (ValueError, OverflowError):
                    continue
                control = control_id(ref.get("index") or "")
                if control and (best is None or revision > best[1]):
                    best = (control, revision)
            if cci and best:
                controls[cci] = best
            release(el)
    if not saw_root:
        raise InputError(source, "not a DISA CCI list (no cci_list root)")
    if not controls:
        raise InputError(source, "the CCI list maps no CCI to a NIST SP 800-53 control")
    return CciList(version, controls)


@cache
def bundled() -> CciList:
    """The list that ships with poam."""
    with gzip.open(BUNDLED, "rb") as f:
        return read(f, str(BUNDLED))  # type: ignore[arg-type]


def load(engine: Engine, path: Path, actor: str) -> CciList:
    """Replace the stored list with this file (used instead of the bundled one from then on)."""
    source = str(path)
    if not path.is_file():
        raise InputError(source, "no such file")
    with path.open("rb") as f:
        found = read(f, source)
    rows = [{"cci": k, "control": c, "revision": r} for k, (c, r) in sorted(found.controls.items())]
    with engine.begin() as conn:
        conn.execute(delete(cci_map))
        for start in range(0, len(rows), 2000):
            conn.execute(insert(cci_map), rows[start : start + 2000])
        conn.execute(delete(settings).where(settings.c.key == "cci_version"))
        conn.execute(insert(settings).values(key="cci_version", value=found.version))
        audit.record(conn, actor, [audit.Event("cci.load", "cci", found.version, {"ccis": len(rows)})])
    return found


def controls(conn: Connection, ccis: Iterable[str]) -> tuple[str, ...]:
    """The controls these CCIs map to, in order, without repeats (unknown CCIs are skipped)."""
    wanted = [c.strip().upper() for c in ccis if c and c.strip()]
    if not wanted:
        return ()
    if conn.execute(select(func.count()).select_from(cci_map)).scalar_one():
        rows = dict(conn.execute(select(cci_map.c.cci, cci_map.c.control).where(cci_map.c.cci.in_(wanted))).all())
        mapped = [rows.get(c) for c in wanted]
    else:
        table = bundled().controls
        mapped = [table[c][0] if c in table else None for c in wanted]
    return tuple(dict.fromkeys(m for m in mapped if m))


def version(conn: Connection) -> str:
    """The version of the list in use."""
    stored = conn.execute(select(settings.c.value).where(settings.c.key == "cci_version")).scalar_one_or_none()
    return stored or f"{bundled().version} (bundled)"
