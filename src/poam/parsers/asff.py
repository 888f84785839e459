"""AWS Security Hub findings in the AWS Security Finding Format (ASFF).

Envelopes: `{"Findings": [...]}` (`aws securityhub get-findings`), `{"findings": [...]}`, a bare
array of findings, several of these one after another (appended pages, in any mix), or bare
finding objects: one per line (Prowler's `json-asff` output) or a single one. Streamed: findings
are built one at a time.

One finding per ASFF finding, resource and vulnerable package. The tool is the producer as
reviewers know it (`Amazon Inspector`, `Amazon GuardDuty`, `AWS Config`, `AWS Security Hub`;
third-party producers such as `Prowler` or `Trivy` as they name themselves), so Security Hub
results reconcile with the same producer's own reports. The vulnerability id is the CVE for
vulnerability findings; for posture findings the control id (`Compliance.SecurityControlId`,
else `ProductFields.ControlId`, else `GeneratorId`); for GuardDuty the finding type.

`Compliance.Status` PASSED or `Workflow.Status` RESOLVED give FIXED records; SUPPRESSED and
ARCHIVED findings (Security Hub archives a finding when its resource is deleted, its control is
disabled or a suppression rule hides it: none shows a fix) and NOT_AVAILABLE checks give nothing,
nor do WARNING results from Prowler (Prowler writes WARNING for a muted result). A value ASFF
does not document keeps the record open, with a warning (one that means set aside, such as
`DISMISSED`, leaves it out).

Each record is dated by its `UpdatedAt` (ASFF requires it; else LastObservedAt, FirstObservedAt,
CreatedAt), at full precision, so that of several records of one finding in a file the newest
decides; FirstObservedAt (else CreatedAt) is the tool's detection time. A time in the future
(sample findings carry year-2200 times) is not an observation: the next field is used, with a
warning. A get-findings export is a filtered list, so nothing closes by coverage and no coverage
is reported.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from poam.domain.controls import control_id
from poam.domain.models import Asset, AssetKind, Finding, FindingStatus, Scan, Severity, Weakness
from poam.parsers import common, cvss, jsonio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import arr as _list
from poam.parsers.common import obj as _obj
from poam.parsers.common import text as _text

_MARKERS = ('"ProductArn"', '"GeneratorId"', '"SchemaVersion"')
_TOOLS = {
    "guardduty": "Amazon GuardDuty",
    "inspector": "Amazon Inspector",
    "security hub": "AWS Security Hub",
    "securityhub": "AWS Security Hub",
    "config": "AWS Config",
    "macie": "Amazon Macie",
    "access analyzer": "AWS IAM Access Analyzer",
    "iam access analyzer": "AWS IAM Access Analyzer",
    "firewall manager": "AWS Firewall Manager",
    "systems manager patch manager": "AWS Systems Manager Patch Manager",
    "health": "AWS Health",
    "detective": "Amazon Detective",
    "prowler": "Prowler",
}
_NIST = re.compile(r"NIST\.800-53\.r[45]\s+(.+)")
_BOM = b"\xef\xbb\xbf"
_FINDING_KEYS = frozenset({"ProductArn", "GeneratorId", "SchemaVersion"})
_NOT_ASFF = 'ASFF: expected a Findings array, {"Findings": [...]} or an ASFF finding'


def _is_finding(doc: dict[str, Any]) -> bool:
    return bool(doc.keys() & _FINDING_KEYS)


def _score(value: object) -> float | None:
    text = _text(value)
    return cvss.score(text) if text else None


def arn_account(arn: str | None) -> str | None:
    """The account field of an ARN (`arn:partition:service:region:account:...`)."""
    parts = (arn or "").split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[4]:
        return parts[4]
    return None


def image_repository(image: str) -> str:
    """An image reference without tag or digest: `reg:5000/a/b:1.2@sha256:..` -> `reg:5000/a/b`."""
    name = image.strip().split("@", 1)[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return name[:colon] if colon > slash else name


def ecr_repository(registry: str | None, region: str | None, partition: str | None, repo: str) -> str:
    """The registry URI of an ECR repository, as `docker pull` and other scanners name it."""
    if not registry or not region:
        return repo
    domain = "amazonaws.com.cn" if (partition or "").startswith("aws-cn") else "amazonaws.com"
    return f"{registry}.dkr.ecr.{region}.{domain}/{repo}"


def lambda_function(arn: str) -> str:
    """A Lambda function ARN without its version or alias qualifier (`:$LATEST`, `:12`)."""
    parts = arn.split(":")
    return ":".join(parts[:7]) if len(parts) > 7 and parts[0] == "arn" and parts[5] == "function" else arn


def ec2_instance(ident: str, account: str | None, region: str | None, partition: str | None) -> str:
    """An EC2 instance's ARN from an id or a (possibly malformed) ARN, when account and region are known."""
    instance = re.split(r"[/:]", ident)[-1]
    if instance.startswith("i-") and account and region:
        return f"arn:{partition or 'aws'}:ec2:{region}:{account}:instance/{instance}"
    return ident


