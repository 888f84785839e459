"""Small helpers shared by parsers: dates, severity words, text cleaning, lists."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any, Protocol

from poam.domain.models import FindingStatus, Severity

_SEVERITY_WORDS = {
    "critical": Severity.CRITICAL,
    "very high": Severity.CRITICAL,
    "urgent": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "error": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "warning": Severity.MEDIUM,
    "low": Severity.LOW,
    "minor": Severity.LOW,
    "note": Severity.LOW,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "information": Severity.INFO,
    "none": Severity.INFO,
    "negligible": Severity.INFO,
    "unknown": Severity.INFO,
}
_CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)
_CWE = re.compile(r"CWE-?(\d+)", re.IGNORECASE)


def severity_word(text: str | None, default: Severity | None = None) -> Severity | None:
    """A scanner's severity word (`High`, `MEDIUM`, `Informational`, `note`) on poam's scale."""
    if text is None:
        return default
    return _SEVERITY_WORDS.get(" ".join(str(text).strip().lower().split()), default)


class Warner(Protocol):
    """What the lenient helpers need of a `ParseContext`."""

    def warn(self, record: str, problem: str) -> None: ...


def odd_severity(ctx: Warner, record: str, value: object) -> Severity:
    """The neutral rating of a record whose severity poam cannot read (an unknown word, a missing
    one where the format requires it): Moderate, with a warning naming the record."""
    shown = "missing" if value is None or value == "" else repr(str(value)[:40])
    ctx.warn(record, f"severity {shown} not recognised; rated Moderate")
    return Severity.MEDIUM


def odd_status(ctx: Warner, record: str, value: object) -> FindingStatus:
    """A status poam cannot read: the record stays open (it never closes anything), with a warning."""
    shown = "missing" if value is None or value == "" else repr(str(value)[:40])
    ctx.warn(record, f"status {shown} not recognised; kept open")
    return FindingStatus.OPEN


DISMISSED_WORDS = frozenset(
    {
        "ignored",
        "suppressed",
        "dismissed",
        "muted",
        "snoozed",
        "rejected",
        "false_positive",
        "false positive",
        "falsepositive",
        "wont_fix",
        "won't fix",
        "wontfix",
        "risk_accepted",
        "accepted",
        "exempt",
        "exempted",
        "exception",
        "not_applicable",
    }
)
"""Statuses that mean a person set the result aside: not an open weakness, and not a fix either
(yield such records as `FindingStatus.SET_ASIDE`, or leave them out from a file that closes
nothing by absence)."""


def dismissed(value: object) -> bool:
    """Whether a status word means the result was set aside (ignored, suppressed, dismissed...)."""
    if value is None:
        return False
    word = " ".join(str(value).strip().lower().replace("-", "_").split())
    return word in DISMISSED_WORDS or word.replace(" ", "_") in DISMISSED_WORDS


def severity_score(score: float | None) -> Severity | None:
    """A 0-10 score on poam's scale (NVD's CVSS v3 bands); None stays None."""
    if score is None:
        return None
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.INFO


def parse_time(value: object) -> dt.datetime | None:
    """A date or date-time from ISO 8601 text (with `Z`, an offset or none), epoch seconds or
    milliseconds, or common scanner forms; naive UTC. None when absent or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    if text.isdigit():
        return parse_time(int(text))
    iso = text.replace("Z", "+00:00").replace("z", "+00:00")
    if len(iso) > 10 and iso[10] == " ":
        iso = iso[:10] + "T" + iso[11:]
    iso = re.sub(r"(\.\d{6})\d+", r"\1", iso)  # .NET and Go write more than six fraction digits
    try:
        parsed = dt.datetime.fromisoformat(iso)
    except ValueError:
        parsed = None
    if parsed is None:
        for fmt in (
            "%m/%d/%Y %H:%M:%S",
            "%m/%d/%Y %H:%M",
            "%m/%d/%Y",
            "%d %b %Y %H:%M:%S",
            "%a %b %d %H:%M:%S %Y",
            "%a, %d %b %Y %H:%M:%S",
            "%b %d, %Y %H:%M:%S",
            "%b %d, %Y",
            "%Y/%m/%d %H:%M:%S",
            "%Y/%m/%d",
        ):
            try:
                parsed = dt.datetime.strptime(text.split(" GMT")[0].split(" UTC")[0], fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def cves_in(*texts: object) -> tuple[str, ...]:
    """Every CVE id mentioned in these values (strings or lists of strings), upper-cased, in order."""
    found: dict[str, None] = {}
    for text in _flatten(texts):
        for m in _CVE.finditer(text):
            found[m.group(0).upper()] = None
    return tuple(found)


def cwes_in(*texts: object) -> tuple[str, ...]:
    """CWE numbers (without the `CWE-` prefix) found in these values."""
    found: dict[str, None] = {}
    for text in _flatten(texts):
        if text.strip().isdigit():
            found[text.strip()] = None
        for m in _CWE.finditer(text):
            found[m.group(1)] = None
    return tuple(found)


def _flatten(values: Iterable[object]) -> Iterable[str]:
    for value in values:
        if value is None:
            continue
        if isinstance(value, list | tuple | set):
            yield from _flatten(value)
        else:
            yield str(value)


def clean(text: object) -> str | None:
    """Text with surrounding blank space removed, or None when empty."""
    if text is None:
        return None
    value = str(text).strip()
    return value or None


_TAG = re.compile(r"<[^>]+>")


def plain(html: object) -> str | None:
    """Text from light HTML (`<p>`, `<br>`, `<li>` in ZAP, Burp, Qualys): tags removed, paragraphs
    kept as blank lines, entities decoded."""
    import html as html_lib

    if html is None:
        return None
    text = str(html)
    text = re.sub(r"(?i)<\s*br\s*/?\s*>", "\n", text)
    text = re.sub(r"(?i)</\s*(p|div|li|ul|ol|h\d)\s*>", "\n\n", text)
    text = re.sub(r"(?i)<\s*p(\s[^>]*)?>", "\n\n", text)  # Qualys opens paragraphs and never closes them
    text = re.sub(r"(?i)<\s*li[^>]*>", "- ", text)
    text = html_lib.unescape(_TAG.sub("", text))
    lines = [line.rstrip() for line in text.splitlines()]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return out or None


def obj(value: object) -> dict[str, Any]:
    """The value when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def arr(value: object) -> list[Any]:
    """The value when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def text(value: object) -> str | None:
    """A string or number as stripped text; None when empty or of another type."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).strip() or None
