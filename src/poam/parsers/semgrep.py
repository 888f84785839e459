"""Semgrep: the CLI's `--json` output, and the Semgrep App supply-chain API document (`vulns[]`).

`--json`: one finding per rule (`check_id`) and file; several matches of a rule in a file are
one finding whose evidence lists the lines. Supply-chain matches (`extra.sca_info`) are located
at the package name instead, with the version and lockfile in the evidence. Severity: ERROR high,
WARNING medium, INFO low, and the newer CRITICAL/HIGH/MEDIUM/LOW as written; EXPERIMENT and
INVENTORY are informational. Ignored matches (`is_ignored`, `nosemgrep`) are left out. The file
names no repository: the asset is `--asset`, else `Semgrep project`; it has no date either
(`--scan-date`, else the file's modification time). The run covers the project unless Semgrep
reports an error of level `error` (then a missing finding may just not have been looked for).

App API (`{"vulns": [...], "hasMore", "cursor"}`): a page of an API listing, not a scan: one
finding per advisory (`advisory.ruleId`, as the CLI names the rule), repository
(`repositoryName`) and package; triage CLOSED/FIXED are fixed findings, IGNORED ones are left
out; nothing is closed by absence. Findings are seen at the listing's time (`--scan-date`, else
the file's); an open finding new to poam is detected at its `openedAt`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, BinaryIO

from poam.domain.models import Asset, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, jsonio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.codescan import arr, hits_text, max_severity, obj, peek, repo_path, repository, text

TOOL = "Semgrep"
FALLBACK_ASSET = "Semgrep project"
_SEVERITY = {
    "critical": Severity.CRITICAL,
    "error": Severity.HIGH,
    "high": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "info": Severity.LOW,
    "low": Severity.LOW,
    "experiment": Severity.INFO,
    "inventory": Severity.INFO,
}
_CLI_KEYS = {
    "results",
    "errors",
    "paths",
    "version",
    "skipped_rules",
    "interfile_languages_used",
    "time",
    "explanations",
    "engine_requested",
    "rules_by_engine",
    "subprojects",
    "profiling_results",
}
_FIXED = {"closed", "fixed", "resolved"}
_IGNORED = {"ignored", "provisionally_ignored", "dismissed"}


class SemgrepParser:
    """Reader of Semgrep CLI JSON and Semgrep App supply-chain API documents."""

    id = "semgrep"
    name = "Semgrep JSON (--json output; Semgrep App supply-chain vulns API)"
    maps_to = (
        "one finding per rule and file (lines in evidence), or per advisory and package (supply chain), "
        "on --asset or 'Semgrep project' (API: its repository); ignored matches left out"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """CLI: `results` and `errors` and only keys Semgrep writes, results with `check_id`.
        API: `vulns` whose items have `advisory` and `matchedDependency` (or none, with `hasMore`)."""
        shape = head.json
        if shape.kind != "object":
            return False
        if {"results", "errors"} <= shape.keys and shape.keys <= _CLI_KEYS:
            keys, _values = peek(head.data)
            first = keys.get("results.item")
            return first is None or "check_id" in first
        if "vulns" in shape.keys:
            keys, _values = peek(head.data)
            first = keys.get("vulns.item")
            if first is None:  # an empty page
                return bool(shape.keys & {"hasMore", "cursor"})
            return {"advisory", "matchedDependency"} <= first
        return False

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Findings of a CLI run or an API page, then the scan."""
        doc = jsonio.load(stream, ctx.source)
        if not isinstance(doc, dict):
            raise InputError(ctx.source, "not a Semgrep JSON document (a JSON object expected)")
        if isinstance(doc.get("results"), list):
            yield from self._cli(doc, ctx)
        elif isinstance(doc.get("vulns"), list):
            yield from self._api(doc["vulns"], ctx)
        else:
            raise InputError(ctx.source, "not a Semgrep JSON document (no results or vulns list)")

    def _cli(self, doc: dict[str, Any], ctx: ParseContext) -> Iterator[Record]:
        when = ctx.fallback_time()
        asset = repository(None, ctx, FALLBACK_ASSET)
        fatal = [e for e in arr(doc.get("errors")) if str(obj(e).get("level", "error")).lower() == "error"]
        if not fatal and asset.name != FALLBACK_ASSET:  # an unnamed project covers nothing
            yield Coverage(asset, when, when, None, Checks.ALL)
        groups: dict[tuple[str, str | None], tuple[dict[str, Any], list[str], list[Severity]]] = {}
        for number, result in enumerate(doc["results"], start=1):
            if not isinstance(result, dict):
                raise InputError(ctx.source, f"result {number} is not an object")
            check_id = text(result.get("check_id"))
            if check_id is None:
                raise InputError(ctx.source, f"result {number} has no check_id")
            extra = obj(result.get("extra"))
            if extra.get("is_ignored") is True:
                continue
            severity = _SEVERITY.get(str(extra.get("severity", "")).strip().lower())
            if severity is None:
                raise InputError(ctx.source, f"result {number}: severity {extra.get('severity')!r} is unknown")
            found = obj(obj(obj(extra.get("sca_info")).get("dependency_match")).get("found_dependency"))
            package = text(found.get("package"))
            path = package or repo_path(result.get("path"))
            line = obj(result.get("start")).get("line")
            message = " ".join(str(text(extra.get("message")) or "").split())
            hit = f"Line {line}: {message}" if isinstance(line, int) else message
            if package:
                version, lockfile = text(found.get("version")) or "?", repo_path(result.get("path"))
                hit = f"Installed: {package} {version} ({lockfile or 'lockfile not given'})"
            code = text(extra.get("lines"))
            if code and code != "requires login" and not package:
                hit += "\n    " + code.replace("\n", "\n    ")
            group = groups.setdefault((check_id, path), (result, [], []))
            group[1].append(hit)
            group[2].append(severity)
        weaknesses: dict[str, Weakness] = {}
        by_rule: dict[str, list[Severity]] = {}
        for (check_id, _path), (_result, _hits, severities) in groups.items():
            by_rule.setdefault(check_id, []).extend(severities)
        for (check_id, path), (result, hits, _severities) in groups.items():
            weakness = weaknesses.get(check_id)
            if weakness is None:
                weakness = weaknesses[check_id] = _cli_weakness(check_id, result, max_severity(by_rule[check_id]))
            yield Finding(weakness=weakness, asset=asset, observed_at=when, path=path, evidence=hits_text(hits))
        yield Scan(TOOL, text(doc.get("version")), None, when, when)

    def _api(self, vulns: list[Any], ctx: ParseContext) -> Iterator[Record]:
        now = ctx.fallback_time()
        assets: dict[str, Asset] = {}
        weaknesses: dict[str, Weakness] = {}
        times: list[dt.datetime] = []
        seen: set[tuple[str, str | None, str]] = set()
        for number, vuln in enumerate(vulns, start=1):
            if not isinstance(vuln, dict):
                raise InputError(ctx.source, f"vuln {number} is not an object")
            advisory = obj(vuln.get("advisory"))
            rule_id = text(advisory.get("ruleId"))
            package = text(obj(vuln.get("matchedDependency")).get("name"))
            repo = text(vuln.get("repositoryName"))
            if rule_id is None or package is None:
                raise InputError(ctx.source, f"vuln {number} has no advisory.ruleId or matchedDependency.name")
            triage = str(obj(vuln.get("triage")).get("status") or "").strip().lower()
            if triage in _IGNORED or (rule_id, repo, package) in seen:
                continue
            seen.add((rule_id, repo, package))
            severity = _SEVERITY.get(str(advisory.get("severity", "")).strip().lower())
            if severity is None:
                raise InputError(ctx.source, f"vuln {number}: severity {advisory.get('severity')!r} is unknown")
            weakness = weaknesses.get(rule_id)
            if weakness is None:
                weakness = weaknesses[rule_id] = _api_weakness(rule_id, advisory, severity, vuln)
            asset = assets.get(repo or "")
            if asset is None:
                asset = assets[repo or ""] = repository(repo, ctx, FALLBACK_ASSET)
            opened = common.parse_time(vuln.get("openedAt"))
            fixed = triage in _FIXED
            when = max(now, opened) if opened else now
            times.append(when)
            where = obj(vuln.get("dependencyFileLocation"))
            usages = [obj(obj(u).get("location")) for u in arr(vuln.get("usages"))]
            lockfile = f"{repo_path(where.get('path')) or 'lockfile not given'}, line {text(where.get('startLine'))}"
            lines = [
                f"Installed: {package} {text(obj(vuln.get('matchedDependency')).get('versionSpecifier')) or '?'}"
                f" ({lockfile})",
                f"Fixed in: {text(obj(vuln.get('closestSafeDependency')).get('versionSpecifier')) or '?'}",
                f"Exposure: {text(vuln.get('exposureType')) or '?'}; {text(vuln.get('transitivity')) or '?'}",
                *(f"Used at {repo_path(u.get('path'))}, line {text(u.get('startLine'))}" for u in usages),
            ]
            yield Finding(
                weakness=weakness,
                asset=asset,
                observed_at=when,
                path=package,
                evidence=hits_text(lines),
                status=FindingStatus.FIXED if fixed else FindingStatus.OPEN,
                since=opened if opened and opened < when else None,
            )
        yield Scan(TOOL, None, "Semgrep App supply-chain findings", min(times, default=now), max(times, default=now))


