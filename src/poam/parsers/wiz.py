"""Wiz: the issues CSV export, the vulnerability-findings (SCA) CSV export, and wizcli JSON
(`wizcli docker scan`, `wizcli dir scan`, `wizcli iac scan` with `--format json`).

Issues CSV: one configuration finding per control (`Control ID`, the rule: `Issue ID` names one
occurrence) and resource (`Resource external ID`, with subscription and region). Status OPEN and
IN_PROGRESS are open; RESOLVED gives a FIXED record unless the resolution says the issue was not
remedied (CONTROL_DISABLED, CONTROL_CHANGED, EXCEPTION, FALSE_POSITIVE, WONT_FIX): those, and
REJECTED issues, give nothing. An open issue is seen at the export (which has no time of its
own: `--scan-date`, else the file's modification time) and detected at its `Created At`; a
resolved one is dated by its `Resolved Time` (else a `Status Changed At` or `Updated At` column
when the export has one, else `Created At`).

Vulnerability CSV: one finding per CVE/GHSA, cloud resource (`ProviderUniqueId`, else Wiz's
asset id) and package (`DetailedName`); FindingStatus Open and In progress are open, Resolved
gives a FIXED record, Rejected and Ignored give nothing. Dated by `ResolvedAt` (resolved), else
the later of `FirstDetected` and `LastDetected`, else `--scan-date` or the file's time.

Both CSVs are filtered UI exports: they close only through FIXED records. Rows of one finding
(several issues of one control and resource, several locations of one package) are one finding:
the newest row decides, and on equal times an open one wins.

Lenient on values: a status Wiz does not document is read as set aside when it says so
(`IGNORED`, `SUPPRESSED`...: left out) and as open otherwise; a severity poam cannot read is
medium; a row without Control ID / Name or resource id, or with one longer than 200 characters,
is left out; each with a warning.

wizcli JSON is a complete scan of one target and closes by coverage: an image scan is a
container image (its name without tag); a directory or IaC scan is a repository named by
`--asset`, else by the scanned directory (dir scans) or `wizcli IaC scan` (the IaC origin name
carries a timestamp). Findings: package vulnerabilities (path = package), secrets
(`secret:<TYPE>`, path = file) and IaC rule matches (rule id, path = file; configuration), dated
by the result's `createdAt` (else `startedAt`, else `--scan-date` or the file's time). A record
that an ignore rule of a Wiz policy set aside (`ignoredPolicyMatches`) and that fails no policy
(no `failedPolicyMatches`, for an IaC match no `failedPolicies`) is set aside: it has the identity
an open record would have, an open finding of it stays open (the scan still reports it: not a
fix), and none is opened from it; an open record of a finding wins over a set-aside one. A file
may hold several results, written one after another or one per line: each covers its own
target; one import. A vulnerability without a name or package, or a rule match without a rule
id, is left out with a warning, and its result then covers nothing (nothing is closed by the
absence of what poam could not read). A result whose scan did not succeed, whose origin poam
does not know, or an image scan that names no image (give `--asset`) is left out with a warning
when the file holds other results, and refuses a file that holds no other.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, BinaryIO

from poam.domain.models import (
    Asset,
    AssetKind,
    Checks,
    Coverage,
    Finding,
    FindingStatus,
    Scan,
    Severity,
    Weakness,
)
from poam.errors import InputError
from poam.parsers import common, csvio, jsonio
from poam.parsers.asff import image_repository
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import arr as _list
from poam.parsers.common import obj as _obj
from poam.parsers.common import text as _text
from poam.parsers.stig_ckl import newest

TOOL = "Wiz"
_ISSUES = {"control_id", "issue_id", "resource_external_id", "status", "severity", "title"}
_VULNS = {"wizurl", "findingstatus", "detailedname", "assetid", "name", "vendorseverity"}
_WIZCLI = {"scanOriginResource", "result", "createdAt", "status"}
_NOT_FIXED = {"CONTROL_DISABLED", "CONTROL_CHANGED", "EXCEPTION", "FALSE_POSITIVE", "WONT_FIX", "REJECTED"}
_ISSUE_STATUS: dict[str, FindingStatus | None] = {
    "open": FindingStatus.OPEN,
    "in_progress": FindingStatus.OPEN,
    "resolved": FindingStatus.FIXED,
    "rejected": None,
}
"""Wiz's issue statuses (OPEN, IN_PROGRESS, RESOLVED, REJECTED)."""
_VULN_STATUS: dict[str, FindingStatus | None] = {**_ISSUE_STATUS, "ignored": None}
"""Vulnerability findings' statuses (Open, In progress, Resolved, Rejected, Ignored)."""
MAX_ID = 200
_GO_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) ([+-]\d{4})(?: [A-Z]{2,5})?$")
_EVIDENCE_LIMIT = 20
IAC_FALLBACK = "wizcli IaC scan"


