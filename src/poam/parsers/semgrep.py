"""Semgrep: the CLI's `--json` output, and the Semgrep App supply-chain API document (`vulns[]`).

`--json`: one finding per rule (`check_id`) and file; several matches of a rule in a file are
one finding whose evidence lists the lines. Supply-chain matches (`extra.sca_info`) are located
at the package name instead, with the version and lockfile in the evidence. Severity: ERROR high,
WARNING medium, INFO low, and the newer CRITICAL/HIGH/MEDIUM/LOW as written; EXPERIMENT and
INVENTORY are informational. Ignored matches (`is_ignored`: a `nosemgrep` comment) are set aside,
with the rule and file an open match would have: an open finding of them stays open (still
reported: not a fix), and none is opened from them; an open match of a rule and file wins over
an ignored one. The file names no repository: the asset is `--asset`, else `Semgrep project`; it
has no date either (`--scan-date`, else the file's modification time). The run covers the
project unless Semgrep reports an error of level `error` that names no file (the run failed). An
error of any level that names a file (`path`, or the locations of a `PartialParsing` error: a
file Semgrep could only partly parse, a rule that timed out on it) leaves that file not fully
analysed: a finding missing from it may just not have been looked for, so its findings are not
closed by absence (the scan's `partial_paths`; warned once, with the number of such files); when
such a file is a lockfile or manifest, or the run holds supply-chain matches (a lockfile it could
not read hides which packages it lists), the run covers nothing.

App API (`{"vulns": [...], "hasMore", "cursor"}`): a page of an API listing, not a scan: one
finding per advisory (`advisory.ruleId`, as the CLI names the rule), repository
(`repositoryName`) and package; triage CLOSED/FIXED are fixed findings, IGNORED ones are set
aside (as above: in a file that also holds a CLI run covering that repository, the run does not
close them); nothing is closed by absence. Vulns of one advisory, repository and package (two
lockfiles, or two pages) are one finding: an open one wins, then a set-aside one, then a fixed
one (a vuln fixed in one lockfile never hides one still open in another); the evidence lists the
vulns that decided. Findings are seen at the listing's time (`--scan-date`, else the file's); an
open finding new to poam is detected at its `openedAt`.

Several documents in one file (concatenated outputs or API pages, or one per line) are one import:
a CLI run's matches and an API listing's vulns are merged (a vuln on two pages is one finding),
and the files any run could not fully analyse are held (above).

Lenient on values: a result or vuln that is not an object, or that has no `check_id` (no
`advisory.ruleId` or `matchedDependency.name`), is left out; an unknown severity is rated
Moderate; a triage status Semgrep does not document is open unless it means set aside (set
aside); an unreadable `openedAt` gives no detection time; each with a warning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
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
_OPEN = {"new", "open", "untriaged", "reopened", "reviewing", "fixing", "to_fix"}
_RANK = {FindingStatus.OPEN: 0, FindingStatus.SET_ASIDE: 1, FindingStatus.FIXED: 2}
"""Records of one finding: an open one wins, then a set-aside one, then a fixed one (as
`sca.Collector.add`)."""


@dataclass
class _Listed:
    """The vulns of one advisory, repository and package in an API listing, merged."""

    weakness: Weakness
    asset: Asset
    package: str
    status: FindingStatus
    when: dt.datetime
    opened: dt.datetime | None
    lines: list[str] = field(default_factory=list)

    def add(self, status: FindingStatus, when: dt.datetime, opened: dt.datetime | None, lines: list[str]) -> None:
        """Merge another vuln of this finding: a status that ranks higher replaces what was
        known; an equal one adds its evidence (latest time, earliest opening)."""
        if _RANK[status] < _RANK[self.status]:
            self.status, self.when, self.opened, self.lines = status, when, opened, list(lines)
        elif status is self.status:
            self.when = max(self.when, when)
            self.opened = min((t for t in (self.opened, opened) if t), default=None)
            self.lines += lines

    def finding(self) -> Finding:
        opened = self.opened
        since = opened if opened and opened < self.when and self.status is FindingStatus.OPEN else None
        return Finding(
            weakness=self.weakness,
            asset=self.asset,
            observed_at=self.when,
            path=self.package,
            evidence=hits_text(self.lines),
            status=self.status,
            since=since,
        )


class SemgrepParser:
    """Reader of Semgrep CLI JSON and Semgrep App supply-chain API documents."""

    id = "semgrep"
    name = "Semgrep JSON (--json output; Semgrep App supply-chain vulns API)"
    maps_to = (
        "one finding per rule and file (lines in evidence), or per advisory and package (supply chain), "
        "on --asset or 'Semgrep project' (API: its repository); ignored matches set aside"
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
        """Findings of CLI runs and API pages, then the scan; several documents in one file
        (concatenated outputs or pages, or one per line) are read as one."""
        docs = list(jsonio.documents(stream, ctx.source))
        several = len(docs) > 1
        runs: list[tuple[str, dict[str, Any]]] = []
        pages: list[tuple[str, list[Any]]] = []
        for position, doc in enumerate(docs, start=1):
            where = f"document {position}" if several else ""
            prefix = f"{where}: " if several else ""
            if not isinstance(doc, dict):
                raise InputError(ctx.source, f"{prefix}not a Semgrep JSON document (a JSON object expected)")
            if isinstance(doc.get("results"), list):
                runs.append((where, doc))
            elif isinstance(doc.get("vulns"), list):
                pages.append((where, doc["vulns"]))
            else:
                raise InputError(ctx.source, f"{prefix}not a Semgrep JSON document (no results or vulns list)")
        times: list[dt.datetime] = [ctx.fallback_time()]  # the file names no time of its own
        unanalysed: list[str] = []
        if runs:
            yield from self._cli(runs, ctx, times, unanalysed)
        if pages:
            yield from self._api(pages, ctx, times)
        version = next((v for v in (text(doc.get("version")) for _w, doc in runs) if v), None)
        name = None if runs else "Semgrep App supply-chain findings"
        yield Scan(TOOL, version, name, min(times), max(times), partial_paths=tuple(unanalysed))

    def _cli(
        self,
        runs: list[tuple[str, dict[str, Any]]],
        ctx: ParseContext,
        times: list[dt.datetime],
        unanalysed: list[str],
    ) -> Iterator[Record]:
        """CLI output names no date: its findings take `--scan-date`, else the file's time. Files
        Semgrep could not fully analyse go to `unanalysed` (the scan's partial paths)."""
        when = ctx.fallback_time()
        asset = repository(None, ctx, FALLBACK_ASSET)
        errors = [obj(e) for _w, doc in runs for e in arr(doc.get("errors"))]
        # An error of level `error` that names no file stopped the run; one that names a file (any
        # level: PartialParsing and Timeout are `warn`) left that file not fully analysed.
        fatal = [e for e in errors if str(e.get("level", "error")).lower() == "error" and not _error_paths(e)]
        unanalysed += sorted({p for e in errors for p in _error_paths(e)})
        supply_chain = any(_is_manifest(p) for p in unanalysed) or any(
            obj(obj(r).get("extra")).get("sca_info") for _w, doc in runs for r in doc["results"] if isinstance(r, dict)
        )
        if unanalysed and supply_chain:  # a lockfile it could not read hides which packages it lists
            ctx.warn("file", f"semgrep could not fully analyse {len(unanalysed)} file(s); nothing is closed by absence")
        elif unanalysed:  # a finding missing from such a file may just not have been looked for
            ctx.warn("file", f"semgrep could not fully analyse {len(unanalysed)} file(s); their findings stay open")
        covers = not fatal and not (unanalysed and supply_chain)
        if covers and asset.name != FALLBACK_ASSET:  # an unnamed project covers nothing
            yield Coverage(asset, when, when, None, Checks.ALL)
        groups: dict[tuple[str, str | None, bool], tuple[dict[str, Any], list[str], list[Severity]]] = {}
        for where, doc in runs:
            for number, result in enumerate(doc["results"], start=1):
                record = f"result {number}" + (f" of {where}" if where else "")
                if not isinstance(result, dict):
                    ctx.skip(record, "not an object")
                    continue
                check_id = text(result.get("check_id"))
                if check_id is None:
                    ctx.skip(record, "has no check_id")
                    continue
                record = f"{record} ({check_id[:60]})"
                extra = obj(result.get("extra"))
                aside = extra.get("is_ignored") is True  # a `nosemgrep` match: set aside, not fixed
                word = extra.get("severity")
                severity = _SEVERITY.get(word.strip().lower()) if isinstance(word, str) else None
                if severity is None:
                    severity = common.odd_severity(ctx, record, word)
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
                group = groups.setdefault((check_id, path, aside), (result, [], []))
                group[1].append(hit)
                group[2].append(severity)
        weaknesses: dict[str, Weakness] = {}
        by_rule: dict[tuple[str, bool], list[Severity]] = {}
        for (check_id, _path, aside), (_result, _hits, severities) in groups.items():
            by_rule.setdefault((check_id, aside), []).extend(severities)
        # open matches first: a rule's weakness is made from them when it has any
        for (check_id, path, aside), (result, hits, _severities) in sorted(groups.items(), key=lambda g: g[0][2]):
            weakness = weaknesses.get(check_id)
            if weakness is None:
                rated = max_severity(by_rule.get((check_id, False)) or by_rule[(check_id, True)])
                weakness = weaknesses[check_id] = _cli_weakness(check_id, result, rated)
            status = FindingStatus.SET_ASIDE if aside else FindingStatus.OPEN
            yield Finding(weakness, asset, when, evidence=hits_text(hits), path=path, status=status)

    def _api(self, pages: list[tuple[str, list[Any]]], ctx: ParseContext, times: list[dt.datetime]) -> Iterator[Record]:
        """A listing has no time of its own: its findings are seen at `--scan-date`, else the
        file's time; an open finding new to poam is detected at its `openedAt`."""
        now = ctx.fallback_time()
        assets: dict[str, Asset] = {}
        weaknesses: dict[str, Weakness] = {}
        listed: dict[tuple[str, str | None, str], _Listed] = {}
        for where, vulns in pages:
            for number, vuln in enumerate(vulns, start=1):
                record = f"vuln {number}" + (f" of {where}" if where else "")
                if not isinstance(vuln, dict):
                    ctx.skip(record, "not an object")
                    continue
                advisory = obj(vuln.get("advisory"))
                rule_id = text(advisory.get("ruleId"))
                package = text(obj(vuln.get("matchedDependency")).get("name"))
                repo = text(vuln.get("repositoryName"))
                if rule_id is None or package is None:
                    ctx.skip(record, "has no advisory.ruleId or matchedDependency.name")
                    continue
                record = f"{record} ({rule_id[:60]})"
                status = self._triage(ctx, record, vuln)
                word = advisory.get("severity")
                severity = _SEVERITY.get(word.strip().lower()) if isinstance(word, str) else None
                if severity is None:
                    severity = common.odd_severity(ctx, record, word)
                weakness = weaknesses.get(rule_id)
                if weakness is None:
                    weakness = weaknesses[rule_id] = _api_weakness(rule_id, advisory, severity, vuln)
                asset = assets.get(repo or "")
                if asset is None:
                    asset = assets[repo or ""] = repository(repo, ctx, FALLBACK_ASSET)
                opened = common.parse_time(vuln.get("openedAt"))
                if opened is None and vuln.get("openedAt") not in (None, ""):
                    shown = str(vuln["openedAt"])[:40]
                    ctx.warn(record, f"openedAt {shown!r} is not a date; detected at the listing's time")
                when = max(now, opened) if opened else now
                where_ = obj(vuln.get("dependencyFileLocation"))
                usages = [obj(obj(u).get("location")) for u in arr(vuln.get("usages"))]
                lockfile = (
                    f"{repo_path(where_.get('path')) or 'lockfile not given'}, line {text(where_.get('startLine'))}"
                )
                lines = [
                    f"Installed: {package} {text(obj(vuln.get('matchedDependency')).get('versionSpecifier')) or '?'}"
                    f" ({lockfile})",
                    f"Fixed in: {text(obj(vuln.get('closestSafeDependency')).get('versionSpecifier')) or '?'}",
                    f"Exposure: {text(vuln.get('exposureType')) or '?'}; {text(vuln.get('transitivity')) or '?'}",
                    *(f"Used at {repo_path(u.get('path'))}, line {text(u.get('startLine'))}" for u in usages),
                ]
                known = listed.get((rule_id, repo, package))
                if known is None:
                    listed[(rule_id, repo, package)] = _Listed(weakness, asset, package, status, when, opened, lines)
                else:  # another lockfile or page: open wins, then set aside, then fixed
                    known.add(status, when, opened, lines)
        for merged in listed.values():
            times.append(merged.when)
            yield merged.finding()

    @staticmethod
    def _triage(ctx: ParseContext, record: str, vuln: dict[str, Any]) -> FindingStatus:
        """The finding's status by its triage: fixed, open, or set aside (ignored). A status
        Semgrep does not document is open, warned, unless it means set aside."""
        value = obj(vuln.get("triage")).get("status")
        word = str(value).strip().lower() if value is not None else ""
        if word in _FIXED:
            return FindingStatus.FIXED
        if word in _IGNORED:
            return FindingStatus.SET_ASIDE
        if word in _OPEN or not word:
            return FindingStatus.OPEN
        if common.dismissed(word):
            ctx.warn(record, f"triage status {str(value)[:40]!r} read as ignored; set aside")
            return FindingStatus.SET_ASIDE
        return common.odd_status(ctx, record, value)


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


_MANIFESTS = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "package.json",
        "pipfile.lock",
        "poetry.lock",
        "uv.lock",
        "pdm.lock",
        "go.mod",
        "go.sum",
        "cargo.lock",
        "gemfile.lock",
        "composer.lock",
        "pom.xml",
        "gradle.lockfile",
        "build.gradle",
        "build.gradle.kts",
        "packages.lock.json",
        "mix.lock",
        "pubspec.lock",
        "podfile.lock",
        "package.resolved",
    }
)


def _is_manifest(path: str) -> bool:
    """A lockfile or manifest that supply-chain findings come from (their path is the package,
    not this file, so a partial path cannot hold them)."""
    name = path.rsplit("/", 1)[-1].lower()
    return name in _MANIFESTS or name.startswith("requirements") and name.endswith((".txt", ".in"))


def _error_paths(error: dict[str, Any]) -> set[str]:
    """The files a CLI error says Semgrep could not fully analyse: its `path`, and the
    locations a `PartialParsing` error carries (`"type": ["PartialParsing", [{"path": ...}]]`)."""
    kind = error.get("type")
    places = arr(kind[1]) if isinstance(kind, list) and len(kind) > 1 else []
    named = [error.get("path"), *(obj(p).get("path") for p in places)]
    return {p for p in (repo_path(n) for n in named) if p}


def _cwes(value: object) -> tuple[str, ...]:
    """CWE numbers from `CWE-79: ...` texts (a string or a list)."""
    values = value if isinstance(value, list) else [value]
    texts = [v.split(":", 1)[0] for v in values if isinstance(v, str)]
    return tuple(dict.fromkeys(str(int(c)) for c in common.cwes_in(texts) if c.isdigit()))