def _cli_weakness(check_id: str, result: dict[str, Any], severity: Severity) -> Weakness:
    extra = obj(result.get("extra"))
    meta = obj(extra.get("metadata"))
    references = [r for r in (text(x) for x in [*arr(meta.get("references")), meta.get("source")]) if r]
    ident = text(meta.get("sca-vuln-database-identifier"))
    package = text(obj(obj(obj(extra.get("sca_info")).get("dependency_match")).get("found_dependency")).get("package"))
    name = f"{ident or check_id} in {package}" if package else check_id.rsplit(".", 1)[-1]
    return Weakness(
        tool=TOOL,
        vuln_id=check_id,
        name=name,
        severity=severity,
        family=text(meta.get("category")),
        description=" ".join(str(text(extra.get("message")) or "").split()) or None,
        see_also="\n".join(dict.fromkeys(references)) or None,
        cves=common.cves_in(check_id, ident, meta.get("cve")),
        cwes=_cwes(meta.get("cwe")),
    )


def _api_weakness(rule_id: str, advisory: dict[str, Any], severity: Severity, vuln: dict[str, Any]) -> Weakness:
    refs = obj(advisory.get("references"))
    return Weakness(
        tool=TOOL,
        vuln_id=rule_id,
        name=text(advisory.get("title")) or text(vuln.get("title")) or rule_id,
        severity=severity,
        description=text(advisory.get("description")),
        see_also="\n".join(u for u in (text(x) for x in arr(refs.get("urls"))) if u) or None,
        cves=common.cves_in(refs.get("cveIds")),
        cwes=_cwes(refs.get("cweIds")),
    )


def _cwes(value: object) -> tuple[str, ...]:
    """CWE numbers from `CWE-79: ...` texts (a string or a list)."""
    values = value if isinstance(value, list) else [value]
    texts = [v.split(":", 1)[0] for v in values if isinstance(v, str)]
    return tuple(dict.fromkeys(str(int(c)) for c in common.cwes_in(texts) if c.isdigit()))
