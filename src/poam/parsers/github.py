"""GitHub security alerts as the API lists them: code scanning (`GET /repos/{owner}/{repo}/code-
scanning/alerts`, or the organization's list), Dependabot (the REST list `.../dependabot/alerts`,
or a GraphQL reply with `vulnerabilityAlerts`), and secret scanning (`.../secret-scanning/alerts`).
A file holds one list (a JSON array), one alert, or several pages one after another (or one alert
per line); the kinds may be mixed.

An alert listing is not a scan: it closes nothing by absence (a listing may be filtered by
state, severity or tool, or be one page of many). Each alert says its state:
- open: an open finding;
- fixed (code scanning, Dependabot) and a secret resolved as `revoked`: a fixed finding, dated
  by `fixed_at` / `fixedAt` / `resolved_at` (else the listing's time);
- dismissed, auto-dismissed, and a secret resolved as `false_positive`, `wont_fix`,
  `used_in_tests`, `pattern_deleted` or `pattern_edited`: set aside (a person's or a rule's
  decision, not a fix: an open finding stays open, none is opened);
- a state GitHub does not document: set aside when the word means so (`ignored`...), else
  open, warned. A Dependabot alert without `state` (a GraphQL query that did not ask for it)
  is open unless it has `fixedAt` or `dismissedAt`.

Findings:
- code scanning: tool the alert's `tool.name` (`CodeQL`, as SARIF names it), one finding per rule
  (`rule.id`) and file (`most_recent_instance.location.path`); several alerts of one rule in one
  file are one finding (lines and alert numbers in the evidence). Severity
  `rule.security_severity_level` (critical, high, medium, low), else `rule.severity` (error
  High, warning Moderate, note Low, none informational). CWEs from `external/cwe/cwe-NNN` tags.
- Dependabot: tool `GitHub Dependabot`, one finding per advisory (GHSA id, else CVE, else the
  first identifier) and package in its manifest (`pom.xml: org.springframework:spring-web`, as
  Trivy locates language packages; the package alone when the alert names no manifest). Severity
  critical, high, moderate/medium, low; CVSS, CVEs and CWEs of the advisory are kept.
- secret scanning: tool `GitHub secret scanning`, one finding per secret type and file
  (`first_location_detected.path`; none when the alert gives no location), rated High (GitHub
  gives no severity). The secret itself (`secret`) is never read.

The asset is the repository: its URL (`https://github.com/owner/repo`, from the alert's
`repository.html_url` or its own `html_url`), else `full_name` / `nameWithOwner`, else a GraphQL
`name` alone, else `--asset`, else `GitHub repository`. Open and set-aside alerts are seen at the
listing's time (`--scan-date`, else the file's modification time); an open finding new to poam is
detected at the alert's `created_at` / `createdAt`. Each repository named is yielded as coverage
for the inventory (it closes nothing).

An alert that is not an object, or that names no rule, advisory or secret type, is left out with
a warning. A document that is none of these shapes is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from poam.domain.models import Asset, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.codescan import WITHHELD, hits_text, repo_path, repository

CODE = "code scanning"
DEPENDABOT = "GitHub Dependabot"
SECRETS = "GitHub secret scanning"
CODE_FALLBACK_TOOL = "GitHub code scanning"
FALLBACK_ASSET = "GitHub repository"
_LEVEL = {"error": Severity.HIGH, "warning": Severity.MEDIUM, "note": Severity.LOW, "none": Severity.INFO}
_SECURITY = {"critical": Severity.CRITICAL, "high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW}
_ADVISORY = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
}
_SET_ASIDE_RESOLUTIONS = {"false_positive", "wont_fix", "used_in_tests", "pattern_deleted", "pattern_edited"}
_RANK = {FindingStatus.OPEN: 0, FindingStatus.SET_ASIDE: 1, FindingStatus.FIXED: 2}
_CWE_TAG = re.compile(r"cwe[-/]0*(\d+)$", re.IGNORECASE)
_NULLS = {"none", "null"}
"""Some exports write a missing value as the text `None` (Python) or `null`."""


@dataclass
class _Merged:
    """The alerts of one finding: the status that ranks first (open, set aside, fixed) decides."""

    weakness: Weakness
    asset: Asset
    path: str | None
    status: FindingStatus
    when: dt.datetime
    since: dt.datetime | None
    lines: list[str] = field(default_factory=list)

    def add(self, status: FindingStatus, when: dt.datetime, since: dt.datetime | None, line: str) -> None:
        if _RANK[status] < _RANK[self.status]:
            self.status, self.when, self.since, self.lines = status, when, since, [line]
        elif status is self.status:
            self.when = max(self.when, when)
            self.since = min((t for t in (self.since, since) if t), default=None)
            self.lines.append(line)

    def finding(self) -> Finding:
        since = self.since if self.status is FindingStatus.OPEN and self.since and self.since < self.when else None
        return Finding(
            self.weakness,
            self.asset,
            self.when,
            evidence=hits_text(self.lines),
            status=self.status,
            path=self.path,
            since=since,
        )


class GithubAlertsParser:
    """Reader of GitHub code scanning, Dependabot and secret scanning alert lists."""

    id = "github-alerts"
    name = "GitHub code scanning, Dependabot and secret scanning alerts (REST or GraphQL JSON)"
    maps_to = (
        "one finding per rule and file (code scanning), advisory and package (Dependabot) or secret "
        "type and file (secret scanning) on the repository; fixed alerts close, dismissed ones are set aside"
    )
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """An alert (or an array of them) with `number` and a code scanning `rule` and
        `most_recent_instance`, a secret scanning `secret_type`, or a Dependabot
        `security_advisory` and `dependency`; or a GraphQL reply (`data`) with `vulnerabilityAlerts`."""
        shape = head.json
        if shape.kind == "array":
            return _is_alert(shape.item_keys)
        if shape.kind != "object":
            return False
        if _is_alert(shape.keys):
            return True
        return (
            "data" in shape.keys
            and shape.keys <= {"data", "errors", "extensions"}
            and ('"vulnerabilityAlerts"' in head.text)
        )

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read every alert of the file, then yield the repositories, the merged findings and the scan."""
        reader = _Reader(ctx)
        for number, doc in enumerate(jsonio.documents(stream, ctx.source), start=1):
            where = f"document {number}: " if number > 1 else ""
            if isinstance(doc, list):
                for n, alert in enumerate(doc, start=1):
                    reader.rest(alert, f"{where}alert {n}")
            elif isinstance(doc, dict) and _is_alert(set(doc)):
                reader.rest(doc, f"{where}alert")
            elif isinstance(doc, dict) and "data" in doc:
                reader.graphql(doc, where)
            else:
                what = f"document {number} is not" if number > 1 else "not"
                raise InputError(ctx.source, f"{what} a GitHub alert list (an array of alerts or a GraphQL reply)")
        yield from reader.records()


