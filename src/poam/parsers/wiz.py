"""Wiz: the issues CSV export, the vulnerability-findings (SCA) CSV export, and wizcli JSON
(`wizcli docker scan`, `wizcli dir scan`, `wizcli iac scan` with `--format json`).

Issues CSV: one configuration finding per control (`Control ID`, the rule: `Issue ID` names one
occurrence) and resource (`Resource external ID`, with subscription and region). Status RESOLVED
gives a FIXED record unless the resolution says the issue was not remedied (CONTROL_DISABLED,
CONTROL_CHANGED, EXCEPTION, FALSE_POSITIVE, WONT_FIX): those, and REJECTED issues, give nothing.

Vulnerability CSV: one finding per CVE/GHSA, cloud resource (`ProviderUniqueId`, else Wiz's
asset id) and package (`DetailedName`); FindingStatus Resolved gives a FIXED record.

Both CSVs are filtered UI exports: they close only through FIXED records.

wizcli JSON is a complete scan of one target and closes by coverage: an image scan is a
container image (its name without tag); a directory or IaC scan is a repository named by
`--asset`, else by the scanned directory (dir scans) or `wizcli IaC scan` (the IaC origin name
carries a timestamp). Findings: package vulnerabilities (path = package), secrets
(`secret:<TYPE>`, path = file) and IaC rule matches (rule id, path = file; configuration).
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

TOOL = "Wiz"
_ISSUES = {"control_id", "issue_id", "resource_external_id", "status", "severity", "title"}
_VULNS = {"wizurl", "findingstatus", "detailedname", "assetid", "name", "vendorseverity"}
_WIZCLI = {"scanOriginResource", "result", "createdAt", "status"}
_NOT_FIXED = {"CONTROL_DISABLED", "CONTROL_CHANGED", "EXCEPTION", "FALSE_POSITIVE", "WONT_FIX", "REJECTED"}
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
    """Findings keyed by identity: an open one wins over a fixed one; evidence is merged."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, Asset, str | None, int | None], tuple[Finding, list[str]]] = {}

    def add(self, finding: Finding) -> None:
        key = (finding.weakness.vuln_id, finding.asset, finding.path, finding.port)
        detail = finding.evidence or ""
        known = self.found.get(key)
        if known is None or (finding.status is FindingStatus.OPEN and known[0].status is FindingStatus.FIXED):
            self.found[key] = (finding, [detail])
            return
        old, details = known
        if detail not in details:
            details.append(detail)
        if finding.status is old.status and finding.observed_at > old.observed_at:
            self.found[key] = (replace(old, observed_at=finding.observed_at), details)

    def findings(self) -> Iterator[Finding]:
        for finding, details in self.found.values():
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
        start = stream.tell()
        text = stream.read(65536).decode("utf-8-sig", "replace")
        stream.seek(start)
        issues = bool(csvio.header_fields(text, _issues_header, ","))
        predicate = _issues_header if issues else _vulns_header
        merged = _Merged()
        weaknesses: dict[str, Weakness] = {}
        assets: dict[tuple[str, ...], Asset] = {}
        first: dt.datetime | None = None
        last: dt.datetime | None = None
        for line, row in enumerate(csvio.rows(stream, ctx.source, predicate, ","), start=2):
            finding = (_issue if issues else _vuln)(row, line, ctx, weaknesses, assets)
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


