"""`npm audit --json`: npm 6 and older (`advisories`) and npm 7 and later (`auditReportVersion` 2).

One finding per advisory and vulnerable package: the id is the GitHub advisory id (GHSA, from
`github_advisory_id` or the advisory URL), else npm's advisory number; the location is the
package name, with the installed versions, dependency paths and fix in the evidence. npm 7
reports also list the packages that are affected only through a dependency (`via` names another
package): those are not findings of their own; they appear in the evidence of the advisory they
lead to. An audit lists every vulnerable dependency of the project, so the file covers the
project: the asset is `--asset`, else `npm audit project` (npm does not name the project).
The file has no date: findings are dated `--scan-date`, else the file's modification time.
An npm error object (`{"error": {"code": "ENOAUDIT", ...}}`) is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from poam.domain.models import Checks, Coverage, Finding, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss, jsonio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.codescan import arr, hits_text, obj, peek, repository, text

TOOL = "npm audit"
FALLBACK_ASSET = "npm audit project"
_GHSA = re.compile(r"GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}", re.IGNORECASE)
_SEVERITY = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "info": Severity.INFO,
}


class NpmAuditParser:
    """Reader of `npm audit --json` reports."""

    id = "npm-audit"
    name = "npm audit JSON (npm 6 advisories, npm 7+ auditReportVersion 2)"
    maps_to = (
        "one finding per advisory (GHSA id, else npm advisory number) and vulnerable package, "
        "on --asset or 'npm audit project'"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """npm 7+: `auditReportVersion` and `vulnerabilities`; npm 6: `advisories` with `actions`
        or `muted`; or npm's error object `{"error": {"code": "E...", "summary": ...}}`."""
        keys = head.json.keys
        if head.json.kind != "object":
            return False
        if {"auditReportVersion", "vulnerabilities"} <= keys or "advisories" in keys and keys & {"actions", "muted"}:
            return True
        if keys == {"error"}:
            found, values = peek(head.data)
            code = str(values.get("error.code") or "")
            return code.startswith("E") and {"code", "summary"} <= found.get("error", set())
        return False

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Coverage of the project, a finding per advisory and package, then the scan."""
        doc = jsonio.load(stream, ctx.source)
        if not isinstance(doc, dict):
            raise InputError(ctx.source, "not an npm audit report (a JSON object expected)")
        error = doc.get("error")
        if error is not None:
            e = obj(error)
            said = text(e.get("summary")) or text(e.get("detail")) or text(error) or "no detail"
            raise InputError(ctx.source, f"npm audit failed ({text(e.get('code')) or 'error'}): {said}")
        when = ctx.fallback_time()
        asset = repository(None, ctx, FALLBACK_ASSET)
        if "auditReportVersion" in doc:
            if doc["auditReportVersion"] != 2:
                raise InputError(ctx.source, f"npm audit report version {doc['auditReportVersion']!r} not supported")
            found = _npm7(doc.get("vulnerabilities"), ctx)
        elif "advisories" in doc:
            found = _npm6(doc.get("advisories"), ctx)
        else:
            raise InputError(ctx.source, "not an npm audit report (no advisories or vulnerabilities)")
        if asset.name != FALLBACK_ASSET:  # an unnamed project covers nothing
            yield Coverage(asset, when, when, None, Checks.VULNERABILITY)
        for weakness, package, evidence in found:
            yield Finding(weakness=weakness, asset=asset, observed_at=when, path=package, evidence=evidence)
        yield Scan(TOOL, None, None, when, when)


def _vuln_id(advisory: dict[str, Any], number: object) -> str | None:
    for candidate in (advisory.get("github_advisory_id"), advisory.get("url")):
        m = _GHSA.search(str(candidate or ""))
        if m:
            return m.group(0)[:4].upper() + m.group(0)[4:].lower()
    return text(number)


def _severity(value: object, ctx: ParseContext, vuln_id: str) -> Severity:
    severity = _SEVERITY.get(str(value).strip().lower())
    if severity is None:
        raise InputError(ctx.source, f"advisory {vuln_id}: severity {value!r} is not one of {', '.join(_SEVERITY)}")
    return severity


def _weakness(advisory: dict[str, Any], vuln_id: str, severity: Severity, package: str) -> Weakness:
    score = advisory.get("cvss")
    vector = text(obj(score).get("vectorString"))
    number = cvss.score(text(obj(score).get("score")))
    version = 4 if vector and vector.startswith("CVSS:4") else 3
    if vector is None and not number:
        number = None  # npm writes score 0 for "no score"
    see_also = [text(advisory.get("url")), text(advisory.get("references"))]
    return Weakness(
        tool=TOOL,
        vuln_id=vuln_id,
        name=text(advisory.get("title")) or f"{vuln_id} in {package}",
        severity=severity,
        description=text(advisory.get("overview")),
        solution=text(advisory.get("recommendation")),
        see_also="\n".join(s for s in see_also if s) or None,
        cvss3_score=cvss.fill(3, number, vector) if version == 3 else None,
        cvss3_vector=vector if version == 3 else None,
        cvss4_score=cvss.fill(4, number, vector) if version == 4 else None,
        cvss4_vector=vector if version == 4 else None,
        cves=common.cves_in(vuln_id, advisory.get("cves")),
        cwes=common.cwes_in(advisory.get("cwe")),
    )


_Found = list[tuple[Weakness, str, str | None]]


def _npm6(advisories: object, ctx: ParseContext) -> _Found:
    if not isinstance(advisories, dict):
        raise InputError(ctx.source, "npm audit report: advisories is not an object")
    found: _Found = []
    seen: set[tuple[str, str]] = set()
    for number, advisory in advisories.items():
        if not isinstance(advisory, dict):
            raise InputError(ctx.source, f"advisory {number!r} is not an object")
        vuln_id = _vuln_id(advisory, advisory.get("id", number))
        package = text(advisory.get("module_name"))
        if vuln_id is None or package is None:
            raise InputError(ctx.source, f"advisory {number!r} has no id or module_name")
        if (vuln_id, package) in seen:
            continue
        seen.add((vuln_id, package))
        weakness = _weakness(advisory, vuln_id, _severity(advisory.get("severity"), ctx, vuln_id), package)
        versions = [text(obj(f).get("version")) for f in arr(advisory.get("findings"))]
        paths = [text(p) for f in arr(advisory.get("findings")) for p in arr(obj(f).get("paths"))]
        lines = [
            f"Installed: {package} {', '.join(dict.fromkeys(v for v in versions if v)) or '(version not given)'}",
            f"Vulnerable versions: {text(advisory.get('vulnerable_versions')) or '?'}; "
            f"patched: {text(advisory.get('patched_versions')) or '?'}",
            *(f"Path: {p}" for p in dict.fromkeys(p for p in paths if p)),
        ]
        found.append((weakness, package, hits_text(lines)))
    return found


def _npm7(vulnerabilities: object, ctx: ParseContext) -> _Found:
    if not isinstance(vulnerabilities, dict):
        raise InputError(ctx.source, "npm audit report: vulnerabilities is not an object")
    entries = {str(k): obj(v) for k, v in vulnerabilities.items()}
    found: _Found = []
    seen: set[tuple[str, str]] = set()
    for key, entry in entries.items():
        via = entry.get("via")
        if not isinstance(via, list):
            raise InputError(ctx.source, f"vulnerability {key!r} has no via list")
        for advisory in via:
            if isinstance(advisory, str):
                continue  # affected through another package: that package carries the advisory
            if not isinstance(advisory, dict):
                raise InputError(ctx.source, f"vulnerability {key!r}: via holds {type(advisory).__name__}")
            package = text(advisory.get("name")) or text(advisory.get("dependency")) or key
            vuln_id = _vuln_id(advisory, advisory.get("source"))
            if vuln_id is None:
                raise InputError(ctx.source, f"vulnerability {key!r}: advisory without url or source")
            if (vuln_id, package) in seen:
                continue
            seen.add((vuln_id, package))
            weakness = _weakness(advisory, vuln_id, _severity(advisory.get("severity"), ctx, vuln_id), package)
            fix = entry.get("fixAvailable")
            fix_text = (
                f"{text(obj(fix).get('name'))} {text(obj(fix).get('version'))}"
                + (" (major upgrade)" if obj(fix).get("isSemVerMajor") else "")
                if isinstance(fix, dict)
                else ("yes" if fix is True else "no")
            )
            lines = [
                f"Installed: {package} in {text(entry.get('range')) or '(range not given)'}"
                + (" (direct dependency)" if entry.get("isDirect") is True else ""),
                f"Vulnerable versions: {text(advisory.get('range')) or '?'}",
                *(f"Node: {n}" for n in arr(entry.get("nodes")) if isinstance(n, str)),
                f"Affects: {', '.join(_dependents(key, entries))}" if _dependents(key, entries) else "",
                f"Fix available: {fix_text}",
            ]
            found.append((weakness, package, hits_text(lines)))
    return found


def _dependents(key: str, entries: dict[str, dict[str, Any]]) -> list[str]:
    """Packages affected through this one, following `effects` (as npm does), in order found."""
    out: dict[str, None] = {}
    todo = [e for e in arr(entries.get(key, {}).get("effects")) if isinstance(e, str)]
    while todo and len(out) < 1000:
        name = todo.pop(0)
        if name not in out and name != key:
            out[name] = None
            todo += [e for e in arr(entries.get(name, {}).get("effects")) if isinstance(e, str)]
    return list(out)