def _is_alert(keys: frozenset[str] | set[str]) -> bool:
    if "number" not in keys:
        return False
    return (
        {"rule", "most_recent_instance"} <= keys or "secret_type" in keys or {"security_advisory", "dependency"} <= keys
    )


class _Reader:
    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self._listing: dt.datetime | None = None
        self.merged: dict[tuple[str, str, Asset, str | None], _Merged] = {}
        self.weaknesses: dict[tuple[str, str], Weakness] = {}
        self.assets: dict[str, Asset] = {}
        self.named: dict[Asset, None] = {}
        self.kinds: dict[str, None] = {}
        self.graphql_alerts = 0

    @property
    def listing(self) -> dt.datetime:
        """The listing's time (asked only when an alert needs it)."""
        if self._listing is None:
            self._listing = self.ctx.fallback_time()
        return self._listing

    # --- shapes ------------------------------------------------------------------------------

    def rest(self, alert: object, record: str) -> None:
        if not isinstance(alert, dict):
            self.ctx.skip(record, "not an object")
            return
        number = _text(alert.get("number"))
        record = f"{record} #{number}" if number and record.endswith("alert") else record
        if "secret_type" in alert:
            self._secret(alert, record)
        elif "security_advisory" in alert or "security_vulnerability" in alert:
            self._dependabot_rest(alert, record)
        elif "rule" in alert:
            self._code(alert, record)
        else:
            self.ctx.skip(record, "neither a code scanning, Dependabot nor secret scanning alert")

    def graphql(self, doc: dict[str, Any], where: str) -> None:
        data = common.obj(doc.get("data"))
        repos: list[dict[str, Any]] = []
        if "repository" in data:
            repos.append(common.obj(data.get("repository")))
        for node in common.arr(common.obj(data.get("search")).get("nodes")):
            repos.append(common.obj(node))
        for key in ("organization", "viewer", "user"):
            owner = common.obj(data.get(key))
            repos += [common.obj(n) for n in common.arr(common.obj(owner.get("repositories")).get("nodes"))]
        found = [r for r in repos if isinstance(r.get("vulnerabilityAlerts"), dict)]
        if not found:
            errors = common.arr(doc.get("errors"))
            if errors:
                message = common.text(common.obj(errors[0]).get("message")) or "errors"
                raise InputError(self.ctx.source, f"{where}the GraphQL query failed: {message[:120]}")
            raise InputError(self.ctx.source, f"{where}not a GitHub alert list (no repository vulnerabilityAlerts)")
        for repo in found:
            asset = self._repository(repo, None)
            alerts = common.obj(repo.get("vulnerabilityAlerts"))
            nodes = alerts.get("nodes", alerts.get("edges"))
            if not isinstance(nodes, list):
                self.ctx.warn(
                    f"{where}repository {asset.name}", "vulnerabilityAlerts.nodes is not a list; no alert read"
                )
                continue
            for node in nodes:
                self.graphql_alerts += 1
                record = f"{where}alert {self.graphql_alerts}"
                if isinstance(node, dict) and "node" in node and "securityVulnerability" not in node:
                    node = node["node"]  # an edge
                if not isinstance(node, dict):
                    self.ctx.skip(record, "not an object")
                    continue
                self._dependabot_graphql(node, asset, record)

    # --- code scanning -----------------------------------------------------------------------

    def _code(self, alert: dict[str, Any], record: str) -> None:
        rule = common.obj(alert.get("rule"))
        rule_id = _text(rule.get("id")) or _text(rule.get("name"))
        if rule_id is None:
            self.ctx.skip(record, "no rule.id")
            return
        record = f"{record} ({rule_id[:60]})"
        tool_name = _text(common.obj(alert.get("tool")).get("name")) or CODE_FALLBACK_TOOL
        instance = common.obj(alert.get("most_recent_instance"))
        location = common.obj(instance.get("location"))
        path = repo_path(_text(location.get("path")))
        asset = self._repository(common.obj(alert.get("repository")), alert)
        status, when = self._state(alert, record, "fixed_at", "dismissed_at")
        weakness = self.weaknesses.get((tool_name, rule_id))
        if weakness is None:
            weakness = self.weaknesses[(tool_name, rule_id)] = _code_weakness(
                tool_name, rule_id, rule, self.ctx, record
            )
        line = location.get("start_line")
        message = " ".join((_text(common.obj(instance.get("message")).get("text")) or "").split())
        text = f"Line {line}: {message}" if isinstance(line, int) else message or "(no message)"
        number = _text(alert.get("number"))
        text += f" (alert #{number}, {alert.get('state')})" if number else ""
        self._add(weakness, asset, path, status, when, _time(alert.get("created_at")), text)
        self.kinds.setdefault(CODE)

    # --- Dependabot ----------------------------------------------------------------------------

    def _dependabot_rest(self, alert: dict[str, Any], record: str) -> None:
        advisory = common.obj(alert.get("security_advisory"))
        vulnerability = common.obj(alert.get("security_vulnerability"))
        dependency = common.obj(alert.get("dependency"))
        package = common.obj(vulnerability.get("package")) or common.obj(dependency.get("package"))
        identifiers = [
            (str(_text(common.obj(i).get("type")) or "").upper(), _text(common.obj(i).get("value")))
            for i in common.arr(advisory.get("identifiers"))
        ]
        ghsa = _text(advisory.get("ghsa_id")) or next((v for t, v in identifiers if t == "GHSA" and v), None)
        cve = _text(advisory.get("cve_id")) or next((v for t, v in identifiers if t == "CVE" and v), None)
        advisory_id = ghsa or cve or next((v for _t, v in identifiers if v), None)
        scores = _cvss(advisory.get("cvss"), common.obj(advisory.get("cvss_severities")))
        cwes = [_text(common.obj(c).get("cwe_id")) for c in common.arr(advisory.get("cwes"))]
        facts = _Advisory(
            advisory_id=advisory_id,
            severity=vulnerability.get("severity", advisory.get("severity")),
            summary=_text(advisory.get("summary")),
            description=_text(advisory.get("description")),
            references=[_text(common.obj(r).get("url")) for r in common.arr(advisory.get("references"))],
            cves=[cve, *(v for t, v in identifiers if t == "CVE")],
            cwes=[c for c in cwes if c],
            scores=scores,
            package=_text(package.get("name")),
            ecosystem=_text(package.get("ecosystem")),
            manifest=repo_path(_text(dependency.get("manifest_path"))),
            patched=_text(common.obj(vulnerability.get("first_patched_version")).get("identifier")),
            vulnerable=_text(vulnerability.get("vulnerable_version_range")),
            installed=None,
        )
        asset = self._repository(common.obj(alert.get("repository")), alert)
        status, when = self._state(alert, record, "fixed_at", "dismissed_at", "auto_dismissed_at")
        self._dependabot(facts, asset, status, when, _time(alert.get("created_at")), record, _text(alert.get("number")))

    def _dependabot_graphql(self, node: dict[str, Any], asset: Asset, record: str) -> None:
        vulnerability = common.obj(node.get("securityVulnerability"))
        advisory = common.obj(vulnerability.get("advisory"))
        package = common.obj(vulnerability.get("package"))
        identifiers = [
            (str(_text(common.obj(i).get("type")) or "").upper(), _text(common.obj(i).get("value")))
            for i in common.arr(advisory.get("identifiers"))
        ]
        ghsa = _text(advisory.get("ghsaId")) or next((v for t, v in identifiers if t == "GHSA" and v), None)
        cve = next((v for t, v in identifiers if t == "CVE" and v), None)
        cwe_nodes = common.arr(common.obj(advisory.get("cwes")).get("nodes"))
        facts = _Advisory(
            advisory_id=ghsa or cve or next((v for _t, v in identifiers if v), None),
            severity=vulnerability.get("severity", advisory.get("severity")),
            summary=_text(advisory.get("summary")),
            description=_text(advisory.get("description")),
            references=[_text(common.obj(r).get("url")) for r in common.arr(advisory.get("references"))]
            + [_text(advisory.get("permalink"))],
            cves=[v for t, v in identifiers if t == "CVE"],
            cwes=[c for c in (_text(common.obj(n).get("cweId")) for n in cwe_nodes) if c],
            scores=_cvss(advisory.get("cvss"), common.obj(advisory.get("cvssSeverities"))),
            package=_text(package.get("name")),
            ecosystem=_text(package.get("ecosystem")),
            manifest=repo_path(_text(node.get("vulnerableManifestPath"))),
            patched=_text(common.obj(vulnerability.get("firstPatchedVersion")).get("identifier")),
            vulnerable=_text(vulnerability.get("vulnerableVersionRange")),
            installed=_text(node.get("vulnerableRequirements")),
        )
        status, when = self._state(node, record, "fixedAt", "dismissedAt", "autoDismissedAt")
        self._dependabot(facts, asset, status, when, _time(node.get("createdAt")), record, _text(node.get("number")))

    def _dependabot(
        self,
        facts: _Advisory,
        asset: Asset,
        status: FindingStatus,
        when: dt.datetime,
        since: dt.datetime | None,
        record: str,
        number: str | None,
    ) -> None:
        if facts.advisory_id is None:
            self.ctx.skip(record, "no advisory id (GHSA, CVE or other identifier)")
            return
        record = f"{record} ({facts.advisory_id[:60]})"
        package = facts.package
        if package is None:
            package = sca.UNKNOWN_PACKAGE
            self.ctx.warn(record, f"no package name; package {package!r}")
        path = f"{facts.manifest}: {package}" if facts.manifest else package
        weakness = self.weaknesses.get((DEPENDABOT, facts.advisory_id))
        if weakness is None:
            weakness = _dependabot_weakness(facts, self.ctx, record)
            self.weaknesses[(DEPENDABOT, facts.advisory_id)] = weakness
        parts = [f"{package} {facts.installed or ''}".strip()]
        if facts.ecosystem:
            parts[0] += f" ({facts.ecosystem.lower()})"
        if facts.vulnerable:
            parts.append(f"vulnerable {facts.vulnerable}")
        if facts.patched:
            parts.append(f"fixed in {facts.patched}")
        if number:
            parts.append(f"alert #{number}")
        self._add(weakness, asset, path, status, when, since, "; ".join(parts))
        self.kinds.setdefault(DEPENDABOT)

    # --- secret scanning -----------------------------------------------------------------------

    def _secret(self, alert: dict[str, Any], record: str) -> None:
        secret_type = _text(alert.get("secret_type"))
        if secret_type is None:
            self.ctx.skip(record, "no secret_type")
            return
        record = f"{record} ({secret_type[:60]})"
        location = common.obj(alert.get("first_location_detected"))
        raw = _text(location.get("path"))
        path = repo_path(raw.lstrip("/")) if raw else None
        asset = self._repository(common.obj(alert.get("repository")), alert)
        status, when = self._secret_state(alert, record)
        weakness = self.weaknesses.get((SECRETS, secret_type))
        if weakness is None:
            display = _text(alert.get("secret_type_display_name")) or secret_type
            weakness = Weakness(
                tool=SECRETS,
                vuln_id=secret_type,
                name=f"Secret in the repository: {display}"[:500],
                severity=Severity.HIGH,
                family="secret scanning",
                description=f"GitHub secret scanning found a {display} committed to the repository.",
                solution="Revoke the secret, remove it from the repository and its history, and issue a new one.",
                cwes=("798",),
            )
            self.weaknesses[(SECRETS, secret_type)] = weakness
        line = location.get("start_line")
        parts = [f"Line {line}" if isinstance(line, int) else "location not given"]
        commit = _text(location.get("commit_sha"))
        if commit:
            parts.append(f"commit {commit[:12]}")
        number = _text(alert.get("number"))
        if number:
            parts.append(f"alert #{number}, {alert.get('state')}")
        validity = _text(alert.get("validity"))
        if validity:
            parts.append(f"validity {validity}")
        if alert.get("publicly_leaked") is True:
            parts.append("publicly leaked")
        parts.append(WITHHELD)
        self._add(weakness, asset, path, status, when, _time(alert.get("created_at")), "; ".join(parts))
        self.kinds.setdefault(SECRETS)

    def _secret_state(self, alert: dict[str, Any], record: str) -> tuple[FindingStatus, dt.datetime]:
        state = (_text(alert.get("state")) or "").lower()
        resolution = (_text(alert.get("resolution")) or "").lower()
        if state == "open":
            return FindingStatus.OPEN, self.listing
        if state == "resolved":
            if resolution == "revoked":
                return FindingStatus.FIXED, _time(alert.get("resolved_at")) or self.listing
            if resolution in _SET_ASIDE_RESOLUTIONS:
                return FindingStatus.SET_ASIDE, self.listing
            if common.dismissed(resolution):
                self.ctx.warn(record, f"resolution {resolution[:40]!r} read as set aside")
                return FindingStatus.SET_ASIDE, self.listing
            self.ctx.warn(record, f"resolved with resolution {resolution[:40] or 'missing'!r}; set aside")
            return FindingStatus.SET_ASIDE, self.listing
        return self._odd(record, alert.get("state")), self.listing

    # --- shared ------------------------------------------------------------------------------------

    def _state(
        self, alert: dict[str, Any], record: str, fixed: str, *dismissed: str
    ) -> tuple[FindingStatus, dt.datetime]:
        """Open, fixed (dated by its fix) or set aside, by the alert's `state`."""
        raw = alert.get("state")
        state = (_text(raw) or "").lower()
        if not state:  # a GraphQL query that did not ask for it
            if _time(alert.get(fixed)):
                state = "fixed"
            elif any(_time(alert.get(d)) for d in dismissed):
                state = "dismissed"
            else:
                return FindingStatus.OPEN, self.listing
        if state == "open":
            return FindingStatus.OPEN, self.listing
        if state == "fixed":
            return FindingStatus.FIXED, _time(alert.get(fixed)) or self.listing
        if state in ("dismissed", "auto_dismissed"):
            return FindingStatus.SET_ASIDE, self.listing
        return self._odd(record, raw), self.listing

    def _odd(self, record: str, value: object) -> FindingStatus:
        if common.dismissed(value):
            self.ctx.warn(record, f"state {str(value)[:40]!r} read as dismissed; set aside")
            return FindingStatus.SET_ASIDE
        return common.odd_status(self.ctx, record, value)

    def _repository(self, repo: dict[str, Any], alert: dict[str, Any] | None) -> Asset:
        """The repository by its URL, else its full name, else its name, else `--asset`."""
        name = _repo_url(_text(repo.get("html_url")) or _text(repo.get("url")))
        if name is None and alert is not None:
            name = _repo_url(_text(alert.get("html_url")))
        name = name or _text(repo.get("full_name")) or _text(repo.get("nameWithOwner")) or _text(repo.get("name"))
        key = name or ""
        asset = self.assets.get(key)
        if asset is None:
            asset = self.assets[key] = repository(name, self.ctx, FALLBACK_ASSET)
            if name or self.ctx.asset_name:
                self.named.setdefault(asset)
        return asset

    def _add(
        self,
        weakness: Weakness,
        asset: Asset,
        path: str | None,
        status: FindingStatus,
        when: dt.datetime,
        since: dt.datetime | None,
        line: str,
    ) -> None:
        key = (weakness.tool, weakness.vuln_id, asset, path)
        known = self.merged.get(key)
        if known is None:
            self.merged[key] = _Merged(weakness, asset, path, status, when, since, [line])
        else:
            known.add(status, when, since, line)

    def records(self) -> Iterator[Record]:
        for asset in self.named:
            when = self.listing
            yield Coverage(asset, when, when, None, Checks.VULNERABILITY)
        times: list[dt.datetime] = []
        for merged in self.merged.values():
            times.append(merged.when)
            yield merged.finding()
        kinds = list(self.kinds)
        tool = DEPENDABOT if kinds == [DEPENDABOT] else SECRETS if kinds == [SECRETS] else "GitHub alerts"
        if kinds == [CODE]:
            tools = {w.tool for (t, _v), w in self.weaknesses.items()}
            tool = tools.pop() if len(tools) == 1 else "GitHub code scanning"
        yield Scan(tool, None, "GitHub alerts", min(times, default=None), max(times, default=None))