def usable_ip(values: object) -> str | None:
    """The first real address of a list (not 0.0.0.0 or ::, which samples and stopped instances carry)."""
    for value in _list(values):
        text = _text(value)
        try:
            if text and not ipaddress.ip_address(text).is_unspecified:
                return text
        except ValueError:
            continue
    return None


class AsffParser:
    """Reader of AWS Security Hub ASFF findings (get-findings output, arrays, bare findings)."""

    id = "asff"
    name = "AWS Security Hub findings (ASFF JSON)"
    maps_to = "one finding per ASFF finding, resource and package; CVE or control id; PASSED/RESOLVED close"
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """`{"Findings": [...]}`, or `{"findings": [...]}`/an array whose findings carry ASFF's
        ProductArn, GeneratorId and SchemaVersion, or such a finding as a bare object (one per
        line, as Prowler's `json-asff` writes them, or a single one)."""
        shape = head.json
        asff_items = all(m in head.text for m in _MARKERS) and '"findingArn"' not in head.text
        if shape.kind == "object":
            if "Findings" in shape.keys or shape.keys >= _FINDING_KEYS:
                return True
            return "findings" in shape.keys and asff_items
        if shape.kind == "array":
            return shape.item_keys >= _FINDING_KEYS
        return False

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Stream the findings of every document (page, array or bare finding); yield findings,
        then the scan."""
        start = stream.tell()
        skip = len(_BOM) if stream.read(len(_BOM)) == _BOM else 0
        stream.seek(start + skip)
        state = _State(ctx)
        found = jsonio.records(stream, ctx.source, ("Findings", "findings"), _is_finding, _NOT_ASFF)
        for number, item in enumerate(found, start=1):
            if not isinstance(item, dict):
                ctx.skip(f"finding {number}", "not a JSON object")
                continue
            yield from state.finding(item, number)
        tools = sorted(state.tools)
        tool = tools[0] if len(tools) == 1 else "AWS Security Hub"
        yield Scan(tool=tool, name="Security Hub findings", started_at=state.first, ended_at=state.last)


class _State:
    """Caches and the time window of one file."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.weaknesses: dict[tuple[str, str], Weakness] = {}
        self.passed: dict[tuple[str, str], Weakness] = {}
        self.assets: dict[tuple[str, ...], Asset] = {}
        self.tools: set[str] = set()
        self.first: dt.datetime | None = None
        self.last: dt.datetime | None = None

    def finding(self, f: dict[str, Any], number: int) -> Iterator[Finding]:
        ctx = self.ctx
        tool = _tool(f)
        vulns = [v for v in _list(f.get("Vulnerabilities")) if isinstance(v, dict) and _text(v.get("Id"))]
        vuln_id = _vuln_id(f, tool, vulns)
        record = f"finding {number} ({vuln_id})" if vuln_id else f"finding {number}"
        status = _status(ctx, record, f, tool)
        if status is None:
            return
        if not vuln_id:
            ctx.skip(record, "no GeneratorId, control id or vulnerability id")
            return
        resources = [r for r in _list(f.get("Resources")) if isinstance(r, dict)]
        usable = [r for r in resources if _text(r.get("Id"))]
        if not usable:
            ctx.skip(record, "a resource without Id" if resources else "no Resources")
            return
        if len(usable) < len(resources):
            ctx.warn(record, f"{len(resources) - len(usable)} resource(s) without Id left out")
        self.tools.add(tool)
        when = record_time(ctx, record, f, _TIME_FIELDS)
        since = _since(f, _SINCE_FIELDS, when)
        self.first = min(self.first, when) if self.first else when
        self.last = max(self.last, when) if self.last else when
        # a passed control is rated INFORMATIONAL: failing results are rated by failing records only
        cache = self.weaknesses if status is FindingStatus.OPEN else self.passed
        weakness = cache.get((tool, vuln_id))
        if weakness is None:
            weakness = cache[(tool, vuln_id)] = _weakness(ctx, record, f, tool, vuln_id, vulns)
        packages: dict[str, list[str]] = {}
        for v in vulns:
            for p in _list(v.get("VulnerablePackages")):
                p = _obj(p)
                name = _text(p.get("Name"))
                if name:
                    detail = " ".join(
                        x
                        for x in (
                            name,
                            _text(p.get("Version")),
                            f"(fixed in {_text(p.get('FixedInVersion'))})" if _text(p.get("FixedInVersion")) else None,
                            _text(p.get("FilePath")),
                        )
                        if x
                    )
                    packages.setdefault(name, []).append(detail)
        base = "\n".join(x for x in (_text(f.get("Title")), _reasons(f)) if x)
        for resource in usable:
            asset = self._asset(resource, f)
            for path, details in packages.items() or [(None, [])]:
                evidence = "\n".join([base, *dict.fromkeys(details)]).strip() or None
                yield Finding(
                    weakness=weakness,
                    asset=asset,
                    observed_at=when,
                    evidence=evidence,
                    status=status,
                    path=path,
                    since=since,
                )

    def _asset(self, r: dict[str, Any], f: dict[str, Any]) -> Asset:
        ident = _text(r.get("Id")) or ""
        rtype = _text(r.get("Type")) or ""
        region = _text(r.get("Region")) or _text(f.get("Region"))
        partition = _text(r.get("Partition"))
        account = arn_account(ident) or _text(f.get("AwsAccountId"))
        key = (rtype, ident, region or "", account or "")
        asset = self.assets.get(key)
        if asset is not None:
            return asset
        details = _obj(r.get("Details"))
        kind, ip = AssetKind.CLOUD_RESOURCE, None
        name = ident
        if rtype == "AwsEcrContainerImage":
            d = _obj(details.get("AwsEcrContainerImage"))
            repo = _text(d.get("RepositoryName"))
            if not repo:
                m = re.search(r":repository/(.+?)(?:/sha256:.*)?$", ident)
                repo = m.group(1) if m else image_repository(ident)
            kind, name = (
                AssetKind.CONTAINER_IMAGE,
                ecr_repository(_text(d.get("RegistryId")) or account, region, partition, repo),
            )
        elif rtype == "Container":
            image = _text(_obj(details.get("Container")).get("ImageName")) or ident
            kind, name = AssetKind.CONTAINER_IMAGE, image_repository(image)
        elif rtype == "AwsEc2Instance":
            name = ec2_instance(ident, account, region, partition)
            ip = usable_ip(_obj(details.get("AwsEc2Instance")).get("IpV4Addresses"))
        elif rtype == "AwsLambdaFunction":
            name = lambda_function(ident)
        asset = self.assets[key] = Asset(kind=kind, name=name, ip=ip, account=account, region=region)
        return asset


