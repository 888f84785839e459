"""SonarQube: pages of the Web API (`api/issues/search`, `api/hotspots/search`, or the `issues`
list on its own), and the JSON of the sonar-report tool (`sonar-report --output json`).

Which issues are security weaknesses: vulnerabilities (`type: VULNERABILITY`), security hotspots
(`SECURITY_HOTSPOT`, and every hotspot of `api/hotspots/search`), and any issue whose `impacts`
name the SECURITY software quality (SonarQube 10). Bugs and code smells are reliability and
maintainability findings, not security weaknesses: an open one is counted as informational
(never on the POA&M), a resolved one is not read.

One finding per rule (`rule`, `ruleKey`) and file (the `component` key after the project key, or
the component's `path`; none for an issue on the project itself) on the project (`project`, the
report's `sonarComponent`), else `--asset`, else `SonarQube project`. The issues of one rule in one
file are one finding whose evidence lists their lines and messages: open when one is open, else
set aside when one is, else fixed.

Severity: the SECURITY impact's severity (BLOCKER Critical, HIGH High, MEDIUM Moderate, LOW Low,
INFO informational), else the issue's `severity` (BLOCKER Critical, CRITICAL High, MAJOR Moderate,
MINOR Low, INFO informational); a hotspot of the hotspots API by its `vulnerabilityProbability`
(HIGH, MEDIUM, LOW). Status: OPEN, CONFIRMED, REOPENED, and a hotspot TO_REVIEW, IN_REVIEW or
reviewed ACKNOWLEDGED are open; RESOLVED or CLOSED as FIXED or REMOVED, and a hotspot reviewed
FIXED, are fixes; RESOLVED as FALSE-POSITIVE or WONTFIX (and `issueStatus` ACCEPTED or
FALSE_POSITIVE) and a hotspot reviewed SAFE are set aside. Another status is open, warned (set
aside when it means so).

Dates: an API page has no time of its own: it is read at `--scan-date`, else the file's
modification time; an open issue new to poam is detected at its `creationDate`; a fixed one is
dated by its `closeDate` (else `updateDate`). sonar-report is dated by its `date`.

Coverage: an API page is a listing, possibly filtered, and covers nothing (it closes through
fixed issues only). sonar-report lists every open vulnerability and hotspot of its project (its
query has no severity or rule filter): it covers the project, unless it was limited to new code
(`inNewCodePeriod`, `sinceLeakPeriod`) or names no project. With `allBugs` its issues mix bugs with
vulnerabilities and do not say which: all are read as weaknesses, warned.
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

TOOL = "SonarQube"
FALLBACK_ASSET = "SonarQube project"
_SEVERITY = {
    "blocker": Severity.CRITICAL,
    "critical": Severity.HIGH,
    "high": Severity.HIGH,
    "major": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "minor": Severity.LOW,
    "low": Severity.LOW,
    "info": Severity.INFO,
}
_IMPACT = {**_SEVERITY, "critical": Severity.CRITICAL}
"""SonarQube 10's impact severities (BLOCKER, HIGH, MEDIUM, LOW, INFO); BLOCKER and the rare
CRITICAL are Critical."""
_SECURITY_TYPES = {"VULNERABILITY", "SECURITY_HOTSPOT"}
_OTHER_TYPES = {"BUG", "CODE_SMELL"}
_OPEN = {"open", "confirmed", "reopened", "to_review", "in_review"}
_FIXED_RESOLUTIONS = {"fixed", "removed"}
_SET_ASIDE_RESOLUTIONS = {"false-positive", "false_positive", "wontfix", "won't fix", "safe", "accepted"}
_RANK = {FindingStatus.OPEN: 0, FindingStatus.SET_ASIDE: 1, FindingStatus.FIXED: 2}
_REPORT_DATES = ("%A, %b %d, %Y", "%a %b %d %Y", "%A, %B %d, %Y", "%d/%m/%Y", "%Y-%m-%d")


@dataclass
class _Issue:
    rule: str
    path: str | None
    status: FindingStatus
    severity: Severity
    when: dt.datetime
    since: dt.datetime | None
    hit: str
    name: str | None
    description: str | None
    tags: list[str]
    kind: str | None = None


@dataclass
class _Group:
    asset: Asset
    issues: list[_Issue] = field(default_factory=list)

    def add(self, issue: _Issue) -> None:
        """Open wins, then set aside, then fixed; the issues of the deciding status are kept."""
        if not self.issues or _RANK[issue.status] < _RANK[self.issues[0].status]:
            self.issues = [issue]
        elif issue.status is self.issues[0].status:
            self.issues.append(issue)


class SonarQubeParser:
    """Reader of SonarQube issues and hotspots (Web API pages) and sonar-report JSON."""

    id = "sonarqube"
    name = "SonarQube JSON (issues and hotspots API, sonar-report)"
    maps_to = (
        "one finding per rule and file of the vulnerabilities and security hotspots, on the project, else --asset, "
        "else 'SonarQube project'; bugs and code smells informational; false positives and won't fix set aside"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """An issues page (`issues` whose items have `rule` and `component`; an empty one with
        `paging` or `ps`), a hotspots page (`hotspots` with `ruleKey` or `vulnerabilityProbability`),
        a bare array of issues, or sonar-report JSON (`issues` with `sonarComponent` or
        `sonarBaseURL`)."""
        shape = head.json
        if shape.kind == "array":
            return {"rule", "component", "key"} <= shape.item_keys and bool(shape.item_keys & {"severity", "type"})
        if shape.kind != "object":
            return False
        keys = shape.keys
        if "issues" in keys and keys & {"sonarComponent", "sonarBaseURL"}:
            return True
        found, _values = peek(head.data)
        top = found.get("", set()) | keys
        if "issues" in top:
            first = found.get("issues.item")
            if first is None:
                return bool(top & {"paging", "ps"}) and "components" in top
            return {"rule", "component"} <= first
        if "hotspots" in top:
            first = found.get("hotspots.item")
            if first is None:
                return "paging" in top and "components" in top
            return "component" in first and bool(first & {"ruleKey", "vulnerabilityProbability", "securityCategory"})
        return False

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Every document of the file (API pages one after another, or JSON Lines) in one import."""
        docs = list(jsonio.documents(stream, ctx.source))
        several = len(docs) > 1
        reader = _Reader(ctx)
        for position, doc in enumerate(docs, start=1):
            where = f"document {position}" if several else ""
            prefix = f"{where}: " if where else ""
            if isinstance(doc, list):
                reader.issues(doc, {}, where, {})
            elif not isinstance(doc, dict):
                raise InputError(ctx.source, f"{prefix}not a SonarQube JSON document")
            elif isinstance(doc.get("issues"), list) and (
                "sonarComponent" in doc or "sonarBaseURL" in doc or "hotspotKeys" in doc
            ):
                reader.report(doc, where)
            elif isinstance(doc.get("issues"), list):
                reader.issues(doc["issues"], _components(doc), where, _rule_names(doc))
            elif isinstance(doc.get("hotspots"), list):
                reader.hotspots(doc["hotspots"], _components(doc), where)
            else:
                raise InputError(ctx.source, f"{prefix}not a SonarQube JSON document (no issues or hotspots list)")
        yield from reader.coverage
        yield from reader.findings()
        first, last = min(reader.times, default=None), max(reader.times, default=None)
        yield Scan(TOOL, None, ", ".join(dict.fromkeys(reader.names)) or None, first, last)


