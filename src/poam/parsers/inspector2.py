"""Amazon Inspector (v2) findings: `aws inspector2 list-findings` output, `{"findings": [...]}`,
one page or several appended one after another.

One finding per Inspector finding, resource and vulnerable package:
- PACKAGE_VULNERABILITY: the CVE (or other advisory id) on the resource, path = package name.
- CODE_VULNERABILITY (Lambda code scanning): the detector's rule id, path = the source file.
- NETWORK_REACHABILITY: `NETWORK_REACHABILITY` on the resource at the open port (a
  configuration finding: security groups and routes).

Assets: ECR images are container images named by their registry URI without tag or digest;
EC2 instances, Lambda functions (without version qualifier) and others are cloud resources
named by ARN, with account and region. The names match the ASFF parser's, so Inspector
results seen through Security Hub reconcile with these.

Status CLOSED gives a FIXED record; SUPPRESSED gives nothing (a suppression rule hides a finding,
it does not fix it; risk acceptance belongs on the POA&M); another status keeps the finding open,
with a warning. A finding of another type, or without an id or a resource, is left out with a
warning. Each record is dated by its `updatedAt` (else lastObservedAt, firstObservedAt) at full
precision, so that the newest record of a finding decides; firstObservedAt is the tool's detection
time. list-findings output is filtered and paged, so nothing closes by coverage and no coverage
is reported.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from poam.domain.models import Asset, AssetKind, Finding, FindingStatus, Scan, Severity, Weakness
from poam.parsers import common, cvss, jsonio
from poam.parsers.asff import (
    arn_account,
    ec2_instance,
    ecr_repository,
    image_repository,
    lambda_function,
    record_time,
    usable_ip,
)
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import arr as _list
from poam.parsers.common import obj as _obj
from poam.parsers.common import text as _text

TOOL = "Amazon Inspector"
_EMPTY = re.compile(r'^\s*\{\s*"findings"\s*:\s*\[\s*\]')
_BOM = b"\xef\xbb\xbf"
_STATUS = {"ACTIVE": FindingStatus.OPEN, "CLOSED": FindingStatus.FIXED}
_SEVERITIES = frozenset({"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL", "UNTRIAGED"})
_TIME_FIELDS = ("updatedAt", "lastObservedAt", "firstObservedAt")


def _int(value: object) -> int | None:
    text = _text(value)
    return int(text) if text and text.isdigit() else None


_NOT_INSPECTOR = 'Inspector list-findings output: no "findings" list, nor a finding with findingArn'


def _is_finding(doc: dict[str, Any]) -> bool:
    return "findingArn" in doc


class _Skip(Exception):
    """A finding that cannot be read: left out with this reason."""


class Inspector2Parser:
    """Reader of Amazon Inspector v2 list-findings JSON."""

    id = "aws-inspector2"
    name = "Amazon Inspector v2 findings (list-findings JSON)"
    maps_to = "one finding per Inspector finding, resource and package (CVE, code rule or open port); CLOSED closes"
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """An object whose `findings` carry `findingArn` (camelCase, unlike ASFF), or an empty list;
        or a bare finding (one per line, as `jq -c '.findings[]'` writes them)."""
        shape = head.json
        if shape.kind != "object":
            return False
        if shape.keys >= {"findingArn", "awsAccountId"}:
            return True
        if "findings" not in shape.keys or not shape.keys <= {"findings", "nextToken"}:
            return False
        return '"findingArn"' in head.text or bool(_EMPTY.match(head.text))

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Stream the findings of every page (or bare finding); yield findings, then the scan."""
        start = stream.tell()
        skip = len(_BOM) if stream.read(len(_BOM)) == _BOM else 0
        stream.seek(start + skip)
        state = _State(ctx)
        found = jsonio.records(stream, ctx.source, ("findings",), _is_finding, _NOT_INSPECTOR)
        for number, item in enumerate(found, start=1):
            if not isinstance(item, dict):
                ctx.skip(f"finding {number}", "not a JSON object")
                continue
            yield from state.finding(item, number)
        yield Scan(tool=TOOL, name="Inspector findings", started_at=state.first, ended_at=state.last)


