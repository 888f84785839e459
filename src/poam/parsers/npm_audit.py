"""`npm audit --json`: npm 6 and older (`advisories`) and npm 7 and later (`auditReportVersion` 2).

One finding per advisory and vulnerable package: the id is the GitHub advisory id (GHSA, from
`github_advisory_id` or the advisory URL), else npm's advisory number; the location is the
package name, with the installed versions, dependency paths and fix in the evidence. npm 7
reports also list the packages that are affected only through a dependency (`via` names another
package): those are not findings of their own; they appear in the evidence of the advisory they
lead to. An audit lists every vulnerable dependency of the project, so the file covers the
project: the asset is `--asset`, else `npm audit project` (npm does not name the project), and
an unnamed project covers nothing. A file may hold several reports, concatenated or one per line
(several `npm audit --json` runs appended): they are one import of the one project.

Severity: critical, high, moderate (or medium), low, info; another word is rated by the
advisory's CVSS score, else Moderate, with a warning. An advisory or vulnerability entry that
cannot be read (not an object, no `via` list, a `via` item neither a package name nor an
advisory, an advisory without id) is left out with a warning, and the file then covers nothing
(its absence proves no fix). An npm 6 advisory without `module_name` takes the last package of
its dependency paths, else `(unknown package)`, warned: a fallback identity, so the file then
covers nothing either (the finding it normally has is not in the file under its own identity);
nor does an npm 6 report whose `muted` list is not empty (those advisories are left out of the
report, not fixed: warned). A report whose `auditReportVersion` is not 2 is read as version 2,
with a warning, when its `vulnerabilities` is an object (else refused).
The file has no date: findings are dated `--scan-date`, else the file's modification time.
An npm error object (`{"error": {"code": "ENOAUDIT", ...}}`) is refused: npm could not audit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from poam.domain.models import Checks, Coverage, Finding, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.codescan import arr, hits_text, obj, peek, repository, text

TOOL = "npm audit"
FALLBACK_ASSET = "npm audit project"
MUTED = "advisories were muted; no coverage, so this file closes nothing on it"
"""The warning on the project when an npm 6 report lists muted advisories (left out, not fixed)."""
_GHSA = re.compile(r"GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}", re.IGNORECASE)
_SEVERITY = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "info": Severity.INFO,
}


@dataclass
class _Audit:
    """What the reports of one file found: findings, and whether a record was left out."""

    ctx: ParseContext
    found: list[tuple[Weakness, str, str | None]] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    gaps: sca.Collector = field(default_factory=sca.Collector)
    """What the file did not check (a record left out, a fallback identity): it then covers nothing."""
    prefix: str = ""

    def skip(self, record: str, problem: str) -> None:
        """Leave out a record that cannot be read; the file then covers nothing."""
        self.gaps.skip(self.ctx, f"{self.prefix}{record}", problem)

    def fallback(self, record: str, problem: str) -> None:
        """Keep a record under a fallback identity (warned); the file then covers nothing."""
        self.gaps.fallback(self.ctx, f"{self.prefix}{record}", problem)

    def warn(self, record: str, problem: str) -> None:
        self.ctx.warn(f"{self.prefix}{record}", problem)


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
        or `muted`; or npm's error object `{"error": {"code": "E...", "summary": ...}}` (the
        file's first report)."""
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
        docs = list(jsonio.documents(stream, ctx.source))
        audit = _Audit(ctx)
        for number, doc in enumerate(docs, start=1):
            audit.prefix = f"report {number}: " if len(docs) > 1 else ""
            what = f"report {number} is not" if len(docs) > 1 else "not"
            if not isinstance(doc, dict):
                raise InputError(ctx.source, f"{what} an npm audit report (a JSON object expected)")
            error = doc.get("error")
            if error is not None:
                e = obj(error)
                said = text(e.get("summary")) or text(e.get("detail")) or text(error) or "no detail"
                raise InputError(ctx.source, f"npm audit failed ({text(e.get('code')) or 'error'}): {said}")
            if "auditReportVersion" in doc:
                version = doc["auditReportVersion"]
                if not isinstance(doc.get("vulnerabilities"), dict):
                    raise InputError(
                        ctx.source, f"npm audit report version {version!r}: vulnerabilities is not an object"
                    )
                if version != 2:
                    audit.warn("report", f"auditReportVersion {version!r} is not 2; read as version 2")
                _npm7(doc["vulnerabilities"], audit)
            elif "advisories" in doc:
                if not isinstance(doc["advisories"], dict):
                    raise InputError(ctx.source, "npm audit report: advisories is not an object")
                _npm6(doc["advisories"], audit)
                muted = doc.get("muted")
                if isinstance(muted, list) and muted:  # advisories npm left out of the report: not fixed
                    what = "advisory" if len(muted) == 1 else "advisories"
                    problem = (
                        f"{len(muted)} muted {what} left out of the report; the file gives the project no coverage"
                    )
                    audit.gaps.withhold(ctx, f"{audit.prefix}report", problem, MUTED)
            else:
                raise InputError(ctx.source, f"{what} an npm audit report (no advisories or vulnerabilities)")
        asset = repository(None, ctx, FALLBACK_ASSET)
        dating = sca.Dating(ctx, None)
        if asset.name != FALLBACK_ASSET:  # an unnamed project covers nothing
            if audit.gaps.incomplete:
                ctx.warn(f"asset {asset.name}", audit.gaps.why)
            else:
                yield Coverage(asset, dating.time(), dating.time(), None, Checks.VULNERABILITY)
        for weakness, package, evidence in audit.found:
            yield Finding(weakness=weakness, asset=asset, observed_at=dating.time(), path=package, evidence=evidence)
        started, ended = sca.window([dating])
        yield Scan(TOOL, None, None, started, ended)


