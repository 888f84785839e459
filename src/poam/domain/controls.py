"""NIST SP 800-53 control ids: from DISA CCI references, checked against the Rev 5 catalog, and
the defaults for an item."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from poam.domain.models import Weakness

_CONTROL = re.compile(r"^\s*([A-Za-z]{2})-(\d{1,2})(?:\s*\(\s*(\d{1,2})\s*\))?")


def control_id(index: str) -> str | None:
    """The control (or enhancement) a CCI reference index points at: `AC-1 b 1` -> `AC-1`,
    `AC-2 (4)` -> `AC-2(4)`, `SC-7 (5) (a)` -> `SC-7(5)`. None when it is not a control id."""
    m = _CONTROL.match(index)
    if not m:
        return None
    family, number, enhancement = m.group(1).upper(), int(m.group(2)), m.group(3)
    return f"{family}-{number}({int(enhancement)})" if enhancement else f"{family}-{number}"


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """A control or enhancement NIST withdrew in Rev 5, and where its content went: `relation`
    is `incorporated-into` or `moved-to` (or '' when NIST names no target), `targets` controls
    (`SR-5`), statement parts (`AC-2k`) or whole families (`SR`)."""

    relation: str
    targets: tuple[str, ...]

    def reason(self, control: str) -> str:
        """`'SA-12(1)' was withdrawn in Rev 5 (moved to SR-5)`."""
        words = {"incorporated-into": "incorporated into", "moved-to": "moved to"}.get(self.relation)
        if not words or not self.targets:
            return f"{control!r} was withdrawn in Rev 5"
        named = [f"the {t} family" if _FAMILY.fullmatch(t) else t for t in self.targets]
        return f"{control!r} was withdrawn in Rev 5 ({words} {', '.join(named)})"


@dataclass(frozen=True, slots=True)
class ControlCatalog:
    """The control ids of NIST SP 800-53 Rev 5 (`AC-2`, `AC-2(1)`): `active` ones and the
    `withdrawn`, each with where it went."""

    active: frozenset[str]
    withdrawn: Mapping[str, Withdrawn]

    def __len__(self) -> int:
        return len(self.active) + len(self.withdrawn)


_FAMILY = re.compile(r"[A-Z]{2}")
_CANONICAL = re.compile(r"[A-Z]{2}-[1-9]\d*(?:\([1-9]\d*\))?")


def parse_catalog(lines: Iterable[str]) -> ControlCatalog:
    """The catalog from the lines of the shipped list (`nist-800-53r5-controls.txt`): `#` comments,
    then `ID<TAB>active` or `ID<TAB>withdrawn[<TAB>RELATION<TAB>TARGET,TARGET...]`."""
    active: set[str] = set()
    withdrawn: dict[str, Withdrawn] = {}
    for number, line in enumerate(lines, 1):
        text = line.rstrip("\r\n")
        if not text.strip() or text.startswith("#"):
            continue
        fields = text.split("\t")
        control, status = fields[0], fields[1] if len(fields) > 1 else ""
        if not _CANONICAL.fullmatch(control) or control in active or control in withdrawn:
            raise ValueError(f"line {number}: bad or repeated control id {control!r}")
        if status == "active" and len(fields) == 2:
            active.add(control)
        elif status == "withdrawn" and len(fields) in (2, 4):
            relation, targets = (fields[2], tuple(fields[3].split(","))) if len(fields) == 4 else ("", ())
            withdrawn[control] = Withdrawn(relation, targets)
        else:
            raise ValueError(f"line {number}: expected ID, active or withdrawn: {text!r}")
    return ControlCatalog(frozenset(active), withdrawn)


def catalog_refusal(control: str, catalog: ControlCatalog) -> str | None:
    """Why a control id (in canonical form, `AC-2(4)`) cannot be used, or None when it is a
    current NIST SP 800-53 Rev 5 control or enhancement."""
    if control in catalog.active:
        return None
    gone = catalog.withdrawn.get(control)
    if gone is not None:
        return gone.reason(control)
    return f"not a NIST SP 800-53 Rev 5 control: {control!r}"


def controls_for_item(weakness: Weakness, mapped: Iterable[str] = ()) -> tuple[str, ...]:
    """The Controls of a new item. What the source named wins; then configuration checks take
    the controls their CCIs map to, else CM-6 (Configuration Settings); vulnerabilities with a
    CVE are flaws to remediate (RA-5 found it, SI-2 fixes it), other vulnerabilities RA-5."""
    if weakness.controls:
        return weakness.controls
    if weakness.is_config:
        found = tuple(dict.fromkeys(mapped))
        return found or ("CM-6",)
    return ("RA-5", "SI-2") if weakness.cves else ("RA-5",)