_WORKFLOW = frozenset({"NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"})
_WORKFLOW_STATE = frozenset({"NEW", "ASSIGNED", "IN_PROGRESS", "DEFERRED", "RESOLVED"})  # before Workflow
_COMPLIANCE = frozenset({"PASSED", "WARNING", "FAILED", "NOT_AVAILABLE"})
_RECORD_STATE = frozenset({"ACTIVE", "ARCHIVED"})


def _status(ctx: ParseContext, record: str, f: dict[str, Any], tool: str) -> FindingStatus | None:
    """FIXED, OPEN, or None for a record that is no result (suppressed, not available, muted)."""
    workflow = _text(_obj(f.get("Workflow")).get("Status"))
    known_workflow = _WORKFLOW
    if workflow is None:
        workflow, known_workflow = _text(f.get("WorkflowState")), _WORKFLOW_STATE
    compliance = _text(_obj(f.get("Compliance")).get("Status"))
    state = _text(f.get("RecordState"))
    odd: list[str] = []
    for value, known in ((workflow, known_workflow), (compliance, _COMPLIANCE), (state, _RECORD_STATE)):
        if value is not None and value.upper() not in known:
            if common.dismissed(value):
                ctx.warn(record, f"status {value[:40]!r} means set aside; left out")
                return None
            odd.append(value)
    workflow_u, compliance_u, state_u = ((x or "").upper() for x in (workflow, compliance, state))
    if workflow_u == "SUPPRESSED":
        return None
    if compliance_u == "PASSED" or workflow_u == "RESOLVED":
        for value in odd:
            ctx.warn(record, f"status {value[:40]!r} not recognised; ignored")
        return FindingStatus.FIXED
    if state_u == "ARCHIVED":
        # Security Hub archives a finding whose resource was deleted, whose control was disabled,
        # or that a suppression rule hid: none of these shows the weakness fixed.
        return None
    if compliance_u == "NOT_AVAILABLE" or (compliance_u == "WARNING" and tool == "Prowler"):
        return None  # no result; Prowler writes WARNING for a muted result
    if odd:
        return common.odd_status(ctx, record, odd[0])
    return FindingStatus.OPEN