def _vuln_id(advisory: dict[str, Any], number: object) -> str | None:
    for candidate in (advisory.get("github_advisory_id"), advisory.get("url")):
        m = _GHSA.search(str(candidate or ""))
        if m:
            return m.group(0)[:4].upper() + m.group(0)[4:].lower()
    return text(number)


def _severity(advisory: dict[str, Any], audit: _Audit, record: str) -> Severity:
    """npm's severity word; another is rated by the advisory's CVSS score, else Moderate, warned."""
    value = advisory.get("severity")
    severity = _SEVERITY.get(str(value).strip().lower()) if isinstance(value, str) else None
    if severity is not None:
        return severity
    number = cvss.score(text(obj(advisory.get("cvss")).get("score")))
    banded = common.severity_score(number) if number else None
    if banded is not None and banded is not Severity.INFO:
        shown = "missing" if value is None or value == "" else repr(str(value)[:40])
        audit.warn(record, f"severity {shown} not recognised; rated {banded.value} by its CVSS score")
        return banded
    return common.odd_severity(audit.ctx, f"{audit.prefix}{record}", value)


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


def _npm6(advisories: dict[Any, Any], audit: _Audit) -> None:
    for number, advisory in advisories.items():
        record = f"advisory {number}"
        if not isinstance(advisory, dict):
            audit.skip(record, "not an object")
            continue
        vuln_id = _vuln_id(advisory, advisory.get("id", number))
        if vuln_id is None:
            audit.skip(record, "an advisory without id")
            continue
        record = f"{record} ({vuln_id})" if vuln_id != str(number) else record
        paths = [text(p) for f in arr(advisory.get("findings")) for p in arr(obj(f).get("paths"))]
        package = text(advisory.get("module_name"))
        if package is None:
            last = next((p.rsplit(">", 1)[-1].strip() for p in paths if p), None) or None
            package = last or sca.UNKNOWN_PACKAGE
            audit.fallback(record, f"no module_name; package {package!r}" + (" from its paths" if last else ""))
        if (vuln_id, package) in audit.seen:
            continue
        audit.seen.add((vuln_id, package))
        weakness = _weakness(advisory, vuln_id, _severity(advisory, audit, record), package)
        versions = [text(obj(f).get("version")) for f in arr(advisory.get("findings"))]
        lines = [
            f"Installed: {package} {', '.join(dict.fromkeys(v for v in versions if v)) or '(version not given)'}",
            f"Vulnerable versions: {text(advisory.get('vulnerable_versions')) or '?'}; "
            f"patched: {text(advisory.get('patched_versions')) or '?'}",
            *(f"Path: {p}" for p in dict.fromkeys(p for p in paths if p)),
        ]
        audit.found.append((weakness, package, hits_text(lines)))


def _npm7(vulnerabilities: dict[Any, Any], audit: _Audit) -> None:
    entries = {str(k): obj(v) for k, v in vulnerabilities.items()}
    for key, value in vulnerabilities.items():
        record = f"vulnerability {str(key)!r}"
        if not isinstance(value, dict):
            audit.skip(record, "not an object")
            continue
        entry: dict[str, Any] = value
        via = entry.get("via")
        if not isinstance(via, list):
            audit.skip(record, "no via list")
            continue
        for n, advisory in enumerate(via, start=1):
            if isinstance(advisory, str):
                continue  # affected through another package: that package carries the advisory
            if not isinstance(advisory, dict):
                audit.skip(f"{record}, via {n}", f"{repr(advisory)[:40]} is neither a package name nor an advisory")
                continue
            package = text(advisory.get("name")) or text(advisory.get("dependency")) or str(key)
            vuln_id = _vuln_id(advisory, advisory.get("source"))
            if vuln_id is None:
                audit.skip(f"{record}, via {n}", "an advisory without url or source")
                continue
            if (vuln_id, package) in audit.seen:
                continue
            audit.seen.add((vuln_id, package))
            severity = _severity(advisory, audit, f"{record}, via {n} ({vuln_id})")
            weakness = _weakness(advisory, vuln_id, severity, package)
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
                *(f"Node: {node}" for node in arr(entry.get("nodes")) if isinstance(node, str)),
                f"Affects: {', '.join(_dependents(str(key), entries))}" if _dependents(str(key), entries) else "",
                f"Fix available: {fix_text}",
            ]
            audit.found.append((weakness, package, hits_text(lines)))


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