def _issue(
    row: dict[str, str],
    line: int,
    ctx: ParseContext,
    weaknesses: dict[str, Weakness],
    assets: dict[tuple[str, ...], Asset],
) -> Finding | None:
    status_text = (row.get("status") or "").strip().upper()
    resolution = (row.get("resolution") or "").strip().upper()
    if status_text in ("OPEN", "IN_PROGRESS"):
        status = FindingStatus.OPEN
    elif status_text == "RESOLVED":
        if resolution in _NOT_FIXED:
            return None  # closed in Wiz without a fix: neither opens nor closes here
        status = FindingStatus.FIXED
    elif status_text == "REJECTED":
        return None
    else:
        raise InputError(
            ctx.source, f"row {line}: status {row.get('status')!r} is not Open, In progress, Resolved or Rejected"
        )
    control = common.clean(row.get("control_id"))
    resource = common.clean(row.get("resource_external_id"))
    if not control or not resource:
        raise InputError(ctx.source, f"row {line}: Control ID or Resource external ID is empty")
    weakness = weaknesses.get(control)
    if weakness is None:
        weakness = weaknesses[control] = Weakness(
            tool=TOOL,
            vuln_id=control,
            name=common.clean(row.get("title")) or control,
            severity=common.severity_word(row.get("severity")) or Severity.MEDIUM,
            description=common.clean(row.get("description")),
            solution=common.clean(row.get("remediation_recommendation")),
            is_config=True,
        )
    created = wiz_time(row.get("created_at"))
    exported = ctx.fallback_time()  # the export has no time of its own: --scan-date, else the file's
    if status is FindingStatus.FIXED:
        when = wiz_time(row.get("resolved_time")) or created or exported
    else:  # open at the export; Wiz created the issue earlier
        when = exported
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
    line: int,
    ctx: ParseContext,
    weaknesses: dict[str, Weakness],
    assets: dict[tuple[str, ...], Asset],
) -> Finding | None:
    status_text = (row.get("findingstatus") or "").strip().lower()
    if status_text in ("open", "in_progress", "in progress"):
        status = FindingStatus.OPEN
    elif status_text == "resolved":
        status = FindingStatus.FIXED
    elif status_text in ("rejected", "ignored"):
        return None
    else:
        raise InputError(ctx.source, f"row {line}: FindingStatus {row.get('findingstatus')!r} is not Open or Resolved")
    vuln_id = common.clean(row.get("name"))
    resource = common.clean(row.get("provideruniqueid")) or common.clean(row.get("assetid"))
    if not vuln_id or not resource:
        raise InputError(ctx.source, f"row {line}: Name or asset id is empty")
    weakness = weaknesses.get(vuln_id)
    if weakness is None:
        severity = common.severity_word(row.get("vendorseverity")) or common.severity_word(row.get("cvssseverity"))
        weakness = weaknesses[vuln_id] = Weakness(
            tool=TOOL,
            vuln_id=vuln_id,
            name=vuln_id,
            severity=severity or Severity.MEDIUM,
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
        """Coverage of the target, its findings, then the scan."""
        doc = jsonio.load(stream, ctx.source)
        if not isinstance(doc, dict) or not isinstance(doc.get("result"), dict):
            raise InputError(ctx.source, "not a wizcli result: no result object")
        state = (_text(_obj(doc.get("status")).get("state")) or "SUCCESS").upper()
        if state != "SUCCESS":
            raise InputError(ctx.source, f"the wizcli scan did not succeed (state {state})")
        origin = _obj(doc.get("scanOriginResource"))
        result = _obj(doc.get("result"))
        typename = _text(origin.get("__typename")) or ""
        origin_name = _text(origin.get("name"))
        when = wiz_time(doc.get("createdAt")) or wiz_time(doc.get("startedAt")) or ctx.fallback_time()
        if "ContainerImage" in typename:
            image = origin_name or ctx.asset_name
            if not image:
                raise InputError(ctx.source, "the image scan names no image; give one with --asset")
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
            raise InputError(ctx.source, f"unsupported wizcli scan origin {typename or 'missing'!r}")
        if named:  # an unnamed directory or IaC scan covers nothing
            yield Coverage(asset, when, when, None, checks)
        merged = _Merged()
        weaknesses: dict[str, Weakness] = {}
        for finding in _cli_findings(result, asset, when, weaknesses, ctx):
            merged.add(finding)
        yield from merged.findings()
        yield Scan(tool=TOOL, name=label, started_at=when, ended_at=when)


def _cli_findings(
    result: dict[str, Any], asset: Asset, when: dt.datetime, weaknesses: dict[str, Weakness], ctx: ParseContext
) -> Iterator[Finding]:
    for package in _list(result.get("osPackages")) + _list(result.get("libraries")):
        package = _obj(package)
        name = _text(package.get("name"))
        for v in _list(package.get("vulnerabilities")):
            v = _obj(v)
            vuln_id = _text(v.get("name"))
            if not vuln_id or not name:
                raise InputError(ctx.source, "a package vulnerability has no name")
            weakness = weaknesses.get(vuln_id)
            if weakness is None:
                weakness = weaknesses[vuln_id] = Weakness(
                    tool=TOOL,
                    vuln_id=vuln_id,
                    name=vuln_id,
                    severity=common.severity_word(_text(v.get("severity"))) or Severity.MEDIUM,
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
            yield Finding(weakness, asset, when, evidence=evidence, path=name)
    for secret in _list(result.get("secrets")):
        secret = _obj(secret)
        kind = (_text(secret.get("type")) or "UNKNOWN").upper()
        path = _text(secret.get("path"))
        vuln_id = f"secret:{kind}"
        weakness = weaknesses.get(vuln_id)
        if weakness is None:
            weakness = weaknesses[vuln_id] = Weakness(
                tool=TOOL,
                vuln_id=vuln_id,
                name=f"Secret in code or image: {kind.replace('_', ' ').lower()}",
                severity=Severity.HIGH,
                solution="Remove the secret from the files, rotate it, and keep it in a secrets manager.",
                cwes=("798",),
            )
        line = _text(secret.get("lineNumber"))
        evidence = " ".join(x for x in (f"line {line}:" if line else None, _text(secret.get("description"))) if x)
        yield Finding(weakness, asset, when, evidence=evidence or None, path=path)
    for match_group in _list(result.get("ruleMatches")):
        match_group = _obj(match_group)
        rule = _obj(match_group.get("rule"))
        rule_id = _text(rule.get("id"))
        if not rule_id:
            raise InputError(ctx.source, "an IaC rule match has no rule id")
        weakness = weaknesses.get(rule_id)
        if weakness is None:
            weakness = weaknesses[rule_id] = Weakness(
                tool=TOOL,
                vuln_id=rule_id,
                name=_text(rule.get("name")) or rule_id,
                severity=common.severity_word(_text(match_group.get("severity"))) or Severity.MEDIUM,
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
            yield Finding(weakness, asset, when, evidence=evidence or None, path=_text(match.get("fileName")))
