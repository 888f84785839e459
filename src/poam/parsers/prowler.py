"""Prowler cloud posture results: v2 CSV and JSON (JSON Lines, or a single result object), v3
JSON, v3/v4/v5 `;` CSV, and OCSF JSON (AWS, Azure, GCP, Kubernetes); JSON files may hold several
documents one after another (appended outputs).

One configuration finding per check and resource. FAIL is an open finding, PASS a FIXED record
(it closes the finding of a previous run); MANUAL and INFO results (no verdict), WARNING results
(v2/v3: allowlisted) and muted or suppressed results give nothing; ERROR (the check did not run)
gives nothing, with a warning; any other status keeps the result open, with a warning. The asset
is the resource uid: an ARN or an Azure resource id as given (Azure ids
lower-cased: Azure treats them case-insensitively), any other uid as `<account>/<uid>` so that
names such as `root` stay distinct between accounts; results without a resource (v2 CSV) or on the
account itself are on `<account>/<region>` when the result names a region (a run limited to one
region must not pass what failed in another), else on the account. Results that land on the same
check and asset are merged: the newest result decides (its own timestamp, at full precision), and
on equal times (one run) an open one wins over a passing one.

Prowler reports a PASS row for what passes, so the file closes what it shows fixed; it does
not close by coverage (a run may be limited to some checks, services or regions).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any, BinaryIO

from poam.domain.controls import control_id
from poam.domain.models import Asset, AssetKind, Finding, FindingStatus, Scan, Weakness
from poam.errors import InputError
from poam.parsers import common, csvio, jsonio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import arr as _list
from poam.parsers.common import obj as _obj
from poam.parsers.common import text as _text

TOOL = "Prowler"
_STATUS = {"FAIL": FindingStatus.OPEN, "PASS": FindingStatus.FIXED}
_NO_RESULT = frozenset({"MANUAL", "INFO", "WARNING"})
"""Documented statuses that are no verdict on the resource: MANUAL (v4+) and INFO (v2/v3) ask a
person to check; WARNING is how v2 and v3 mark a result of their allowlist."""
_V2_CHECK = re.compile(r"^\s*\[([A-Za-z0-9_.\-]+)\]")
_NIST5 = re.compile(r"^([a-z]{2})_(\d+)(?:_(\d+))?$")
_V2_CSV = {"title_id", "check_result", "title_text"}
_V4_CSV = {"check_id", "status", "status_extended"}
_V3_JSON = {"CheckID", "Status", "StatusExtended"}
_V2_JSON = {"Control", "Control ID", "Status", "Account Number"}
_OCSF = {"metadata", "status_code", "finding_info"}
_EVIDENCE_LIMIT = 20


def _v2_csv_header(names: list[str]) -> bool:
    return set(names) >= _V2_CSV


def _v4_csv_header(names: list[str]) -> bool:
    return set(names) >= _V4_CSV and bool({"finding_uid", "finding_unique_id"} & set(names))


class _Row:
    """One result in a common shape, whatever the variant."""

    def __init__(self, **values: Any) -> None:
        self.label: str = values.get("label", "result")
        self.check: str | None = values.get("check")
        self.status: str = (values.get("status") or "").upper()
        self.muted: bool = bool(values.get("muted"))
        self.severity: str | None = values.get("severity")
        self.title: str | None = values.get("title")
        self.detail: str | None = values.get("detail")
        self.description: str | None = values.get("description")
        self.risk: str | None = values.get("risk")
        self.solution: str | None = values.get("solution")
        self.refs: list[str] = [r for r in values.get("refs", []) if r]
        self.service: str | None = values.get("service")
        self.uid: str | None = values.get("uid")
        self.account: str | None = values.get("account")
        self.region: str | None = values.get("region")
        self.when: dt.datetime | None = values.get("when")
        self.controls: tuple[str, ...] = values.get("controls", ())
        self.version: str | None = values.get("version")


class ProwlerParser:
    """Reader of Prowler's output files (all versions)."""

    id = "prowler"
    name = "Prowler cloud security checks (CSV, JSON, JSON Lines, OCSF)"
    maps_to = "one configuration finding per check and resource; FAIL opens, PASS closes"
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """Prowler's CSV headers, v3 JSON keys, v2 JSON keys (JSON Lines or a single object), or
        OCSF findings from Prowler. An empty array (`[]`) says nothing about its format: import it
        with `--format prowler`."""
        shape = head.json
        if shape.kind == "array":
            if shape.item_keys >= _V3_JSON:
                return True
            return shape.item_keys >= _OCSF and '"Prowler"' in head.text
        if shape.kind == "object":
            return shape.keys >= _V2_JSON
        if head.xml_root:
            return False
        return bool(
            csvio.header_fields(head.text, _v2_csv_header, ",") or csvio.header_fields(head.text, _v4_csv_header, ";")
        )

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the variant the content shows; yield merged findings, then the scan."""
        start = stream.tell()
        head = stream.read(65536)
        stream.seek(start)
        text = head.decode("utf-8-sig", "replace")
        if not text.strip():
            raise InputError(ctx.source, "empty file")
        shape = jsonio.shape(head.removeprefix(b"\xef\xbb\xbf"))
        rows: Iterable[_Row]
        if shape.kind is not None:
            skip = 3 if head.startswith(b"\xef\xbb\xbf") else 0
            stream.seek(start + skip)
            results = jsonio.records(stream, ctx.source, (), lambda _doc: True, "Prowler JSON output")
            rows = _json(results, ctx)
        elif csvio.header_fields(text, _v2_csv_header, ","):
            rows = _numbered(_v2_csv, csvio.rows(stream, ctx, _v2_csv_header, ","))
        elif csvio.header_fields(text, _v4_csv_header, ";"):
            rows = _numbered(_v4_csv, csvio.rows(stream, ctx, _v4_csv_header, ";"))
        else:
            raise InputError(ctx.source, "not a Prowler output file (no Prowler CSV header or JSON findings)")
        yield from _Merge(ctx).run(rows)


def _numbered(read: Callable[[dict[str, str]], _Row], rows: Iterable[dict[str, str]]) -> Iterator[_Row]:
    for number, r in enumerate(rows, start=1):
        row = read(r)
        row.label = f"result {number}"
        yield row


def _json(results: Iterable[Any], ctx: ParseContext) -> Iterator[_Row]:
    """The results of every JSON document of the file, streamed: arrays of v3 or OCSF results, or
    result objects (v2 writes one per line; a file may hold a single one)."""
    number = read = 0
    for item in results:
        number += 1
        label = f"result {number}"
        if not isinstance(item, dict):
            ctx.skip(label, "not a JSON object")
            continue
        if "CheckID" in item:
            row = _v3_json(item)
        elif "status_code" in item or "metadata" in item:
            row = _ocsf(item)
        elif "Control" in item or "Control ID" in item:
            row = _v2_json(item)
        else:
            ctx.skip(label, "neither Prowler v2, v3 nor OCSF fields")
            continue
        read += 1
        row.label = label
        yield row
    if number and not read:
        raise InputError(ctx.source, "not Prowler JSON output: no result has Prowler's v2, v3 or OCSF fields")


def _nist(pairs: Iterable[tuple[str, Iterable[str]]]) -> tuple[str, ...]:
    """NIST SP 800-53 rev. 5 controls from Prowler's compliance mapping (`ac_2_1` -> `AC-2(1)`)."""
    found: dict[str, None] = {}
    for framework, ids in pairs:
        if framework.strip().upper() != "NIST-800-53-REVISION-5":
            continue
        for raw in ids:
            m = _NIST5.match(raw.strip().lower())
            if m:
                text = f"{m.group(1)}-{m.group(2)}" + (f"({m.group(3)})" if m.group(3) else "")
                control = control_id(text)
                if control:
                    found[control] = None
    return tuple(found)