class _State:
    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.weaknesses: dict[str, Weakness] = {}
        self.assets: dict[tuple[str, str, str], Asset] = {}
        self.first: dt.datetime | None = None
        self.last: dt.datetime | None = None

    def finding(self, f: dict[str, Any], number: int) -> Iterator[Finding]:
        ctx = self.ctx
        kind = (_text(f.get("type")) or "").upper()
        try:
            vuln_id, paths, port, protocol, evidence = self._details(f, kind, f"finding {number}")
        except _Skip as reason:
            ctx.skip(f"finding {number}", str(reason))
            return
        record = f"finding {number} ({vuln_id})"
        status = self._status(f, record)
        if status is None:
            return
        resources = [r for r in _list(f.get("resources")) if isinstance(r, dict)]
        usable = [r for r in resources if _text(r.get("id"))]
        if not usable:
            ctx.skip(record, "a resource without id" if resources else "no resources")
            return
        if len(usable) < len(resources):
            ctx.warn(record, f"{len(resources) - len(usable)} resource(s) without id left out")
        when = record_time(ctx, record, f, _TIME_FIELDS)
        since = common.parse_time(f.get("firstObservedAt"))
        since = since if since is not None and since <= when else None
        self.first = min(self.first, when) if self.first else when
        self.last = max(self.last, when) if self.last else when
        weakness = self.weaknesses.get(vuln_id)
        if weakness is None:
            weakness = self.weaknesses[vuln_id] = _weakness(ctx, record, f, kind, vuln_id)
        title = _text(f.get("title"))
        for resource in usable:
            asset = self._asset(resource, f)
            for path, notes in paths.items():
                text = "\n".join(x for x in [title, *evidence, *dict.fromkeys(notes)] if x) or None
                yield Finding(
                    weakness=weakness,
                    asset=asset,
                    observed_at=when,
                    port=port,
                    protocol=protocol,
                    evidence=text,
                    status=status,
                    path=path,
                    since=since,
                )

    def _status(self, f: dict[str, Any], record: str) -> FindingStatus | None:
        """OPEN, FIXED, or None for a suppressed (set aside) finding."""
        text = _text(f.get("status")) or "ACTIVE"
        word = text.upper()
        if word == "SUPPRESSED":
            return None
        status = _STATUS.get(word)
        if status is not None:
            return status
        if common.dismissed(text):
            self.ctx.warn(record, f"status {text[:40]!r} means set aside; left out")
            return None
        return common.odd_status(self.ctx, record, text)

    def _details(
        self, f: dict[str, Any], kind: str, record: str
    ) -> tuple[str, dict[str | None, list[str]], int | None, str | None, list[str]]:
        """The vulnerability id, places (path: evidence lines), port, protocol and evidence of a
        finding by its type; _Skip when it cannot be read."""
        port: int | None = None
        protocol: str | None = None
        evidence: list[str] = []
        paths: dict[str | None, list[str]]
        if kind == "PACKAGE_VULNERABILITY":
            details = _obj(f.get("packageVulnerabilityDetails"))
            vuln_id = _text(details.get("vulnerabilityId"))
            paths = {}
            for p in _list(details.get("vulnerablePackages")):
                p = _obj(p)
                name = _text(p.get("name"))
                if name:
                    fixed = _text(p.get("fixedInVersion"))
                    line = " ".join(
                        x
                        for x in (
                            name,
                            _text(p.get("version")),
                            f"(fixed in {fixed})" if fixed else None,
                            _text(p.get("filePath")),
                        )
                        if x
                    )
                    paths.setdefault(name, []).append(line)
            if not paths:
                paths[None] = []
        elif kind == "CODE_VULNERABILITY":
            details = _obj(f.get("codeVulnerabilityDetails"))
            detector = re.sub(r"@v[\d.]+$", "", _text(details.get("detectorId")) or "")
            vuln_id = _text(details.get("ruleId")) or detector or None
            location = _obj(details.get("filePath"))
            path = _text(location.get("filePath")) or _text(location.get("fileName"))
            lines = "-".join(
                dict.fromkeys(x for x in (_text(location.get("startLine")), _text(location.get("endLine"))) if x)
            )
            paths = {path: [f"{path} line {lines}" if path and lines else path or ""]}
        elif kind == "NETWORK_REACHABILITY":
            details = _obj(f.get("networkReachabilityDetails"))
            vuln_id = "NETWORK_REACHABILITY"
            ports = _obj(details.get("openPortRange"))
            begin, end = _int(ports.get("begin")), _int(ports.get("end"))
            if begin is None and ports.get("begin") is not None:
                self.ctx.warn(
                    f"{record} ({vuln_id})", f"port {str(ports.get('begin'))[:20]!r} is not a number; no port"
                )
            port, protocol = begin, (_text(details.get("protocol")) or "tcp").lower()
            if begin is not None and end is not None and end != begin:
                evidence.append(f"open ports {begin}-{end}/{protocol}")
            paths = {None: []}
        else:
            raise _Skip(f"finding type {kind or 'missing'!r} not supported" if kind else "no finding type")
        if not vuln_id:
            raise _Skip(f"{kind} without a vulnerability or rule id")
        return vuln_id, paths, port, protocol, evidence

    def _asset(self, r: dict[str, Any], f: dict[str, Any]) -> Asset:
        ident = _text(r.get("id")) or ""
        rtype = (_text(r.get("type")) or "").upper()
        region = _text(r.get("region"))
        account = arn_account(ident) or _text(f.get("awsAccountId"))
        key = (rtype, ident, account or "")
        asset = self.assets.get(key)
        if asset is not None:
            return asset
        partition = _text(r.get("partition"))
        details = _obj(r.get("details"))
        kind, name, ip = AssetKind.CLOUD_RESOURCE, ident, None
        if rtype == "AWS_ECR_CONTAINER_IMAGE":
            d = _obj(details.get("awsEcrContainerImage"))
            repo = _text(d.get("repositoryName"))
            if not repo:
                m = re.search(r":repository/(.+?)(?:/sha256:.*)?$", ident)
                repo = m.group(1) if m else image_repository(ident)
            registry = _text(d.get("registry")) or account
            kind, name = AssetKind.CONTAINER_IMAGE, ecr_repository(registry, region, partition, repo)
        elif rtype == "AWS_EC2_INSTANCE":
            name = ec2_instance(ident, account, region, partition)
            ip = usable_ip(_obj(details.get("awsEc2Instance")).get("ipV4Addresses"))
        elif rtype == "AWS_LAMBDA_FUNCTION":
            name = lambda_function(ident)
        asset = self.assets[key] = Asset(kind=kind, name=name, ip=ip, account=account, region=region)
        return asset


