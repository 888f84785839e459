"""SARIF 2.1.0 logs from any static analysis or dependency tool (CodeQL, Semgrep, SpotBugs,
Flawfinder, Gitleaks, dependency-check, Black Duck...).

One finding per tool, rule and file. Each of a result's `locations` is a place where the result
occurred (SARIF 2.1.0 section 3.27.12): a result located in two files is two findings, and the
results and locations of one rule in one file are one finding whose evidence lists the lines
(`relatedLocations`, code flows and stacks are context, not locations). The asset is the
repository the run names (`versionControlProvenance[].repositoryUri`), else `--asset`, else
`<tool> project`. The file path is repository-relative when `originalUriBaseIds` lets us resolve
it, with forward slashes and no line; a package coordinate (`npm/lodash@4.17.20`) loses its
version. The rule is `ruleId`, else `rule.id`, else the rule at `ruleIndex` / `rule.index`
(in the driver or the extension `rule.toolComponent` names) or with the `rule.guid`, else
(Gitleaks 7) the rule the message starts with; a result naming no rule, or that is not an
object, is left out with a warning.

`kind` (3.27.9): `fail` (the default) is an open finding; `open` (the tool could not decide) and
`review` (a person must decide) are open findings too, rated as a failure of their rule; `pass`
is a fixed finding; `informational` is counted and never stored; `notApplicable` is left out; any
other kind is an open finding, with a warning. `level` (3.27.10): error High, warning Moderate,
note Low, none Informational; without one, the rule's `defaultConfiguration.level`, else
`warning` (`none` for a pass). A numeric `security-severity` (result, then rule) or
dependency-check's CVSS v3 score wins over the level. A level that is not one of SARIF's four is
read as the severity word it is (`high`), else Moderate, with a warning.

Suppressions (3.35): a result with a suppression whose `status` is `accepted` or absent is set
aside (not open, and never a fix: an open finding stays open), unless one of its suppressions is
`underReview` or `rejected`
(not in effect: the result counts); a status SARIF does not define keeps the result, with a
warning. `baselineState: absent` results are fixed findings. The results of one rule in one file
are one finding: open when one of them fails, else set aside when one is suppressed, else fixed
when one passed (the order of `sca.Collector`: a suppressed result beside a passing one is still
there, set aside, never a fix). Findings are dated by the run's invocations (`startTimeUtc`, else
`endTimeUtc`), else `--scan-date`, else the file's modification time.

Coverage (appendix I, "Detecting incomplete result sets"): a run whose `results` are missing, whose
invocation failed (`executionSuccessful: false`), or whose invocations report a notification of
level `error` (`toolExecutionNotifications`, `toolConfigurationNotifications`: the tool may not
have run every rule on every file, 3.58.6; warned) covers nothing; every other run covers its
repository. Several logs in one file (concatenated, or one per line) are one import. A run
without `tool.driver.name` among readable runs is left out with a warning (the file then closes
nothing by absence); a file none of whose runs names its tool is refused.
"""

from __future__ import annotations

import dataclasses
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
_KINDS = {k.lower(): k for k in ("fail", "pass", "open", "review", "informational", "notApplicable")}
_FAILING = {"fail", "open", "review"}
"""Kinds kept as open findings (`open`: the tool could not decide; `review`: a person must)."""
_SUPPRESSION = {"accepted": "accepted", "underreview": "underReview", "rejected": "rejected"}
_ALIASES = (("semgrep", "Semgrep"), ("bandit", "Bandit"))  # tools with their own JSON parser: same name
_PACKAGE_VERSION = re.compile(r"^((?:pkg:)?[\w.+-]+/(?:@?[^/@\s]+/)*@?[^/@\s]+)@v?\d+(?:\.\d+)*(?:[-+.][\w.+-]*)?$")
_ABSOLUTE = re.compile(r"^(/|[A-Za-z]:/)")


# --- SARIF -----------------------------------------------------------------------------------


@dataclass
class _Group:
    """The results of one rule in one file of one asset, seen at one time."""

    tool: str
    rule_id: str
    asset: Asset
    path: str | None
    when: dt.datetime
    hits: list[str] = field(default_factory=list)
    severities: list[Severity] = field(default_factory=list)
    failing: bool = False
    """Some result is a failure (fail, open, review): the finding is open."""
    set_aside: bool = False
    """Some result is suppressed (accepted): still there, set aside (it keeps an open finding
    open and closes nothing), unless another result fails."""
    passing: bool = False
    """Some result passed (`kind: pass`, `baselineState: absent`): fixed, unless another result
    fails or is suppressed."""