def _compliance_dict(value: object) -> tuple[str, ...]:
    return _nist((k, [str(x) for x in _list(v)]) for k, v in _obj(value).items())


def _compliance_text(value: str) -> tuple[str, ...]:
    pairs = []
    for part in value.split("|"):
        framework, _sep, ids = part.partition(":")
        pairs.append((framework, ids.split(",")))
    return _nist(pairs)


def _v2_check(control: str | None, fallback: str | None) -> str | None:
    m = _V2_CHECK.match(control or "")
    return m.group(1) if m else fallback


def _v2_csv(r: dict[str, str]) -> _Row:
    title = _text(r.get("title_text"))
    return _Row(
        check=_v2_check(title, _text(r.get("title_id"))),
        status=_text(r.get("check_result")),
        severity=_text(r.get("check_severity")),
        title=_V2_CHECK.sub("", title or "").strip() or None,
        detail=_text(r.get("check_result_extended")),
        risk=_text(r.get("check_risk")),
        solution=_text(r.get("check_remediation")),
        refs=[_text(r.get("check_doc"))],
        service=_text(r.get("check_servicename")),
        account=_text(r.get("account_num")),
        region=_text(r.get("region")),
    )


def _v2_json(r: dict[str, Any]) -> _Row:
    control = _text(r.get("Control"))
    return _Row(
        check=_v2_check(control, _text(r.get("Control ID"))),
        status=_text(r.get("Status")),
        severity=_text(r.get("Severity")),
        title=_V2_CHECK.sub("", control or "").strip() or None,
        detail=_text(r.get("Message")),
        risk=_text(r.get("Risk")),
        solution=_text(r.get("Remediation")),
        refs=[_text(r.get("Doc link"))],
        service=_text(r.get("Service")),
        uid=_text(r.get("Resource ID")),
        account=_text(r.get("Account Number")),
        region=_text(r.get("Region")),
        when=common.parse_time(r.get("Timestamp")),
    )


