"""NIST SP 800-53 control ids: from DISA CCI references, and the defaults for an item."""

from __future__ import annotations

import re
from collections.abc import Iterable

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