def _tool(f: dict[str, Any]) -> str:
    fields = _obj(f.get("ProductFields"))
    product = (
        _text(f.get("ProductName"))
        or _text(fields.get("aws/securityhub/ProductName"))
        or _text(fields.get("ProviderName"))  # Prowler's own json-asff output
        or (_text(f.get("ProductArn")) or "").rsplit("/", 1)[-1]
        or "Security Hub"
    )
    return _TOOLS.get(product.lower(), product)


def _vuln_id(f: dict[str, Any], tool: str, vulns: list[dict[str, Any]]) -> str | None:
    if vulns:
        return _text(vulns[0].get("Id"))
    types = [t for t in (_text(x) for x in _list(f.get("Types"))) if t]
    generator = _text(f.get("GeneratorId")) or ""
    if any("/Vulnerabilities/" in t for t in types):
        found = common.cves_in(generator, _text(f.get("Title")))
        if found:
            return found[0]
    if tool == "Amazon GuardDuty" and types:
        return types[0].rsplit("/", 1)[-1]
    control = _text(_obj(f.get("Compliance")).get("SecurityControlId")) or _text(
        _obj(f.get("ProductFields")).get("ControlId")
    )
    if control:
        return control
    if tool == "Prowler" and generator.startswith("prowler-"):
        return generator.removeprefix("prowler-")  # Prowler's own check id, as its reports give it
    return generator or None


_TIME_FIELDS = ("UpdatedAt", "LastObservedAt", "FirstObservedAt", "CreatedAt")
_SINCE_FIELDS = ("FirstObservedAt", "CreatedAt")
FUTURE_SLACK = dt.timedelta(days=1)
"""How far past the present a record's time may be (clocks differ) before it is not believed."""


def record_time(ctx: ParseContext, record: str, f: dict[str, Any], fields: tuple[str, ...]) -> dt.datetime:
    """A record's own time, at full precision: the first of `fields` that is a readable time not
    in the future (sample findings carry year-2200 times), with a warning for each one passed
    over; when none is, `ctx.fallback_time()`."""
    limit = dt.datetime.now(dt.UTC).replace(tzinfo=None) + FUTURE_SLACK
    passed_over: list[str] = []
    for name in fields:
        raw = f.get(name)
        if raw is None or raw == "":
            continue
        when = common.parse_time(raw)
        if when is not None and when <= limit:
            for problem in passed_over:
                ctx.warn(record, f"{problem}; dated by {name}")
            return when
        shown = str(raw)[:40]
        passed_over.append(f"{name} {shown!r} " + ("is in the future" if when else "is not a date"))
    for problem in passed_over:
        ctx.warn(record, f"{problem}; dated by the file")
    return ctx.fallback_time()