def _v3_json(r: dict[str, Any]) -> _Row:
    recommendation = _obj(_obj(r.get("Remediation")).get("Recommendation"))
    return _Row(
        check=_text(r.get("CheckID")),
        status=_text(r.get("Status")),
        muted=r.get("Muted") is True,
        severity=_text(r.get("Severity")),
        title=_text(r.get("CheckTitle")),
        detail=_text(r.get("StatusExtended")),
        description=_text(r.get("Description")),
        risk=_text(r.get("Risk")),
        solution=_text(recommendation.get("Text")),
        refs=[_text(recommendation.get("Url")), _text(r.get("RelatedUrl"))],
        service=_text(r.get("ServiceName")),
        uid=_text(r.get("ResourceArn")) or _text(r.get("ResourceId")),
        account=_text(r.get("AccountId")),
        region=_text(r.get("Region")),
        when=common.parse_time(r.get("AssessmentStartTime")),
        controls=_compliance_dict(r.get("Compliance")),
    )


def _v4_csv(r: dict[str, str]) -> _Row:
    return _Row(
        check=_text(r.get("check_id")),
        status=_text(r.get("status")),
        muted=(r.get("muted") or "").strip().lower() == "true",
        severity=_text(r.get("severity")),
        title=_text(r.get("check_title")),
        detail=_text(r.get("status_extended")),
        description=_text(r.get("description")),
        risk=_text(r.get("risk")),
        solution=_text(r.get("remediation_recommendation_text")),
        refs=[_text(r.get("remediation_recommendation_url")), _text(r.get("related_url"))],
        service=_text(r.get("service_name")),
        uid=_text(r.get("resource_uid")) or _text(r.get("resource_arn")) or _text(r.get("resource_id")),
        account=_text(r.get("account_uid")) or _text(r.get("account_id")),
        region=_text(r.get("region")),
        when=common.parse_time(r.get("timestamp") or r.get("assessment_start_time")),
        controls=_compliance_text(r.get("compliance") or ""),
        version=_text(r.get("prowler_version")),
    )


def _ocsf(r: dict[str, Any]) -> _Row:
    metadata = _obj(r.get("metadata"))
    info = _obj(r.get("finding_info"))
    cloud = _obj(r.get("cloud"))
    resources = [_obj(x) for x in _list(r.get("resources"))]
    resource = resources[0] if resources else {}
    remediation = _obj(r.get("remediation"))
    unmapped = _obj(r.get("unmapped"))
    when = common.parse_time(r.get("time_dt")) or common.parse_time(r.get("time"))
    when = when or common.parse_time(r.get("event_time")) or common.parse_time(info.get("created_time"))
    return _Row(
        check=_text(metadata.get("event_code")),
        status=_text(r.get("status_code")),
        muted=(_text(r.get("status")) or "").lower() == "suppressed" or unmapped.get("muted") is True,
        severity=_text(r.get("severity")),
        title=_text(info.get("title")),
        detail=_text(r.get("status_detail")) or _text(r.get("message")),
        description=_text(info.get("desc")),
        risk=_text(r.get("risk_details")),
        solution=_text(remediation.get("desc")),
        refs=[_text(x) for x in _list(remediation.get("references"))] + [_text(unmapped.get("related_url"))],
        service=_text(_obj(resource.get("group")).get("name")),
        uid=_text(resource.get("uid")) or _text(resource.get("name")),
        account=_text(_obj(cloud.get("account")).get("uid")),
        region=_text(resource.get("region")) or _text(cloud.get("region")),
        when=when,
        controls=_compliance_dict(unmapped.get("compliance")),
        version=_text(_obj(metadata.get("product")).get("version")),
    )


