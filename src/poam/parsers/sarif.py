"""SARIF 2.1.0 logs from any static analysis or dependency tool (CodeQL, Semgrep, SpotBugs,
Flawfinder, Gitleaks, dependency-check, Black Duck...).

One finding per tool, rule and file: several results of one rule in one file are one finding
whose evidence lists the lines. The asset is the repository the run names
(`versionControlProvenance[].repositoryUri`), else `--asset`, else `<tool> project`. The file path
is repository-relative when `originalUriBaseIds` lets us resolve it, with forward slashes and no
line; a package coordinate (`npm/lodash@4.17.20`) loses its version. Suppressed results (a
suppression accepted or without status) are left out; `kind: pass` and `baselineState: absent`
results are fixed findings. A run whose `results` are missing, or whose invocation failed, covers
nothing; every other run covers its repository.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from poam.domain.models import Asset, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss, jsonio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.codescan import (
    WITHHELD,
    arr,
    hits_text,
    is_secret_rule,
    max_severity,
    obj,
    peek,
    repo_path,
    repository,
    text,
)

_LEVEL = {"error": Severity.HIGH, "warning": Severity.MEDIUM, "note": Severity.LOW, "none": Severity.INFO}
_ALIASES = (("semgrep", "Semgrep"), ("bandit", "Bandit"))  # tools with their own JSON parser: same name
_PACKAGE_VERSION = re.compile(r"^((?:pkg:)?[\w.+-]+/(?:@?[^/@\s]+/)*@?[^/@\s]+)@v?\d+(?:\.\d+)*(?:[-+.][\w.+-]*)?$")


# --- SARIF -----------------------------------------------------------------------------------


@dataclass
class _Group:
    """The results of one rule in one file of one asset."""

    tool: str
    rule_id: str
    asset: Asset
    path: str | None
    when: dt.datetime
    hits: list[str] = field(default_factory=list)
    severities: list[Severity] = field(default_factory=list)
    fixed: bool = True


class SarifParser:
    """Reader of SARIF 2.1.0 logs."""

    id = "sarif"
    name = "SARIF 2.1.0 (static analysis and dependency scanners)"
    maps_to = (
        "one finding per tool, rule and file (lines in evidence; paths relative to the checkout root or "
        "working directory) on the run's repository, else --asset, "
        "else '<tool> project'; suppressed results left out, pass/absent results fixed"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """A JSON object with `runs` and a top-level `version` 2.1.0 or a SARIF `$schema`."""
        if head.json.kind != "object" or "runs" not in head.json.keys:
            return False
        keys, values = peek(head.data)
        schema = str(values.get("$schema") or "")
        if schema:
            return "sarif" in schema.lower()
        if "version" in head.json.keys:
            return str(values.get("version")) == "2.1.0"
        return "driver" in keys.get("runs.item.tool", set())  # a long first run hides `version`

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Coverage per run, findings grouped by rule and file, then the scan."""
        doc = jsonio.load(stream, ctx.source)
        if not isinstance(doc, dict):
            raise InputError(ctx.source, "not a SARIF log (a JSON object expected)")
        version = doc.get("version")
        if str(version) != "2.1.0":
            raise InputError(ctx.source, f"SARIF version {version!r} is not supported (only 2.1.0)")
        runs = doc.get("runs")
        if not isinstance(runs, list):
            raise InputError(ctx.source, "SARIF log has no runs array")
        groups: dict[tuple[str, str, str | None, str | None], _Group] = {}
        rules: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}
        tools: dict[str, str | None] = {}
        times: list[dt.datetime] = []
        name = None
        for number, run in enumerate(runs, start=1):
            if not isinstance(run, dict):
                raise InputError(ctx.source, f"run {number} is not an object")
            run_ = _Run(run, number, ctx)
            tools.setdefault(run_.tool, run_.version)
            times += [t for t in (run_.start, run_.end) if t]
            name = name or text(obj(run.get("automationDetails")).get("id"))
            if run_.complete and run_.named:  # an unnamed repository covers nothing
                start, end = run_.start or run_.when, run_.end or run_.when
                yield Coverage(run_.asset, start, end, None, Checks.ALL, tool=run_.tool)
            for index, result in enumerate(arr(run.get("results"))):
                run_.add(result, index, groups, rules)
        severities: dict[tuple[str, str], list[Severity]] = {}
        for g in groups.values():  # a rule's severity: the highest of its open results, else of all
            severities.setdefault((g.tool, g.rule_id), [])
            if not g.fixed:
                severities[(g.tool, g.rule_id)] += g.severities
        weaknesses: dict[tuple[str, str], Weakness] = {}
        for g in groups.values():
            key = (g.tool, g.rule_id)
            if key not in weaknesses:
                rule, result = rules[key]
                weaknesses[key] = _weakness(g.tool, g.rule_id, rule, result, severities[key] or g.severities)
            yield Finding(
                weakness=weaknesses[key],
                asset=g.asset,
                observed_at=g.when,
                path=g.path,
                evidence=hits_text(g.hits),
                status=FindingStatus.FIXED if g.fixed else FindingStatus.OPEN,
            )
        tool = next(iter(tools)) if len(tools) == 1 else ", ".join(tools) or "SARIF"
        version_ = tools.get(tool)
        yield Scan(tool, version_, name, min(times, default=None), max(times, default=None))