def _since(f: dict[str, Any], fields: tuple[str, ...], when: dt.datetime) -> dt.datetime | None:
    """When the tool first detected the finding, if the record says so and it is not after `when`."""
    for name in fields:
        first = common.parse_time(f.get(name))
        if first is not None:
            return first if first <= when else None
    return None


def _reasons(f: dict[str, Any]) -> str | None:
    parts = [_text(_obj(r).get("Description")) for r in _list(_obj(f.get("Compliance")).get("StatusReasons"))]
    return "\n".join(p for p in parts if p) or None


def _severity(ctx: ParseContext, record: str, f: dict[str, Any]) -> Severity:
    sev = _obj(f.get("Severity"))
    word = common.severity_word(_text(sev.get("Label"))) or common.severity_word(_text(sev.get("Original")))
    if word is not None:
        return word
    try:  # Normalized is 0-100
        normalized = float(str(sev.get("Normalized")).strip()) / 10
    except ValueError:
        normalized = -1.0
    found = common.severity_score(normalized) if 0 <= normalized <= 10 else None
    return found or common.odd_severity(ctx, record, sev.get("Label") or sev.get("Original") or sev.get("Normalized"))


def _weakness(
    ctx: ParseContext, record: str, f: dict[str, Any], tool: str, vuln_id: str, vulns: list[dict[str, Any]]
) -> Weakness:
    recommendation = _obj(_obj(f.get("Remediation")).get("Recommendation"))
    solution = _text(recommendation.get("Text"))
    if solution and solution.lower() == "none provided":
        solution = None
    scores: dict[int, tuple[float | None, str | None]] = {}
    refs: list[str] = [u for u in [_text(recommendation.get("Url"))] if u]
    for v in vulns:
        refs += [u for u in (_text(x) for x in _list(v.get("ReferenceUrls"))) if u]
        for c in _list(v.get("Cvss")):
            c = _obj(c)
            version_text = _text(c.get("Version")) or ""
            version = int(version_text[0]) if version_text[:1] in ("2", "3", "4") else None
            vector = _text(c.get("BaseVector"))
            if version is None or version in scores:
                continue
            vector = cvss.clean_v2(vector) if version == 2 else vector
            scores[version] = (cvss.fill(version, _score(c.get("BaseScore")), vector), vector)
    related = [_text(x) or "" for x in _list(_obj(f.get("Compliance")).get("RelatedRequirements"))]
    controls = tuple(dict.fromkeys(c for m in map(_NIST.match, related) if m for c in [control_id(m.group(1))] if c))
    types = [t for t in (_text(x) for x in _list(f.get("Types"))) if t]
    is_vuln = bool(vulns) or any("/Vulnerabilities/" in t for t in types)
    is_config = not is_vuln and (
        bool(_obj(f.get("Compliance"))) or any("Standards" in t or "Best Practices" in t for t in types)
    )
    v2, v3, v4 = scores.get(2, (None, None)), scores.get(3, (None, None)), scores.get(4, (None, None))
    return Weakness(
        tool=tool,
        vuln_id=vuln_id,
        name=_text(f.get("Title")) or vuln_id,
        severity=_severity(ctx, record, f),
        family=types[0] if types else None,
        description=_text(f.get("Description")),
        solution=solution,
        see_also="\n".join(dict.fromkeys(refs)) or None,
        cvss2_score=v2[0],
        cvss2_vector=v2[1],
        cvss3_score=v3[0],
        cvss3_vector=v3[1],
        cvss4_score=v4[0],
        cvss4_vector=v4[1],
        cves=tuple(dict.fromkeys(c for v in vulns for c in common.cves_in(_text(v.get("Id"))))),
        controls=controls,
        is_config=is_config,
    )