def asset_for(uid: str | None, account: str | None, region: str | None) -> Asset:
    """The asset a result is about (see the module notes for the naming rule)."""
    if uid and uid.lower().startswith("/subscriptions/"):
        name = uid.lower()
    elif uid and (uid.startswith("arn:") or not account or uid.startswith(f"{account}/")):
        name = uid
    elif uid and uid != account:
        name = f"{account}/{uid}"
    elif region and region.lower() != "global":  # an account-level result of one region's run
        return Asset(kind=AssetKind.CLOUD_RESOURCE, name=f"{account}/{region}", account=account, region=region)
    else:
        return Asset(kind=AssetKind.CLOUD_RESOURCE, name=account, account=account)
    return Asset(kind=AssetKind.CLOUD_RESOURCE, name=name, account=account, region=region)


class _Merge:
    """Findings keyed by identity: an open result wins over a passing one; evidence is merged."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.weaknesses: dict[str, Weakness] = {}
        self.assets: dict[tuple[str | None, str | None, str | None], Asset] = {}
        self.found: dict[tuple[str, Asset], tuple[Finding, list[str]]] = {}

    def run(self, rows: Iterable[_Row]) -> Iterator[Record]:
        first: dt.datetime | None = None
        last: dt.datetime | None = None
        version: str | None = None
        for row in rows:
            version = version or row.version
            record = f"{row.label} ({row.check})" if row.check else row.label
            status = None if row.muted else self._status(row, record)
            if status is None:
                continue
            if not row.check:
                self.ctx.skip(record, "no check id")
                continue
            if not (row.uid or row.account):
                self.ctx.skip(record, "names no resource or account")
                continue
            when = row.when or self.ctx.fallback_time()
            first = min(first, when) if first else when
            last = max(last, when) if last else when
            self._add(row, record, status, when)
        for finding, details in self.found.values():
            evidence = "\n".join(details[:_EVIDENCE_LIMIT]) or None
            if len(details) > _EVIDENCE_LIMIT:
                evidence = f"{evidence}\n... and {len(details) - _EVIDENCE_LIMIT} more"
            yield replace(finding, evidence=evidence)
        yield Scan(tool=TOOL, tool_version=version, name="Prowler scan", started_at=first, ended_at=last)

    def _status(self, row: _Row, record: str) -> FindingStatus | None:
        """FIXED, OPEN, or None for a result that is no verdict (see the module notes)."""
        status = _STATUS.get(row.status)
        if status is not None or row.status in _NO_RESULT:
            return status
        if row.status == "ERROR":
            self.ctx.warn(record, "status 'ERROR': the check did not run; left out")
            return None
        if common.dismissed(row.status):
            self.ctx.warn(record, f"status {row.status[:40]!r} means set aside; left out")
            return None
        return common.odd_status(self.ctx, record, row.status)

    def _add(self, row: _Row, record: str, status: FindingStatus, when: dt.datetime) -> None:
        assert row.check is not None
        key = (row.uid, row.account, row.region)
        asset = self.assets.get(key)
        if asset is None:
            asset = self.assets[key] = asset_for(row.uid, row.account, row.region)
        weakness = self.weaknesses.get(row.check)
        if weakness is None:
            weakness = self.weaknesses[row.check] = _weakness(row, self.ctx, record)
        detail = f"{row.status}: {row.detail}" if row.detail else row.status
        known = self.found.get((row.check, asset))
        if known is None:
            self.found[(row.check, asset)] = (Finding(weakness, asset, when, status=status), [detail])
            return
        finding, details = known
        newer = when > finding.observed_at or (
            when == finding.observed_at and status is FindingStatus.OPEN and finding.status is FindingStatus.FIXED
        )
        if newer and status is not finding.status:  # the newest result decides; its evidence starts anew
            self.found[(row.check, asset)] = (Finding(weakness, asset, when, status=status), [detail])
            return
        if detail not in details:
            details.append(detail)
        if newer:
            self.found[(row.check, asset)] = (replace(finding, observed_at=when), details)


def _weakness(row: _Row, ctx: ParseContext, record: str) -> Weakness:
    assert row.check is not None
    description = "\n\n".join(x for x in (row.description, row.risk) if x) or None
    return Weakness(
        tool=TOOL,
        vuln_id=row.check,
        name=row.title or row.check,
        severity=common.severity_word(row.severity) or common.odd_severity(ctx, record, row.severity),
        family=row.service,
        description=description,
        solution=row.solution,
        see_also="\n".join(dict.fromkeys(row.refs)) or None,
        controls=row.controls,
        is_config=True,
    )
