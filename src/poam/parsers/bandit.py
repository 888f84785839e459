"""Bandit JSON reports (`bandit -f json`).

One finding per test (`test_id`, B101) and file: several hits of one test in one file are one
finding whose evidence lists the lines and code. Severity is `issue_severity` (LOW, MEDIUM,
HIGH; UNDEFINED counts as low); the CWE comes from `issue_cwe` (Bandit 1.7.3 and later). The
report names no repository: the asset is `--asset`, else `Bandit project`. Findings are dated
`generated_at` (else `--scan-date`, else the file's modification time). A report covers the
project, unless Bandit lists files it could not scan (`errors`): then nothing is closed by
absence, since a missing finding may sit in such a file. Several reports in one file
(concatenated, or one per line) are one import: each finding dated by its own report, the
project covered from the first to the last report, and only if none lists errors.

Lenient on values: a result that is not an object or has no `test_id` is left out, an unknown
`issue_severity` is rated Moderate and an unknown `issue_confidence` shown as given (each with a
warning), an unreadable `generated_at` dates the report by `--scan-date`, else the file's time,
with a warning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, BinaryIO

from poam.domain.models import Checks, Coverage, Finding, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, jsonio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.codescan import WITHHELD, arr, hits_text, max_severity, obj, peek, repo_path, repository, text

_SECRET_TESTS = {"B105", "B106", "B107"}  # hardcoded password string, argument, default

TOOL = "Bandit"
FALLBACK_ASSET = "Bandit project"
_SEVERITY = {"high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW, "undefined": Severity.LOW}
_CONFIDENCE = {"high", "medium", "low", "undefined"}


class BanditParser:
    """Reader of Bandit JSON reports."""

    id = "bandit"
    name = "Bandit JSON report"
    maps_to = "one finding per test id (B101) and file, lines in evidence, on --asset or 'Bandit project'"
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """A JSON object with `generated_at` and `metrics` holding Bandit's `_totals` (`results`
        may come after the first 64 KiB, behind the per-file metrics)."""
        if head.json.kind != "object" or not {"generated_at", "metrics"} <= head.json.keys:
            return False
        keys, _values = peek(head.data)
        return "_totals" in keys.get("metrics", set())

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Coverage of the project (when Bandit scanned every file), findings, then the scan;
        several reports in one file (concatenated, or one per line) are read as one."""
        docs = list(jsonio.documents(stream, ctx.source))
        several = len(docs) > 1
        for position, doc in enumerate(docs, start=1):
            if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
                prefix = f"document {position}: " if several else ""
                raise InputError(ctx.source, f"{prefix}not a Bandit report (no results list)")
        times = [_generated(doc, ctx, f"document {n}" if several else "report") for n, doc in enumerate(docs, 1)]
        asset = repository(None, ctx, FALLBACK_ASSET)
        clean = not any(arr(doc.get("errors")) for doc in docs)
        if clean and asset.name != FALLBACK_ASSET:  # an unnamed project covers nothing
            yield Coverage(asset, min(times), max(times), None, Checks.ALL)
        groups: dict[tuple[str, str | None, dt.datetime], tuple[dict[str, Any], list[str], list[Severity]]] = {}
        for position, (doc, when) in enumerate(zip(docs, times, strict=True), start=1):
            for number, result in enumerate(doc["results"], start=1):
                record = f"result {number}" + (f" of document {position}" if several else "")
                if not isinstance(result, dict):
                    ctx.skip(record, "not an object")
                    continue
                test_id = text(result.get("test_id"))
                if test_id is None:
                    ctx.skip(record, "has no test_id")
                    continue
                record = f"{record} ({test_id[:20]})"
                word = result.get("issue_severity")
                severity = _SEVERITY.get(word.strip().lower()) if isinstance(word, str) else None
                if severity is None:
                    severity = common.odd_severity(ctx, record, word)
                confidence = text(result.get("issue_confidence"))
                if confidence is not None and confidence.lower() not in _CONFIDENCE:
                    ctx.warn(record, f"issue_confidence {confidence[:40]!r} not recognised; shown as given")
                path = repo_path(result.get("filename"))
                line = result.get("line_number")
                issue = " ".join(str(text(result.get("issue_text")) or "").split())
                code = text(result.get("code"))
                if test_id in _SECRET_TESTS:  # B105-B107 quote the password: keep where, not what
                    issue, code = WITHHELD, None
                hit = f"Line {line}: {issue}" if isinstance(line, int) else issue
                hit += f" (confidence {confidence})" if confidence else ""
                if code:
                    hit += "\n    " + code.rstrip().replace("\n", "\n    ")
                group = groups.setdefault((test_id, path, when), (result, [], []))
                group[1].append(hit)
                group[2].append(severity)
        by_test: dict[str, list[Severity]] = {}
        for (test_id, _path, _when), (_result, _hits, severities) in groups.items():
            by_test.setdefault(test_id, []).extend(severities)
        weaknesses: dict[str, Weakness] = {}
        for (test_id, path, when), (result, hits, _severities) in groups.items():
            weakness = weaknesses.get(test_id)
            if weakness is None:
                weakness = weaknesses[test_id] = _weakness(test_id, result, max_severity(by_test[test_id]))
            yield Finding(weakness=weakness, asset=asset, observed_at=when, path=path, evidence=hits_text(hits))
        yield Scan(TOOL, None, None, min(times), max(times))


def _generated(doc: dict[str, Any], ctx: ParseContext, record: str) -> dt.datetime:
    """A report's `generated_at`; else `--scan-date` or the file's time (warned when the report
    gives a value that is not a date)."""
    value = doc.get("generated_at")
    when = common.parse_time(value)
    if when is None:
        when = ctx.fallback_time()
        if value is not None and value != "":
            ctx.warn(record, f"generated_at {str(value)[:40]!r} is not a date; dated {when:%Y-%m-%d}")
    return when


def _weakness(test_id: str, result: dict[str, Any], severity: Severity) -> Weakness:
    test_name = text(result.get("test_name"))
    cwe = obj(result.get("issue_cwe")).get("id")
    return Weakness(
        tool=TOOL,
        vuln_id=test_id,
        name=f"{test_id}: {test_name}" if test_name else test_id,
        severity=severity,
        description=" ".join(str(text(result.get("issue_text")) or "").split()) or None,
        see_also=text(result.get("more_info")),
        cwes=tuple(str(int(c)) for c in [text(cwe) or ""] if c.isdigit() and int(c) > 0),
    )