class _Run:
    """One run: its tool, rules, asset, times and base URIs."""

    def __init__(self, run: dict[str, Any], number: int, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.number = number
        tool = obj(run.get("tool"))
        driver = obj(tool.get("driver"))
        tool_name = text(driver.get("name"))
        if tool_name is None:
            raise InputError(ctx.source, f"run {number} has no tool.driver.name")
        self.tool = next((alias for prefix, alias in _ALIASES if tool_name.lower().startswith(prefix)), tool_name)
        self.version = text(driver.get("version")) or text(driver.get("semanticVersion"))
        self.components = [driver, *(obj(e) for e in arr(tool.get("extensions")))]
        self.by_id: dict[str, dict[str, Any]] = {}
        for component in self.components:
            for rule in arr(component.get("rules")):
                rule_id = text(obj(rule).get("id"))
                if rule_id:
                    self.by_id.setdefault(rule_id, rule)
        self.strings = obj(driver.get("globalMessageStrings"))
        repo = next((p.get("repositoryUri") for p in map(obj, arr(run.get("versionControlProvenance")))), None)
        self.asset = repository(repo, ctx, f"{self.tool} project")
        self.named = self.asset.name != f"{self.tool} project"
        invocations = [obj(i) for i in arr(run.get("invocations"))]
        starts = [t for t in (common.parse_time(i.get("startTimeUtc")) for i in invocations) if t]
        ends = [t for t in (common.parse_time(i.get("endTimeUtc")) for i in invocations) if t]
        self.start, self.end = min(starts, default=None), max(ends, default=None)
        self.when = self.start or self.end or ctx.fallback_time()
        failed = any(i.get("executionSuccessful") is False for i in invocations)
        self.complete = isinstance(run.get("results"), list) and not failed
        self.bases = obj(run.get("originalUriBaseIds"))
        # absolute checkout roots (a base id's uri, the working directory): paths are made relative
        # to them, so that the same repository checked out elsewhere gives the same findings
        dirs = [obj(b).get("uri") for b in self.bases.values()]
        dirs += [obj(i.get("workingDirectory")).get("uri") for i in invocations]
        roots = {r.rstrip("/") for r in (repo_path(text(d), uri=True) for d in dirs) if r and _ABSOLUTE.match(r)}
        self.roots = sorted(roots, key=len, reverse=True)
        self.artifacts = arr(run.get("artifacts"))

    def add(
        self,
        result: object,
        index: int,
        groups: dict[tuple[str, str, str | None, str | None], _Group],
        rules: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]],
    ) -> None:
        """Add one result to its group (rule and file), unless it is suppressed or not applicable."""
        if not isinstance(result, dict):
            raise InputError(self.ctx.source, f"run {self.number} result {index} is not an object")
        kind = text(result.get("kind")) or "fail"
        if kind == "notApplicable" or _suppressed(result):
            return
        rule_id, rule = self._rule(result, index)
        rules.setdefault((self.tool, rule_id), (rule, result))
        message = self._message(result, rule)
        path, line, snippet = self._where(result)
        key = (self.tool, rule_id, self.asset.name, path)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(self.tool, rule_id, self.asset, path, self.when)
        tags = obj(rule.get("properties")).get("tags")
        if is_secret_rule(self.tool, tags):  # keep where the secret is, never the secret
            message, snippet = WITHHELD, None
        hit = f"Line {line}: {message or ''}".strip() if line else message or ""
        if snippet:
            hit += "\n    " + snippet.strip().replace("\n", "\n    ")
        for fix in arr(result.get("fixes")):
            hit += "\n    Fix: " + (text(obj(obj(fix).get("description")).get("text")) or "")
        group.hits.append(hit)
        group.severities.append(_severity(result, rule, kind))
        if kind != "pass" and result.get("baselineState") != "absent":
            group.fixed = False

    def _rule(self, result: dict[str, Any], index: int) -> tuple[str, dict[str, Any]]:
        ref = obj(result.get("rule"))
        rule_id = text(result.get("ruleId")) or text(ref.get("id"))
        position = result.get("ruleIndex", ref.get("index"))
        component = self.components[0]
        extension = obj(ref.get("toolComponent")).get("index")
        if isinstance(extension, int) and 0 <= extension < len(self.components) - 1:
            component = self.components[extension + 1]
        listed = arr(component.get("rules"))
        rule: dict[str, Any] = {}
        if isinstance(position, int) and not isinstance(position, bool) and 0 <= position < len(listed):
            rule = obj(listed[position])
        elif rule_id:
            rule = obj(self.by_id.get(rule_id) or self.by_id.get(rule_id.split("/")[0]))
        rule_id = rule_id or text(rule.get("id"))
        if rule_id is None:  # Gitleaks 7 names its rule only in the message: "AWS Access Key secret detected"
            said = text(obj(result.get("message")).get("text")) or ""
            named = [r for r in self.by_id if said.startswith(r)]
            if not named:
                raise InputError(self.ctx.source, f"run {self.number} result {index} names no rule (ruleId)")
            rule_id = max(named, key=len)
            rule = self.by_id[rule_id]
        return rule_id, rule

    def _message(self, result: dict[str, Any], rule: dict[str, Any]) -> str | None:
        message = obj(result.get("message"))
        said = text(message.get("text")) or text(message.get("markdown"))
        if said is None and text(message.get("id")):
            found = obj(obj(rule.get("messageStrings")).get(message["id"]) or self.strings.get(message["id"]))
            said = text(found.get("text"))
            for n, argument in enumerate(arr(message.get("arguments"))):
                said = said.replace("{" + str(n) + "}", str(argument)) if said else None
        return " ".join(said.split())[:500] if said else None

    def _where(self, result: dict[str, Any]) -> tuple[str | None, int | None, str | None]:
        """File path (or logical location), start line and snippet of a result's first location."""
        location = obj(next(iter(arr(result.get("locations"))), None))
        physical = obj(location.get("physicalLocation"))
        region = obj(physical.get("region"))
        line = region.get("startLine")
        line = line if isinstance(line, int) and not isinstance(line, bool) else None
        snippet = text(obj(region.get("snippet")).get("text"))
        path = self._path(obj(physical.get("artifactLocation")))
        if path is None:
            logical = obj(next(iter(arr(location.get("logicalLocations"))), None))
            path = text(logical.get("fullyQualifiedName")) or text(logical.get("name"))
        if path is None:
            path = self._path(obj(result.get("analysisTarget")))
        return path, line, snippet

    def _path(self, artifact: dict[str, Any]) -> str | None:
        uri = text(artifact.get("uri"))
        base = text(artifact.get("uriBaseId"))
        position = artifact.get("index")
        if uri is None and isinstance(position, int) and 0 <= position < len(self.artifacts):
            location = obj(obj(self.artifacts[position]).get("location"))
            uri, base = text(location.get("uri")), text(location.get("uriBaseId"))
        if uri is None:
            return None
        for _ in range(10):  # prefix relative bases (SRCROOT -> src/); stop at an absolute root
            found = obj(self.bases.get(base)) if base else {}
            prefix = text(found.get("uri"))
            if not prefix or "://" in uri or ":" in prefix.split("/")[0]:
                break
            uri, base = prefix.rstrip("/") + "/" + uri, text(found.get("uriBaseId"))
        path = repo_path(uri, uri=True)
        for root in self.roots:
            if path and path.startswith(root + "/"):
                path = path[len(root) + 1 :]
                break
        match = _PACKAGE_VERSION.match(path or "")
        return match.group(1) if match else path