def _weakness(ctx: ParseContext, record: str, f: dict[str, Any], kind: str, vuln_id: str) -> Weakness:
    package = _obj(f.get("packageVulnerabilityDetails"))
    code = _obj(f.get("codeVulnerabilityDetails"))
    recommendation = _obj(_obj(f.get("remediation")).get("recommendation"))
    solution = _text(recommendation.get("text"))
    if solution and solution.lower() == "none provided":
        solution = None
    refs = [
        u
        for u in [_text(recommendation.get("Url")), _text(recommendation.get("url")), _text(package.get("sourceUrl"))]
        if u
    ]
    refs += [u for u in (_text(x) for x in _list(package.get("referenceUrls")) + _list(code.get("referenceUrls"))) if u]
    scores: dict[int, tuple[float | None, str | None]] = {}
    adjusted = _obj(_obj(f.get("inspectorScoreDetails")).get("adjustedCvss"))
    for c in [*_list(package.get("cvss")), adjusted]:
        c = _obj(c)
        version_text = _text(c.get("version")) or ""
        version = int(version_text[0]) if version_text[:1] in ("2", "3", "4") else None
        if version is None or version in scores:
            continue
        vector = _text(c.get("scoringVector"))
        vector = cvss.clean_v2(vector) if version == 2 else vector
        score_text = _text(c.get("baseScore")) or _text(c.get("score"))
        scores[version] = (cvss.fill(version, cvss.score(score_text) if score_text else None, vector), vector)
    word = _text(f.get("severity"))
    severity = common.severity_word(word)
    if severity is None:  # UNTRIAGED: no vendor rating; Inspector's own score, else medium
        score_text = _text(f.get("inspectorScore"))
        severity = common.severity_score(cvss.score(score_text) if score_text else None)
        if severity is None:
            known = (word or "").upper() == "UNTRIAGED"
            severity = Severity.MEDIUM if known else common.odd_severity(ctx, record, word)
        elif (word or "").upper() not in _SEVERITIES:
            shown = "missing" if word is None else repr(word[:40])
            ctx.warn(record, f"severity {shown} not recognised; rated by the Inspector score")
    v2, v3, v4 = scores.get(2, (None, None)), scores.get(3, (None, None)), scores.get(4, (None, None))
    name = _text(f.get("title")) or vuln_id
    if kind == "CODE_VULNERABILITY":
        name = _text(code.get("detectorName")) or name
    elif kind == "NETWORK_REACHABILITY":
        name = "Network port reachable"
    return Weakness(
        tool=TOOL,
        vuln_id=vuln_id,
        name=name,
        severity=severity,
        family=kind.replace("_", " ").capitalize() or None,
        description=_text(f.get("description")),
        solution=solution,
        see_also="\n".join(dict.fromkeys(refs)) or None,
        cvss2_score=v2[0],
        cvss2_vector=v2[1],
        cvss3_score=v3[0],
        cvss3_vector=v3[1],
        cvss4_score=v4[0],
        cvss4_vector=v4[1],
        cves=common.cves_in(vuln_id),
        cwes=common.cwes_in(_list(code.get("cwes"))),
        is_config=kind == "NETWORK_REACHABILITY",
    )
