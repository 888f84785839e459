"""The milestone text grammar of the FedRAMP POA&M template (columns M and N).

Planned milestones: `(1) 2026-01-15: text`, entries separated by a blank line.
Milestone changes: `(2) Update 2026-02-01 : text` with New, Update or Complete.
The template accepts `-`, `/` and `\\` in dates, year first or last.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from poam.domain.models import ChangeKind, Milestone, MilestoneChange

_DATE = r"(\d{1,4})[\\/\-](\d{1,2})[\\/\-](\d{1,4})"
_MILESTONE = re.compile(r"^[ \t]*\((\d+)\)[ \t]*" + _DATE + r"[ \t]*:[ \t]*", re.MULTILINE)
_CHANGE = re.compile(
    r"^[ \t]*\((\d+)\)[ \t]*(new|update|complete)[ \t]*" + _DATE + r"[ \t]*:[ \t]*",
    re.MULTILINE | re.IGNORECASE,
)


class MilestoneSyntaxError(ValueError):
    """The text does not follow the template's milestone grammar."""


def _date(a: str, b: str, c: str) -> dt.date:
    try:
        if len(a) == 4:
            return dt.date(int(a), int(b), int(c))
        if len(c) == 4:
            return dt.date(int(c), int(a), int(b))
    except ValueError as exc:
        raise MilestoneSyntaxError(f"not a date: {a}-{b}-{c}") from exc
    raise MilestoneSyntaxError(f"date needs a four-digit year: {a}-{b}-{c}")


def _entries(text: str, pattern: re.Pattern[str]) -> list[tuple[re.Match[str], str]]:
    text = text.replace("\r\n", "\n").strip()
    if not text:
        return []
    matches = list(pattern.finditer(text))
    if not matches or matches[0].start() != 0:
        raise MilestoneSyntaxError(f"expected an entry like '(1) 2026-01-15: text', got {text[:40]!r}")
    out = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        out.append((m, text[m.end() : end].strip()))
    return out


def parse_milestones(text: str) -> list[Milestone]:
    """Read a Planned Milestones cell."""
    result = []
    for m, body in _entries(text, _MILESTONE):
        result.append(Milestone(int(m.group(1)), _date(m.group(2), m.group(3), m.group(4)), body))
    _check_unique(m.number for m in result)
    return result


def parse_changes(text: str) -> list[MilestoneChange]:
    """Read a Milestone Changes cell."""
    result = []
    for m, body in _entries(text, _CHANGE):
        kind = ChangeKind(m.group(2).capitalize())
        result.append(MilestoneChange(int(m.group(1)), kind, _date(m.group(3), m.group(4), m.group(5)), body))
    return result


def _check_unique(numbers: Iterable[int]) -> None:
    seen: set[int] = set()
    for n in numbers:
        if n in seen:
            raise MilestoneSyntaxError(f"milestone number ({n}) is used twice")
        seen.add(n)


def format_milestone(m: Milestone) -> str:
    """One planned milestone in the template's form."""
    return f"({m.number}) {m.date.isoformat()}: {m.text}"


def format_change(c: MilestoneChange) -> str:
    """One milestone change in the template's form."""
    return f"({c.number}) {c.kind.value} {c.date.isoformat()} : {c.text}"


def format_milestones(milestones: Iterable[Milestone]) -> str:
    """A Planned Milestones cell: entries separated by a blank line."""
    return "\n\n".join(format_milestone(m) for m in milestones)


def format_changes(changes: Iterable[MilestoneChange]) -> str:
    """A Milestone Changes cell: entries separated by a blank line."""
    return "\n\n".join(format_change(c) for c in changes)


def next_number(milestones: Iterable[Milestone], changes: Iterable[MilestoneChange] = ()) -> int:
    """The next unused milestone number (New changes create numbers too)."""
    numbers = [m.number for m in milestones] + [c.number for c in changes if c.kind is ChangeKind.NEW]
    return max(numbers, default=0) + 1