_ABSOLUTE = re.compile(r"^(/|[A-Za-z]:/)")


def _suppressed(result: dict[str, Any]) -> bool:
    """Suppressed unless every suppression is under review or rejected."""
    statuses = [s.get("status", s.get("state")) for s in arr(result.get("suppressions")) if isinstance(s, dict)]
    return any(s in (None, "accepted") for s in statuses) and not any(
        s in ("underReview", "rejected") for s in statuses
    )


def _score(*values: object) -> float | None:
    for value in values:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) if 0 <= value <= 10 else None
        if isinstance(value, str):
            return cvss.score(value)
    return None


def _severity(result: dict[str, Any], rule: dict[str, Any], kind: str) -> Severity:
    """`security-severity` (result, then rule) or dependency-check's CVSS v3 score; else the level."""
    mine, its = obj(result.get("properties")), obj(rule.get("properties"))
    score = _score(mine.get("security-severity"), its.get("security-severity"), mine.get("cvssv3_baseScore"))
    if score is not None:
        return common.severity_score(score) or Severity.INFO
    level = text(result.get("level")) or text(obj(rule.get("defaultConfiguration")).get("level"))
    if level is None:
        level = "warning" if kind == "fail" else "none"
    return _LEVEL.get(level, Severity.MEDIUM)