@dataclass
class _Advisory:
    """What a Dependabot alert says of its advisory and package, in either API's shape."""

    advisory_id: str | None
    severity: object
    summary: str | None
    description: str | None
    references: list[str | None]
    cves: list[str | None]
    cwes: list[str]
    scores: dict[int, tuple[float | None, str | None]]
    package: str | None
    ecosystem: str | None
    manifest: str | None
    patched: str | None
    vulnerable: str | None
    installed: str | None


def _text(value: object) -> str | None:
    """Text from the file; `None` and `null` written as text are absent."""
    found = common.text(value)
    return None if found is None or found.lower() in _NULLS else found


def _time(value: object) -> dt.datetime | None:
    found = _text(value)
    return common.parse_time(found) if found else None


def _repo_url(url: str | None) -> str | None:
    """`https://host/owner/repo` from a repository's or an alert's web or API URL."""
    if not url or "://" not in url:
        return None
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if parts.netloc.lower().startswith("api.") and segments[:1] == ["repos"]:
        segments = segments[1:]
        host = parts.netloc[4:]
    elif segments[:3] == ["api", "v3", "repos"]:  # GitHub Enterprise Server API
        segments = segments[3:]
        host = parts.netloc
    else:
        host = parts.netloc
    if len(segments) < 2:
        return None
    return f"{parts.scheme}://{host}/{segments[0]}/{segments[1]}"