def _rule_names(doc: dict[str, Any]) -> dict[str, str]:
    """Rule names a page lists (`additionalFields=rules`)."""
    rules = [obj(r) for r in arr(doc.get("rules"))]
    return {str(r["key"]): str(r["name"]) for r in rules if text(r.get("key")) and text(r.get("name"))}


def _components(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The page's components by key (their `path`, `qualifier`)."""
    return {str(c["key"]): c for c in map(obj, arr(doc.get("components"))) if text(c.get("key"))}


class _Reader:
    """The issues of a file, grouped by project, rule and file."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.groups: dict[tuple[str, str, str | None], _Group] = {}
        self.assets: dict[str, Asset] = {}
        self.coverage: list[Coverage] = []
        self.times: list[dt.datetime] = []
        self.names: list[str] = []
        self._listing: dt.datetime | None = None

    def listing(self) -> dt.datetime:
        """The time of an API page: `--scan-date`, else the file's (asked once, when needed)."""
        if self._listing is None:
            self._listing = self.ctx.fallback_time()
            self.times.append(self._listing)
        return self._listing

    def asset(self, project: str | None) -> Asset:
        key = project or ""
        found = self.assets.get(key)
        if found is None:
            found = self.assets[key] = repository(project, self.ctx, FALLBACK_ASSET)
        return found

    def add(self, asset: Asset, issue: _Issue) -> None:
        key = (asset.name or "", issue.rule, issue.path)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = _Group(asset)
        group.add(issue)

    # API pages -----------------------------------------------------------------------------------

    def issues(
        self, issues: list[Any], components: dict[str, dict[str, Any]], where: str, names: dict[str, str]
    ) -> None:
        """`api/issues/search` issues (or the list alone); `names`: rule names the page lists."""
        for number, issue in enumerate(issues, start=1):
            label = f"issue {number}" + (f" of {where}" if where else "")
            if not isinstance(issue, dict):
                self.ctx.skip(label, "not an object")
                continue
            rule = text(issue.get("rule"))
            if rule is None:
                self.ctx.skip(label, "has no rule")
                continue
            label = f"{label} ({rule[:60]})"
            kind = (text(issue.get("type")) or "").upper()
            security = kind in _SECURITY_TYPES or any(
                str(obj(i).get("softwareQuality", "")).upper() == "SECURITY" for i in arr(issue.get("impacts"))
            )
            status = self.status(issue, label)
            if not security:
                if kind and kind not in _OTHER_TYPES:
                    self.ctx.warn(label, f"type {kind[:40]!r} is not one of SonarQube's; not read as a weakness")
                if status is not FindingStatus.OPEN:
                    continue  # a resolved bug or code smell: nothing to count
            project = text(issue.get("project"))
            severity = self.severity(issue, label) if security else Severity.INFO
            when = self.when(issue, status, label)
            since = common.parse_time(_iso(issue.get("creationDate")))
            found = self.issue(issue, rule, project, components, status, severity, when, since)
            found.kind = "Security Hotspot" if kind == "SECURITY_HOTSPOT" else kind.replace("_", " ").title() or None
            found.name = names.get(rule) or found.name
            self.add(self.asset(project), found)

    def hotspots(self, hotspots: list[Any], components: dict[str, dict[str, Any]], where: str) -> None:
        """`api/hotspots/search` hotspots: security weaknesses to review."""
        for number, hotspot in enumerate(hotspots, start=1):
            label = f"hotspot {number}" + (f" of {where}" if where else "")
            if not isinstance(hotspot, dict):
                self.ctx.skip(label, "not an object")
                continue
            rule = text(hotspot.get("ruleKey")) or text(obj(hotspot.get("rule")).get("key"))
            if rule is None:
                self.ctx.skip(label, "has no ruleKey")
                continue
            label = f"{label} ({rule[:60]})"
            status = self.status(hotspot, label)
            word = hotspot.get("vulnerabilityProbability")
            severity = _SEVERITY.get(str(word).strip().lower()) if isinstance(word, str) else None
            if severity is None or severity is Severity.CRITICAL:
                severity = common.odd_severity(self.ctx, label, word)
            project = text(hotspot.get("project"))
            when = self.when(hotspot, status, label)
            since = common.parse_time(_iso(hotspot.get("creationDate")))
            found = self.issue(hotspot, rule, project, components, status, severity, when, since)
            found.kind = "Security Hotspot"
            self.add(self.asset(project), found)

    def issue(
        self,
        issue: dict[str, Any],
        rule: str,
        project: str | None,
        components: dict[str, dict[str, Any]],
        status: FindingStatus,
        severity: Severity,
        when: dt.datetime,
        since: dt.datetime | None,
    ) -> _Issue:
        path = _path(text(issue.get("component")), project, components)
        line = issue.get("line") or obj(issue.get("textRange")).get("startLine")
        message = " ".join(str(text(issue.get("message")) or "").split())[:500]
        hit = f"Line {line}: {message}" if isinstance(line, int) and not isinstance(line, bool) else message
        tags = [t for t in arr(issue.get("tags")) if isinstance(t, str)]
        found_since = since if status is FindingStatus.OPEN and since is not None and since < when else None
        name = message[:200] or None
        return _Issue(rule, path, status, severity, when, found_since, hit, name, message or None, tags)

    def status(self, issue: dict[str, Any], label: str) -> FindingStatus:
        """By `status` and `resolution` (else the newer `issueStatus`)."""
        raw = issue.get("status") or issue.get("issueStatus")
        word = str(raw).strip().lower() if raw is not None else ""
        resolution = str(issue.get("resolution") or "").strip().lower()
        if word in ("resolved", "closed", "reviewed", "fixed"):
            if word == "fixed" or resolution in _FIXED_RESOLUTIONS or word == "closed" and not resolution:
                return FindingStatus.FIXED
            if resolution in _SET_ASIDE_RESOLUTIONS:
                return FindingStatus.SET_ASIDE
            if resolution == "acknowledged":
                return FindingStatus.OPEN
        elif word in _OPEN or not word:
            return FindingStatus.OPEN
        elif word in ("accepted", "false_positive"):
            return FindingStatus.SET_ASIDE
        shown = f"{raw} {resolution.upper()}".strip() if resolution else raw
        if common.dismissed(resolution or word):
            self.ctx.warn(label, f"status {str(shown)[:40]!r} read as set aside")
            return FindingStatus.SET_ASIDE
        return common.odd_status(self.ctx, label, shown)

    def severity(self, issue: dict[str, Any], label: str) -> Severity:
        """The SECURITY impact's severity, else the issue's."""
        for impact in map(obj, arr(issue.get("impacts"))):
            if str(impact.get("softwareQuality", "")).upper() == "SECURITY":
                found = _IMPACT.get(str(impact.get("severity", "")).strip().lower())
                if found is not None:
                    return found
        word = issue.get("severity")
        found = _SEVERITY.get(word.strip().lower()) if isinstance(word, str) else None
        return found if found is not None else common.odd_severity(self.ctx, label, word)

    def when(self, issue: dict[str, Any], status: FindingStatus, label: str) -> dt.datetime:
        """A fix at its `closeDate` (else `updateDate`), never after the listing; the rest at the
        listing's time."""
        now = self.listing()
        if status is not FindingStatus.FIXED:
            return now
        value = issue.get("closeDate") or issue.get("updateDate")
        closed = common.parse_time(_iso(value))
        if closed is None and value not in (None, ""):
            self.ctx.warn(label, f"closeDate {str(value)[:40]!r} is not a date; dated by the listing")
        return min(closed, now) if closed else now

    # sonar-report --------------------------------------------------------------------------------

    def report(self, doc: dict[str, Any], where: str) -> None:
        """sonar-report JSON: open vulnerabilities and hotspots of one project."""
        prefix = f"{where}: " if where else ""
        project = text(doc.get("sonarComponent")) or text(doc.get("projectName"))
        if project:
            self.names.append(project)
        asset = self.asset(project)
        value = doc.get("date")
        when = _report_date(value)
        if when is None:
            if value not in (None, ""):
                self.ctx.warn(f"{prefix}report", f"date {str(value)[:40]!r} is not a date; dated by the file")
            when = self.ctx.fallback_time()
        self.times.append(when)
        hotspots = {str(k) for k in arr(doc.get("hotspotKeys"))}
        rules = obj(doc.get("rules"))
        mixed = doc.get("allBugs") is True
        if mixed and doc["issues"]:
            self.ctx.warn(
                f"{prefix}report", "allBugs: bugs and vulnerabilities are not told apart; all read as weaknesses"
            )
        for number, issue in enumerate(doc["issues"], start=1):
            label = f"issue {number}" + (f" of {where}" if where else "")
            if not isinstance(issue, dict):
                self.ctx.skip(label, "not an object")
                continue
            rule = text(issue.get("rule"))
            if rule is None:
                self.ctx.skip(label, "has no rule")
                continue
            label = f"{label} ({rule[:60]})"
            status = self.status(issue, label)
            severity = self.severity(issue, label)
            found = self.issue(issue, rule, project, {}, status, severity, when, None)
            about = obj(rules.get(rule))
            found.name = text(about.get("name")) or text(issue.get("description")) or found.name
            found.description = common.plain(about.get("htmlDesc")) or found.description
            hotspot = text(issue.get("key")) in hotspots
            found.kind = "Security Hotspot" if hotspot else None if mixed else "Vulnerability"
            self.add(asset, found)
        new_code = doc.get("inNewCodePeriod") is True or doc.get("sinceLeakPeriod") is True
        if new_code:
            self.ctx.warn(f"{prefix}report", "limited to new code: nothing is closed by absence")
        elif asset.name != FALLBACK_ASSET:
            self.coverage.append(Coverage(asset, when, when, None, Checks.ALL))

    # findings ------------------------------------------------------------------------------------

    def findings(self) -> Iterator[Finding]:
        by_rule: dict[str, list[_Issue]] = {}
        for (_name, rule, _where), group in self.groups.items():
            by_rule.setdefault(rule, []).extend(group.issues)
        weaknesses: dict[str, Weakness] = {}
        for (_name, rule, path), group in self.groups.items():
            weakness = weaknesses.get(rule)
            if weakness is None:
                issues = by_rule[rule]
                rated = [i.severity for i in issues if i.status is FindingStatus.OPEN] or [i.severity for i in issues]
                weakness = weaknesses[rule] = _weakness(rule, issues, max_severity(rated))
            deciding = group.issues
            when = max(i.when for i in deciding)
            found = [i.since for i in deciding if i.since is not None]
            yield Finding(
                weakness=weakness,
                asset=group.asset,
                observed_at=when,
                path=path,
                evidence=hits_text([i.hit for i in deciding]),
                status=deciding[0].status,
                since=min(found) if found else None,
            )


def _weakness(rule: str, issues: list[_Issue], severity: Severity) -> Weakness:
    first = issues[0]
    tags = list(dict.fromkeys(t for i in issues for t in i.tags))
    messages = [i.hit for i in issues]  # the dependency-check plugin names CVEs there; never the rule's text
    return Weakness(
        tool=TOOL,
        vuln_id=rule,
        name=(first.name or rule)[:200],
        severity=severity,
        family=next((i.kind for i in issues if i.kind), None),
        description=first.description,
        cves=common.cves_in(messages),
        cwes=tuple(dict.fromkeys(str(int(c)) for c in common.cwes_in([t for t in tags if t != "cwe"]) if c.isdigit())),
    )


def _path(component: str | None, project: str | None, components: dict[str, dict[str, Any]]) -> str | None:
    """The file an issue is on: its component's `path`, else the component key after the project
    key (`proj:src/app.py`); None for the project itself."""
    if component is None:
        return None
    known = components.get(component, {})
    if text(known.get("qualifier")) in ("TRK", "BRC", "APP", "VW", "SVW") or component == project:
        return None
    if text(known.get("path")):
        return repo_path(known["path"])
    if project and component.startswith(f"{project}:"):
        return repo_path(component[len(project) + 1 :])
    if ":" in component and not component.startswith(("/", ".")):
        return repo_path(component.split(":", 1)[1])
    return repo_path(component)


def _iso(value: object) -> object:
    """SonarQube writes offsets as `+0000`; ISO 8601 wants `+00:00`."""
    if isinstance(value, str) and len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit():
        return f"{value[:-2]}:{value[-2:]}"
    return value


def _report_date(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    found = common.parse_time(_iso(value))
    if found is not None:
        return found
    for fmt in _REPORT_DATES:
        try:
            return dt.datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
    return None