_Key = tuple[str, str, str | None, str | None, dt.datetime]
_Rules = dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]]


class SarifParser:
    """Reader of SARIF 2.1.0 logs."""

    id = "sarif"
    name = "SARIF 2.1.0 (static analysis and dependency scanners)"
    maps_to = (
        "one finding per tool, rule and file (lines in evidence; paths relative to the checkout root or "
        "working directory) on the run's repository, else --asset, "
        "else '<tool> project'; suppressed results set aside (an open finding stays open), pass/absent results fixed"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """A JSON object with `runs` and a top-level `version` 2.1.0 or a SARIF `$schema` (the
        first log, when a file holds several)."""
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
        """Coverage per run, findings grouped by rule and file, then the scan; several logs in
        one file (concatenated or one per line) are read as one."""
        docs = list(jsonio.documents(stream, ctx.source))
        several = len(docs) > 1
        groups: dict[_Key, _Group] = {}
        rules: _Rules = {}
        tools: dict[str, str | None] = {}
        times: list[dt.datetime] = []
        name = None
        runs: list[tuple[str, dict[str, Any]]] = []
        for position, doc in enumerate(docs, start=1):
            where = f"document {position}: " if several else ""
            if not isinstance(doc, dict):
                raise InputError(ctx.source, f"{where}not a SARIF log (a JSON object expected)")
            version = doc.get("version")
            if str(version) != "2.1.0":
                raise InputError(ctx.source, f"{where}SARIF version {version!r} is not supported (only 2.1.0)")
            listed = doc.get("runs")
            if not isinstance(listed, list):
                raise InputError(ctx.source, f"{where}SARIF log has no runs array")
            for number, run in enumerate(listed, start=1):
                label = f"run {number}" + (f" of document {position}" if several else "")
                if not isinstance(run, dict):
                    raise InputError(ctx.source, f"{label} is not an object")
                runs.append((label, run))
        unnamed = [label for label, run in runs if _tool_name(run) is None]
        if unnamed and len(unnamed) == len(runs):  # no run of the file can be read
            raise InputError(ctx.source, f"{unnamed[0]} has no tool.driver.name")
        left_out = set(unnamed)
        for label, run in runs:
            if label in left_out:  # one run among readable ones: left out, so nothing closes by absence
                ctx.skip(label, "has no tool.driver.name")
                continue
            run_ = _Run(run, label, ctx)
            tools.setdefault(run_.tool, run_.version)
            times += [t for t in (run_.start, run_.end) if t]
            name = name or text(obj(run.get("automationDetails")).get("id"))
            if run_.complete and run_.named:  # an unnamed repository covers nothing
                start, end = run_.start or run_.time(), run_.end or run_.time()
                yield Coverage(run_.asset, start, end, None, Checks.ALL, tool=run_.tool)
            for index, result in enumerate(arr(run.get("results")), start=1):
                run_.add(result, f"result {index} of {label}", groups, rules)
            if run_.dated_by_fallback():
                times.append(run_.time())
        yield from _findings(groups, rules)
        tool = next(iter(tools)) if len(tools) == 1 else ", ".join(tools) or "SARIF"
        version_ = tools.get(tool)
        yield Scan(tool, version_, name, min(times, default=None), max(times, default=None))


def _findings(groups: dict[_Key, _Group], rules: _Rules) -> Iterator[Finding]:
    """One finding per group: open when a result failed, else set aside when one was suppressed,
    else fixed when one passed (as `sca.Collector`), and informational (counted, never stored)
    when every result was `informational`."""
    severities: dict[tuple[str, str], list[Severity]] = {}
    for g in groups.values():  # a rule's severity: the highest of its open results, else of all
        severities.setdefault((g.tool, g.rule_id), [])
        if g.failing:
            severities[(g.tool, g.rule_id)] += g.severities
    weaknesses: dict[tuple[str, str], Weakness] = {}
    for g in groups.values():
        key = (g.tool, g.rule_id)
        if key not in weaknesses:
            rule, result = rules[key]
            weaknesses[key] = _weakness(g.tool, g.rule_id, rule, result, severities[key] or g.severities)
        weakness = weaknesses[key]
        if g.failing:
            status = FindingStatus.OPEN
        elif g.set_aside:  # still there: a pass beside it is not a fix
            status = FindingStatus.SET_ASIDE
        elif g.passing:
            status = FindingStatus.FIXED
        else:  # informational only: not a problem
            status, weakness = FindingStatus.OPEN, dataclasses.replace(weakness, severity=Severity.INFO)
        yield Finding(
            weakness=weakness,
            asset=g.asset,
            observed_at=g.when,
            path=g.path,
            evidence=hits_text(g.hits),
            status=status,
        )


class _Run:
    """One run: its tool, rules, asset, times and base URIs."""

    def __init__(self, run: dict[str, Any], label: str, ctx: ParseContext) -> None:
        self.ctx = ctx
        tool = obj(run.get("tool"))
        driver = obj(tool.get("driver"))
        tool_name = _tool_name(run)
        if tool_name is None:
            raise InputError(ctx.source, f"{label} has no tool.driver.name")
        self.tool = next((alias for prefix, alias in _ALIASES if tool_name.lower().startswith(prefix)), tool_name)
        self.version = text(driver.get("version")) or text(driver.get("semanticVersion"))
        self.components = [driver, *(obj(e) for e in arr(tool.get("extensions")))]
        self.by_id: dict[str, dict[str, Any]] = {}
        self.by_guid: dict[str, dict[str, Any]] = {}
        for component in self.components:
            for rule in map(obj, arr(component.get("rules"))):
                rule_id, guid = text(rule.get("id")), text(rule.get("guid"))
                if rule_id:
                    self.by_id.setdefault(rule_id, rule)
                    if guid:
                        self.by_guid.setdefault(guid.lower(), rule)
        self.strings = obj(driver.get("globalMessageStrings"))
        repo = next((p.get("repositoryUri") for p in map(obj, arr(run.get("versionControlProvenance")))), None)
        self.asset = repository(repo, ctx, f"{self.tool} project")
        self.named = self.asset.name != f"{self.tool} project"
        invocations = [obj(i) for i in arr(run.get("invocations"))]
        starts = [t for t in (common.parse_time(i.get("startTimeUtc")) for i in invocations) if t]
        ends = [t for t in (common.parse_time(i.get("endTimeUtc")) for i in invocations) if t]
        self.start, self.end = min(starts, default=None), max(ends, default=None)
        self._when: dt.datetime | None = self.start or self.end
        failed = any(i.get("executionSuccessful") is False for i in invocations)
        errors = sum(
            1
            for i in invocations
            for key in ("toolExecutionNotifications", "toolConfigurationNotifications")
            for note in arr(i.get(key))
            if str(obj(note).get("level")).strip().lower() == "error"
        )
        self.complete = isinstance(run.get("results"), list) and not failed and not errors
        if errors and isinstance(run.get("results"), list) and not failed:
            ctx.warn(
                label,
                f"the tool reported {errors} error notification(s) (it may not have run every rule on every "
                "file); nothing is closed by absence",
            )
        self.bases = obj(run.get("originalUriBaseIds"))
        # absolute checkout roots (a base id's uri, the working directory): paths are made relative
        # to them, so that the same repository checked out elsewhere gives the same findings
        dirs = [obj(b).get("uri") for b in self.bases.values()]
        dirs += [obj(i.get("workingDirectory")).get("uri") for i in invocations]
        roots = {r.rstrip("/") for r in (repo_path(text(d), uri=True) for d in dirs) if r and _ABSOLUTE.match(r)}
        self.roots = sorted(roots, key=len, reverse=True)
        self.artifacts = arr(run.get("artifacts"))

    def time(self) -> dt.datetime:
        """When the run saw its results: its invocations' times, else `--scan-date` or the file's
        modification time (asked for only when a record needs it)."""
        if self._when is None:
            self._when = self.ctx.fallback_time()
        return self._when

    def dated_by_fallback(self) -> bool:
        """Whether some record of this undated run took the fallback time."""
        return self._when is not None and self.start is None and self.end is None

    def add(self, result: object, label: str, groups: dict[_Key, _Group], rules: _Rules) -> None:
        """Add one result to its groups (rule and file, one per file it is located in), unless it
        is suppressed, not applicable or names no rule."""
        if not isinstance(result, dict):
            self.ctx.skip(label, "not an object")
            return
        kind = self._kind(result, label)
        if kind == "notApplicable":
            return
        suppressed = self._suppressed(result, label)
        found = self._rule(result)
        if found is None:
            self.ctx.skip(label, "names no rule (ruleId, rule.id or rule.index)")
            return
        rule_id, rule = found
        label = f"{label} ({rule_id[:60]})"
        rules.setdefault((self.tool, rule_id), (rule, result))
        message = self._message(result, rule)
        severity = Severity.INFO if kind == "informational" else self._severity(result, rule, kind, label)
        passed = kind == "pass" or kind != "informational" and result.get("baselineState") == "absent"
        secret = is_secret_rule(self.tool, obj(rule.get("properties")).get("tags"))
        fixes = [text(obj(obj(fix).get("description")).get("text")) or "" for fix in arr(result.get("fixes"))]
        for path, line, snippet in self._places(result):
            key = (self.tool, rule_id, self.asset.name, path, self.time())
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group(self.tool, rule_id, self.asset, path, self.time())
            said = message
            if secret:  # keep where the secret is, never the secret
                said, snippet = WITHHELD, None
            hit = f"Line {line}: {said or ''}".strip() if line else said or ""
            if snippet:
                hit += "\n    " + snippet.strip().replace("\n", "\n    ")
            for fix in fixes:
                hit += "\n    Fix: " + fix
            group.hits.append(hit)
            group.severities.append(severity)
            if suppressed:
                group.set_aside = group.set_aside or kind != "informational"
            elif passed:
                group.passing = True
            elif kind != "informational":
                group.failing = True

    def _kind(self, result: dict[str, Any], label: str) -> str:
        """The result's kind (`fail` when absent); an unknown one is kept as a failure, warned."""
        value = result.get("kind")
        if value is None:
            return "fail"
        kind = _KINDS.get(value.strip().lower()) if isinstance(value, str) else None
        if kind is None:
            common.odd_status(self.ctx, label, value)
            return "fail"
        return kind

    def _suppressed(self, result: dict[str, Any], label: str) -> bool:
        """Suppressed by a suppression accepted or without status, unless one is under review or
        rejected (3.35.3); a status SARIF does not define keeps the result, with a warning."""
        statuses: list[str | None] = []
        for suppression in arr(result.get("suppressions")):
            if not isinstance(suppression, dict):
                continue
            value = suppression.get("status", suppression.get("state"))  # `state`: its pre-release name
            status = _SUPPRESSION.get(value.strip().lower()) if isinstance(value, str) else None
            if value is not None and status is None:
                self.ctx.warn(label, f"suppression status {str(value)[:40]!r} not recognised; result kept")
                return False
            statuses.append(status)
        if any(s in ("underReview", "rejected") for s in statuses):
            return False
        return any(s in (None, "accepted") for s in statuses)

    def _rule(self, result: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
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
        elif text(ref.get("guid")):
            rule = self.by_guid.get(str(text(ref.get("guid"))).lower(), {})
        rule_id = rule_id or text(rule.get("id"))
        if rule_id is None:  # Gitleaks 7 names its rule only in the message: "AWS Access Key secret detected"
            said = text(obj(result.get("message")).get("text")) or ""
            named = [r for r in self.by_id if said.startswith(r)]
            if not named:
                return None
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

    def _severity(self, result: dict[str, Any], rule: dict[str, Any], kind: str, label: str) -> Severity:
        """`security-severity` (result, then rule) or dependency-check's CVSS v3 score; else the
        level: the result's, else the rule's default, else `warning` for a failure (`none` for a
        pass). An `open` or `review` result's level is `none` by the specification: it is rated
        as a failure of its rule."""
        mine, its = obj(result.get("properties")), obj(rule.get("properties"))
        score = _score(mine.get("security-severity"), its.get("security-severity"), mine.get("cvssv3_baseScore"))
        if score is not None:
            return common.severity_score(score) or Severity.INFO
        level = result.get("level")
        if level in (None, "") or kind in ("open", "review") and level == "none":
            level = obj(rule.get("defaultConfiguration")).get("level")
        if level in (None, ""):
            return Severity.MEDIUM if kind in _FAILING else Severity.INFO
        word = text(level)
        if word is not None and word.lower() in _LEVEL:
            return _LEVEL[word.lower()]
        named = common.severity_word(word)
        if named is None:
            return common.odd_severity(self.ctx, label, level)
        self.ctx.warn(label, f"level {word!r} is not a SARIF level; rated {named.value}")
        return named

    def _places(self, result: dict[str, Any]) -> list[tuple[str | None, int | None, str | None]]:
        """File path (or logical location), start line and snippet of each of a result's
        locations; the analysis target when it gives none."""
        places: list[tuple[str | None, int | None, str | None]] = []
        for location in arr(result.get("locations")):
            if not isinstance(location, dict):
                continue
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
            places.append((path, line, snippet))
        return places or [(self._path(obj(result.get("analysisTarget"))), None, None)]

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


def _tool_name(run: dict[str, Any]) -> str | None:
    """The run's `tool.driver.name` (SARIF requires it), None when it has none."""
    return text(obj(obj(run.get("tool")).get("driver")).get("name"))


def _score(*values: object) -> float | None:
    for value in values:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) if 0 <= value <= 10 else None
        if isinstance(value, str):
            return cvss.score(value)
    return None


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