def _code_weakness(tool: str, rule_id: str, rule: dict[str, Any], ctx: ParseContext, record: str) -> Weakness:
    security = (_text(rule.get("security_severity_level")) or "").lower()
    level = (common.text(rule.get("severity")) or "").lower()  # `none` is a level here
    severity = _SECURITY.get(security) or _LEVEL.get(level)
    if severity is None:
        severity = common.odd_severity(ctx, record, rule.get("security_severity_level") or rule.get("severity"))
    tags = [t for t in (_text(x) for x in common.arr(rule.get("tags"))) if t]
    cwes = [m.group(1) for m in (_CWE_TAG.search(t) for t in tags) if m]
    help_uri = _text(rule.get("help_uri"))
    return Weakness(
        tool=tool,
        vuln_id=rule_id,
        name=_text(rule.get("description")) or _text(rule.get("name")) or rule_id,
        severity=severity,
        family=", ".join(t for t in tags if not t.startswith("external/")) or None,
        description=_text(rule.get("full_description")) or _text(rule.get("description")),
        solution=_text(rule.get("help")),
        see_also=help_uri,
        cwes=tuple(dict.fromkeys(str(int(c)) for c in cwes)),
    )


def _dependabot_weakness(facts: _Advisory, ctx: ParseContext, record: str) -> Weakness:
    word = facts.severity
    said = (_text(word) or "").lower()
    severity = _ADVISORY.get(said)
    if severity is None:
        score = next((facts.scores[v][0] for v in (3, 4, 2) if facts.scores[v][0] is not None), None)
        severity = sca.rated(ctx, record, word, score)
    advisory_id = facts.advisory_id or ""
    name = facts.summary or advisory_id
    return Weakness(
        tool=DEPENDABOT,
        vuln_id=advisory_id,
        name=name[:500],
        severity=severity,
        family="Dependabot",
        description=facts.description,
        solution=f"Upgrade {facts.package} to {facts.patched} or later" if facts.patched and facts.package else None,
        see_also="\n".join(dict.fromkeys(u for u in facts.references if u)) or None,
        cvss2_score=facts.scores[2][0],
        cvss2_vector=facts.scores[2][1],
        cvss3_score=facts.scores[3][0],
        cvss3_vector=facts.scores[3][1],
        cvss4_score=facts.scores[4][0],
        cvss4_vector=facts.scores[4][1],
        cves=common.cves_in(advisory_id, [c for c in facts.cves if c]),
        cwes=tuple(dict.fromkeys(c for c in common.cwes_in(facts.cwes) if c.isdigit())),
    )


def _cvss(legacy: object, severities: dict[str, Any]) -> dict[int, tuple[float | None, str | None]]:
    """Score and vector per CVSS version: `cvss_severities` (`cvss_v3`, `cvss_v4`; GraphQL
    `cvssSeverities.cvssV3`...), else the older `cvss` object. A score of 0 without a vector is none."""
    found: dict[int, tuple[float | None, str | None]] = {}
    entries = [
        (3, severities.get("cvss_v3") or severities.get("cvssV3")),
        (4, severities.get("cvss_v4") or severities.get("cvssV4")),
        (None, legacy),
    ]
    for version, entry in entries:
        entry = common.obj(entry)
        vector = _text(entry.get("vector_string")) or _text(entry.get("vectorString"))
        score = sca.score(entry.get("score"))
        if not vector:
            continue
        upper = vector.upper()
        known = version or (4 if upper.startswith("CVSS:4") else 3 if upper.startswith("CVSS:3") else 2)
        if known not in found:
            found[known] = (cvss.fill(known, score or None, vector), vector)
    return {v: found.get(v, (None, None)) for v in (2, 3, 4)}