def wiz_time(value: object) -> dt.datetime | None:
    """ISO 8601, or Go's `2025-04-03 20:20:00.43042 +0000 UTC`; Go's zero time is no time."""
    text = _text(value)
    if not text:
        return None
    m = _GO_TIME.match(text)
    if m:
        fraction = re.sub(r"(\.\d{6})\d+", r"\1", m.group(1))
        try:
            parsed = dt.datetime.strptime(f"{fraction} {m.group(2)}", "%Y-%m-%d %H:%M:%S.%f %z")
        except ValueError:
            try:
                parsed = dt.datetime.strptime(f"{fraction} {m.group(2)}", "%Y-%m-%d %H:%M:%S %z")
            except ValueError:
                return None
        return parsed.astimezone(dt.UTC).replace(tzinfo=None)
    parsed_iso = common.parse_time(text)
    return parsed_iso if parsed_iso and parsed_iso.year > 1970 else None


class _Merged:
    """Findings of one report keyed by identity: records of one identity in one state are merged
    (their evidence joined, the newest time kept, detected at the earliest); a passing record is
    yielded only when it is newer than every open record of its finding, so that the newest
    record decides and on equal times the open one wins. The importer, applying records in time
    order, then opens and closes a finding the file shows open and later resolved."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, Asset, str | None, int | None], dict[FindingStatus, tuple[Finding, list[str]]]] = {}

    def add(self, finding: Finding) -> None:
        key = (finding.weakness.vuln_id, finding.asset, finding.path, finding.port)
        slot = self.found.setdefault(key, {})
        known = slot.get(finding.status)
        detail = finding.evidence or ""
        if known is None:
            slot[finding.status] = (finding, [detail])
            return
        old, details = known
        if detail not in details:
            details.append(detail)
        slot[finding.status] = (newest(old, finding), details)

    def findings(self) -> Iterator[Finding]:
        for slot in self.found.values():
            failing, passing = slot.get(FindingStatus.OPEN), slot.get(FindingStatus.FIXED)
            aside = slot.get(FindingStatus.SET_ASIDE)
            kept = [failing] if failing else [aside] if aside else []
            if passing and (failing is None or passing[0].observed_at > failing[0].observed_at):
                kept.append(passing)
            for finding, details in kept:
                shown = [d for d in details if d]
                evidence = "\n".join(shown[:_EVIDENCE_LIMIT]) or None
                if len(shown) > _EVIDENCE_LIMIT:
                    evidence = f"{evidence}\n... and {len(shown) - _EVIDENCE_LIMIT} more"
                yield replace(finding, evidence=evidence)


def _issues_header(names: list[str]) -> bool:
    return set(names) >= _ISSUES


def _vulns_header(names: list[str]) -> bool:
    return set(names) >= _VULNS


class WizCsvParser:
    """Reader of Wiz's issues CSV and vulnerability-findings CSV exports."""

    id = "wiz-csv"
    name = "Wiz issues / vulnerability findings CSV export"
    maps_to = "issues: one configuration finding per control and resource; vulnerabilities: CVE, resource, package"
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """The issues header (Control ID, Issue ID, Resource external ID...) or the vulnerability one
        (WizURL, FindingStatus, DetailedName, AssetID...)."""
        if head.json.kind is not None or head.xml_root:
            return False
        return bool(
            csvio.header_fields(head.text, _issues_header, ",") or csvio.header_fields(head.text, _vulns_header, ",")
        )

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Merge the rows by identity, yield them, then the scan."""
        text = csvio.head_text(stream)
        issues = bool(csvio.header_fields(text, _issues_header, ","))
        predicate = _issues_header if issues else _vulns_header
        merged = _Merged()
        weaknesses: dict[str, Weakness] = {}
        assets: dict[tuple[str, ...], Asset] = {}
        first: dt.datetime | None = None
        last: dt.datetime | None = None
        for line, row in enumerate(csvio.rows(stream, ctx, predicate, ","), start=2):
            finding = (_issue if issues else _vuln)(row, f"row {line}", ctx, weaknesses, assets)
            if finding is None:
                continue
            first = min(first, finding.observed_at) if first else finding.observed_at
            last = max(last, finding.observed_at) if last else finding.observed_at
            merged.add(finding)
        yield from merged.findings()
        yield Scan(
            tool=TOOL, name="Wiz issues" if issues else "Wiz vulnerability findings", started_at=first, ended_at=last
        )


def _cloud_asset(
    assets: dict[tuple[str, ...], Asset], name: str, account: str | None, region: str | None, ip: str | None = None
) -> Asset:
    if name.lower().startswith("/subscriptions/"):
        name = name.lower()
    key = (name, account or "", region or "")
    asset = assets.get(key)
    if asset is None:
        asset = assets[key] = Asset(kind=AssetKind.CLOUD_RESOURCE, name=name, account=account, region=region, ip=ip)
    return asset


def _status(
    word: str, ctx: ParseContext, record: str, documented: dict[str, FindingStatus | None]
) -> FindingStatus | None:
    """A documented status as mapped (None: set aside, left out); another word is set aside when it
    says so (`ignored`, `false positive`...) and open otherwise, with a warning either way."""
    key = "_".join(word.strip().lower().split())
    if key in documented:
        return documented[key]
    if common.dismissed(key):
        ctx.warn(record, f"status {word.strip()[:40]!r} is not a documented Wiz status; read as set aside and left out")
        return None
    return common.odd_status(ctx, record, word.strip())


def _severity(ctx: ParseContext, record: str, *words: object) -> Severity:
    """The first severity word poam reads; Moderate with a warning when there is none."""
    for word in words:
        level = common.severity_word(_text(word))
        if level is not None:
            return level
    shown = next((w for w in words if _text(w)), None)
    return common.odd_severity(ctx, record, shown)


def _usable(ctx: ParseContext, record: str, value: str | None, what: str) -> str | None:
    """An id that can identify a finding; None (the record left out, warned) when it is empty or
    longer than MAX_ID characters."""
    if not value:
        ctx.skip(record, f"no {what}")
        return None
    if len(value) > MAX_ID:
        ctx.skip(record, f"{what} longer than {MAX_ID} characters ({value[:40]!r}...)")
        return None
    return value


def _issue(
    row: dict[str, str],
    record: str,
    ctx: ParseContext,
    weaknesses: dict[str, Weakness],
    assets: dict[tuple[str, ...], Asset],
) -> Finding | None:
    resolution = (row.get("resolution") or "").strip().upper()
    status = _status(row.get("status") or "", ctx, record, _ISSUE_STATUS)
    if status is None:
        return None  # rejected, or set aside: neither opens nor closes here
    if status is FindingStatus.FIXED and resolution in _NOT_FIXED:
        return None  # closed in Wiz without a fix: neither opens nor closes here
    control = _usable(ctx, record, common.clean(row.get("control_id")), "Control ID")
    resource = control and _usable(ctx, record, common.clean(row.get("resource_external_id")), "Resource external ID")
    if not control or not resource:
        return None
    weakness = weaknesses.get(control)
    if weakness is None:
        weakness = weaknesses[control] = Weakness(
            tool=TOOL,
            vuln_id=control,
            name=common.clean(row.get("title")) or control,
            severity=_severity(ctx, f"{record} ({control[:60]})", row.get("severity")),
            description=common.clean(row.get("description")),
            solution=common.clean(row.get("remediation_recommendation")),
            is_config=True,
        )
    created = wiz_time(row.get("created_at"))
    if status is FindingStatus.FIXED:  # when Wiz resolved it (the status change), else what the row gives
        changed = (wiz_time(row.get(k)) for k in ("resolved_time", "resolved_at", "status_changed_at", "updated_at"))
        when = next((t for t in changed if t), None) or created or ctx.fallback_time()
    else:  # open at the export (which has no time of its own: --scan-date, else the file's); created earlier
        when = ctx.fallback_time()
    asset = _cloud_asset(
        assets, resource, common.clean(row.get("subscription_id")), common.clean(row.get("resource_region"))
    )
    evidence = " ".join(
        x
        for x in (
            f"Issue {row.get('issue_id', '').strip()}" if (row.get("issue_id") or "").strip() else None,
            f"created {created:%Y-%m-%d %H:%M}" if created else None,
            f"({resolution})" if resolution else None,
            common.clean(row.get("wiz_url")),
        )
        if x
    )
    since = created if created and created < when else None
    return Finding(weakness, asset, when, evidence=evidence or None, status=status, since=since)


def _vuln(
    row: dict[str, str],
    record: str,
    ctx: ParseContext,
    weaknesses: dict[str, Weakness],
    assets: dict[tuple[str, ...], Asset],
) -> Finding | None:
    status = _status(row.get("findingstatus") or "", ctx, record, _VULN_STATUS)
    if status is None:
        return None
    vuln_id = _usable(ctx, record, common.clean(row.get("name")), "Name")
    resource = common.clean(row.get("provideruniqueid")) or common.clean(row.get("assetid"))
    resource = vuln_id and _usable(ctx, record, resource, "asset id")
    if not vuln_id or not resource:
        return None
    weakness = weaknesses.get(vuln_id)
    if weakness is None:
        weakness = weaknesses[vuln_id] = Weakness(
            tool=TOOL,
            vuln_id=vuln_id,
            name=vuln_id,
            severity=_severity(ctx, f"{record} ({vuln_id[:60]})", row.get("vendorseverity"), row.get("cvssseverity")),
            solution=common.clean(row.get("remediation")),
            see_also=common.clean(row.get("link")),
            cves=common.cves_in(vuln_id),
        )
    seen = [t for t in (wiz_time(row.get("firstdetected")), wiz_time(row.get("lastdetected"))) if t]
    when = (wiz_time(row.get("resolvedat")) if status is FindingStatus.FIXED else None) or (max(seen) if seen else None)
    ips = [ip for ip in re.split(r"[\s,;]+", row.get("ipaddresses") or "") if ip]
    asset = _cloud_asset(
        assets,
        resource,
        common.clean(row.get("subscriptionexternalid")) or common.clean(row.get("subscriptionid")),
        common.clean(row.get("assetregion")),
        ips[0] if ips else None,
    )
    package = common.clean(row.get("detailedname"))
    fixed = common.clean(row.get("fixedversion"))
    evidence = " ".join(
        x
        for x in (
            package,
            common.clean(row.get("version")),
            f"(fixed in {fixed})" if fixed else None,
            common.clean(row.get("locationpath")),
        )
        if x
    )
    return Finding(weakness, asset, when or ctx.fallback_time(), evidence=evidence or None, status=status, path=package)


class WizCliParser:
    """Reader of wizcli JSON results (image, directory and IaC scans)."""

    id = "wizcli"
    name = "Wiz CLI (wizcli) JSON scan result"
    maps_to = (
        "one finding per vulnerability and package, secret type and file, or IaC rule and file; "
        "covers its target (an IaC scan only with --asset)"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """A JSON object with scanOriginResource, result, createdAt and status."""
        return head.json.kind == "object" and head.json.keys >= _WIZCLI

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Coverage of the target and its findings, for the result (or each of several written
        one after another or one per line), then one scan."""
        weaknesses: dict[str, Weakness] = {}
        labels: list[str] = []
        times: list[dt.datetime] = []
        failed: list[tuple[int, str]] = []
        for n, doc in enumerate(jsonio.documents(stream, ctx.source), start=1):
            where = f"document {n}: " if n > 1 else ""
            if not isinstance(doc, dict) or not isinstance(doc.get("result"), dict):
                raise InputError(ctx.source, f"{where}not a wizcli result: no result object")
            try:
                label, when, records = self._result(doc, where, weaknesses, ctx)
            except InputError as exc:  # one result that cannot be read, in a file of several
                failed.append((n, exc.problem.removeprefix(where)))
                continue
            labels.append(label)
            times.append(when)
            yield from records
        if not labels:  # nothing in the file can be read
            n, problem = failed[0]
            raise InputError(ctx.source, f"document {n}: {problem}" if n > 1 else problem)
        for n, problem in failed:
            ctx.skip(f"document {n}", problem)
        name = labels[0] if len(set(labels)) == 1 else ", ".join(dict.fromkeys(labels))
        yield Scan(tool=TOOL, name=name, started_at=min(times), ended_at=max(times))

    def _result(
        self, doc: dict[str, Any], where: str, weaknesses: dict[str, Weakness], ctx: ParseContext
    ) -> tuple[str, dt.datetime, list[Coverage | Finding]]:
        """One wizcli result: its label, its time, and its coverage and findings."""
        state = (_text(_obj(doc.get("status")).get("state")) or "SUCCESS").upper()
        if state != "SUCCESS":
            raise InputError(ctx.source, f"{where}the wizcli scan did not succeed (state {state})")
        origin = _obj(doc.get("scanOriginResource"))
        result = _obj(doc.get("result"))
        typename = _text(origin.get("__typename")) or ""
        origin_name = _text(origin.get("name"))
        when = wiz_time(doc.get("createdAt")) or wiz_time(doc.get("startedAt")) or ctx.fallback_time()
        if "ContainerImage" in typename:
            image = origin_name or ctx.asset_name
            if not image:
                raise InputError(ctx.source, f"{where}the image scan names no image; give one with --asset")
            asset, named = Asset(kind=AssetKind.CONTAINER_IMAGE, name=image_repository(image)), True
            checks, label = Checks.VULNERABILITY, "wizcli image scan"
        elif "Directory" in typename:
            named = bool(ctx.asset_name or origin_name)
            asset = Asset(kind=AssetKind.REPOSITORY, name=ctx.asset_name or origin_name or "wizcli directory scan")
            checks, label = Checks.VULNERABILITY, "wizcli directory scan"
        elif "IAC" in typename.upper() or result.get("__typename") == "CICDIACScanResult":
            named = bool(ctx.asset_name)
            asset = Asset(kind=AssetKind.REPOSITORY, name=ctx.asset_name or IAC_FALLBACK)
            checks, label = Checks.CONFIGURATION, "wizcli IaC scan"
        else:
            raise InputError(ctx.source, f"{where}unsupported wizcli scan origin {typename or 'missing'!r}")
        merged = _Merged()
        reader = _CliReader(result, asset, when, weaknesses, ctx, where)
        for finding in reader.findings():
            merged.add(finding)
        records: list[Coverage | Finding] = []
        if named and not reader.incomplete:  # an unnamed directory or IaC scan covers nothing
            records.append(Coverage(asset, when, when, None, checks))
        records += merged.findings()
        return label, when, records