def _weakness(
    tool: str, rule_id: str, rule: dict[str, Any], result: dict[str, Any], severities: list[Severity]
) -> Weakness:
    short = text(obj(rule.get("shortDescription")).get("text"))
    full = text(obj(rule.get("fullDescription")).get("text"))
    help_ = text(obj(rule.get("help")).get("text"))
    props, mine = obj(rule.get("properties")), obj(result.get("properties"))
    tags = [t for t in arr(props.get("tags")) if isinstance(t, str)]
    name = (short.splitlines()[0][:200] if short else None) or text(rule.get("name")) or rule_id
    v3 = _score(mine.get("cvssv3_baseScore"))
    v2 = _score(mine.get("cvssv2_score"))
    cwe_texts = [t for t in tags if "cwe" in t.lower()] + [props.get("cwe"), mine.get("cwe")]
    return Weakness(
        tool=tool,
        vuln_id=rule_id,
        name=name,
        severity=max_severity(severities),
        description=full or short or help_,
        solution=help_ if help_ and help_ not in (full, short) else None,
        see_also=text(rule.get("helpUri")),
        cvss2_score=v2,
        cvss3_score=v3,
        cves=common.cves_in(rule_id, tags),
        cwes=tuple(dict.fromkeys(str(int(c)) for c in common.cwes_in(*cwe_texts) if c.isdigit())),
    )
