"""Fortify SCA report XML (`<ReportDefinition>`, the report a Fortify server or Audit Workbench
exports): the issues the report lists. See `poam.parsers.fortify` for what a finding is; a report
is filtered, so it closes nothing by absence."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from poam.domain.models import Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.codescan import hits_text, max_severity, repo_path, repository
from poam.parsers.fortify import (
    _ANALYSIS_OPEN,
    _NOT_AN_ISSUE,
    FALLBACK_ASSET,
    TOOL,
    _child,
    _children,
    _line,
    _local,
    _markup,
    _text,
)
from poam.parsers.xmlsafe import iterparse, release

_PRIORITY = {"critical": Severity.CRITICAL, "high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW}
_REVIEW = re.compile(r"^On (.+?), a source code review was performed over the (.+?) code base", re.DOTALL)


@dataclass
class _Issue:
    label: str
    rule_id: str
    category: str | None
    kingdom: str | None
    severity: Severity
    path: str | None
    hit: str
    status: FindingStatus
    about: dict[str, str | None]


class FortifyReportXmlParser:
    """Reader of a Fortify Security Report in XML (`<ReportDefinition>`)."""

    id = "fortify-xml"
    name = "Fortify SCA report XML (ReportDefinition)"
    maps_to = (
        "one finding per rule and file of the issues the report lists, on --asset, else the project the report "
        "names, else 'Fortify project'; Not an Issue set aside; closes nothing by absence"
    )
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """Root `<ReportDefinition>` of a Fortify template (the name Fortify, or issues with a ruleID)."""
        if head.xml_root != "ReportDefinition":
            return False
        return "fortify" in head.text.lower() or "ruleID=" in head.text

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """The issues of every listing of the report, one finding per rule and file."""
        project: str | None = None
        when: dt.datetime | None = None
        checked = False
        seen: set[str] = set()
        issues: list[_Issue] = []
        about: dict[str, dict[str, str | None]] = {}
        count = 0
        tags = ("{*}ReportDefinition", "{*}Text", "{*}MajorAttributeSummary", "{*}Issue")
        for event, el in iterparse(stream, ctx.source, tags, ("start", "end")):
            if not checked:
                root = _local(el.getroottree().getroot())
                if root != "ReportDefinition":
                    raise InputError(ctx.source, f"not a Fortify report (root element <{root[:40]}>)")
                checked = True
            name = _local(el)
            if event == "start":
                continue
            if name == "Text" and project is None:
                m = _REVIEW.match((el.text or "").strip())
                if m:
                    when = common.parse_time(m.group(1).strip())
                    project = common.clean(m.group(2))
                release(el)
            elif name == "MajorAttributeSummary":
                title = _text(el.getparent(), "groupTitle") if el.getparent() is not None else None
                meta = {_text(m, "Name"): _text(m, "Value") for m in _children(el, "MetaInfo")}
                if title:
                    about.setdefault(title, {k.lower(): _markup(v) for k, v in meta.items() if k})
                release(el)
            elif name == "Issue":
                count += 1
                issue = _report_issue(el, f"issue {count}", about, ctx)
                iid = el.get("iid") or ""
                if issue is not None and not (iid and iid in seen):  # listed in two sections: once
                    seen.add(iid)
                    issues.append(issue)
                release(el)
        if not checked:
            raise InputError(ctx.source, "not a Fortify report")
        asset = repository(ctx.asset_name or project, ctx, FALLBACK_ASSET)
        when = when or ctx.fallback_time()
        groups: dict[tuple[str, str | None], list[_Issue]] = {}
        for issue in issues:
            groups.setdefault((issue.rule_id, issue.path), []).append(issue)
        weaknesses: dict[str, Weakness] = {}
        for (rule_id, path), listed in groups.items():
            open_ = [i for i in listed if i.status is FindingStatus.OPEN]
            deciding = open_ or listed
            weakness = weaknesses.get(rule_id)
            if weakness is None:
                of_rule = [i for k, v in groups.items() if k[0] == rule_id for i in v]
                rated = [i.severity for i in of_rule if i.status is FindingStatus.OPEN] or [i.severity for i in of_rule]
                weakness = weaknesses[rule_id] = _report_weakness(deciding[0], max_severity(rated))
            status = FindingStatus.OPEN if open_ else FindingStatus.SET_ASIDE
            yield Finding(
                weakness, asset, when, evidence=hits_text([i.hit for i in deciding]), status=status, path=path
            )
        yield Scan(TOOL, None, project, when, when)


def _report_issue(el: Any, label: str, about: dict[str, dict[str, str | None]], ctx: ParseContext) -> _Issue | None:
    rule_id = common.clean(el.get("ruleID"))
    if rule_id is None:
        ctx.skip(label, "has no ruleID")
        return None
    label = f"{label} ({rule_id[:60]})"
    category = _text(el, "Category")
    word = _text(el, "Friority") or _text(el, "Folder")
    severity = (
        _PRIORITY.get((word or "").lower()) or common.severity_word(word) or common.odd_severity(ctx, label, word)
    )
    primary = _child(el, "Primary")
    path = repo_path(_text(primary, "FilePath") or _text(primary, "FileName"))
    line = _line(_text(primary, "LineStart")) if primary is not None else None
    if path is None:
        ctx.warn(label, "names no file; kept on the project itself")
    analysis = next(
        (_text(t, "Value") for t in _children(el, "Tag") if (_text(t, "Name") or "").lower() == "analysis"), None
    )
    status = FindingStatus.OPEN
    word_ = " ".join((analysis or "").lower().split())
    if word_ == _NOT_AN_ISSUE:
        status = FindingStatus.SET_ASIDE
    elif analysis and word_ not in _ANALYSIS_OPEN:
        if common.dismissed(word_):
            ctx.warn(label, f"Analysis {analysis[:40]!r} read as set aside")
            status = FindingStatus.SET_ASIDE
        else:
            ctx.warn(label, f"Analysis {analysis[:40]!r} is not one of Fortify's; kept open")
    abstract = " ".join((_text(el, "Abstract") or "").split())
    hit = f"Line {line}" if line is not None else "Location"
    hit = f"{hit}: {abstract}" if abstract else hit
    iid = el.get("iid")
    hit += f" (instance {iid})" if iid else ""
    group = about.get(category or "", {})
    details = {**group, "kingdom": _text(el, "Kingdom"), "abstract": group.get("abstract") or abstract or None}
    return _Issue(label, rule_id, category, _text(el, "Kingdom"), severity, path, hit, status, details)


def _report_weakness(issue: _Issue, severity: Severity) -> Weakness:
    about = issue.about
    return Weakness(
        tool=TOOL,
        vuln_id=issue.rule_id,
        name=(issue.category or issue.rule_id)[:200],
        severity=severity,
        family=issue.kingdom,
        synopsis=about.get("abstract"),
        description=about.get("explanation") or about.get("abstract"),
        solution=about.get("recommendations"),
    )