def _policy_status(record: dict[str, Any], *failed: str) -> FindingStatus:
    """A wizcli record an ignore rule of a policy set aside (`ignoredPolicyMatches`) and that
    fails no policy is set aside; any other is open."""
    if _list(record.get("ignoredPolicyMatches")) and not any(_list(record.get(key)) for key in failed):
        return FindingStatus.SET_ASIDE
    return FindingStatus.OPEN


class _CliReader:
    """The findings of one wizcli result; a record that cannot be read is left out with a
    warning and makes the result `incomplete` (it then covers nothing: nothing is closed by the
    absence of what poam could not read)."""

    def __init__(
        self,
        result: dict[str, Any],
        asset: Asset,
        when: dt.datetime,
        weaknesses: dict[str, Weakness],
        ctx: ParseContext,
        where: str,
    ) -> None:
        self.result, self.asset, self.when, self.weaknesses, self.ctx, self.where = (
            result,
            asset,
            when,
            weaknesses,
            ctx,
            where,
        )
        self.incomplete = False

    def _id(self, record: str, value: str | None, what: str) -> str | None:
        vuln_id = _usable(self.ctx, record, value, what)
        if vuln_id is None:
            self.incomplete = True
        return vuln_id

    def findings(self) -> Iterator[Finding]:
        yield from self._packages()
        yield from self._secrets()
        yield from self._rules()

    def _packages(self) -> Iterator[Finding]:
        result, asset, when, weaknesses = self.result, self.asset, self.when, self.weaknesses
        packages = [("osPackages", p) for p in _list(result.get("osPackages"))]
        packages += [("libraries", p) for p in _list(result.get("libraries"))]
        counts: dict[str, int] = {}
        for key, package in packages:
            counts[key] = counts.get(key, 0) + 1
            package = _obj(package)
            name = _text(package.get("name"))
            for m, v in enumerate(_list(package.get("vulnerabilities")), start=1):
                v = _obj(v)
                record = f"{self.where}{key}[{counts[key] - 1}] vulnerability {m}"
                vuln_id = self._id(record, _text(v.get("name")), "vulnerability name")
                if vuln_id is None:
                    continue
                if not name:
                    self.ctx.skip(f"{record} ({vuln_id[:60]})", "no package name")
                    self.incomplete = True
                    continue
                weakness = weaknesses.get(vuln_id)
                if weakness is None:
                    weakness = weaknesses[vuln_id] = Weakness(
                        tool=TOOL,
                        vuln_id=vuln_id,
                        name=vuln_id,
                        severity=_severity(self.ctx, f"{record} ({vuln_id[:60]})", v.get("severity")),
                        description=_text(v.get("description")),
                        see_also=_text(v.get("source")),
                        cves=common.cves_in(vuln_id),
                    )
                fixed = _text(v.get("fixedVersion"))
                evidence = " ".join(
                    x
                    for x in (
                        name,
                        _text(package.get("version")),
                        f"(fixed in {fixed})" if fixed else None,
                        _text(package.get("path")),
                    )
                    if x
                )
                status = _policy_status(v, "failedPolicyMatches")
                yield Finding(weakness, asset, when, evidence=evidence, path=name, status=status)

    def _secrets(self) -> Iterator[Finding]:
        for n, secret in enumerate(_list(self.result.get("secrets"))):
            secret = _obj(secret)
            kind = (_text(secret.get("type")) or "UNKNOWN").upper()
            path = _text(secret.get("path"))
            vuln_id = self._id(f"{self.where}secrets[{n}]", f"secret:{kind}", "secret type")
            if vuln_id is None:
                continue
            weakness = self.weaknesses.get(vuln_id)
            if weakness is None:
                weakness = self.weaknesses[vuln_id] = Weakness(
                    tool=TOOL,
                    vuln_id=vuln_id,
                    name=f"Secret in code or image: {kind.replace('_', ' ').lower()}",
                    severity=Severity.HIGH,
                    solution="Remove the secret from the files, rotate it, and keep it in a secrets manager.",
                    cwes=("798",),
                )
            line = _text(secret.get("lineNumber"))
            evidence = " ".join(x for x in (f"line {line}:" if line else None, _text(secret.get("description"))) if x)
            status = _policy_status(secret, "failedPolicyMatches")
            yield Finding(weakness, self.asset, self.when, evidence=evidence or None, path=path, status=status)

    def _rules(self) -> Iterator[Finding]:
        for n, match_group in enumerate(_list(self.result.get("ruleMatches"))):
            match_group = _obj(match_group)
            rule = _obj(match_group.get("rule"))
            record = f"{self.where}ruleMatches[{n}]"
            rule_id = self._id(record, _text(rule.get("id")), "rule id")
            if rule_id is None:
                continue
            weakness = self.weaknesses.get(rule_id)
            if weakness is None:
                weakness = self.weaknesses[rule_id] = Weakness(
                    tool=TOOL,
                    vuln_id=rule_id,
                    name=_text(rule.get("name")) or rule_id,
                    severity=_severity(self.ctx, f"{record} ({rule_id[:60]})", match_group.get("severity")),
                    is_config=True,
                )
            for match in _list(match_group.get("matches")):
                match = _obj(match)
                line = _text(match.get("lineNumber"))
                evidence = " ".join(
                    x
                    for x in (
                        f"line {line}:" if line else None,
                        _text(match.get("matchContent")),
                        f"(found: {_text(match.get('found'))}; expected: {_text(match.get('expected'))})"
                        if _text(match.get("found"))
                        else None,
                    )
                    if x
                )
                yield Finding(
                    weakness,
                    self.asset,
                    self.when,
                    evidence=evidence or None,
                    path=_text(match.get("fileName")),
                    status=_policy_status(match, "failedPolicies", "failedPolicyMatches"),
                )
