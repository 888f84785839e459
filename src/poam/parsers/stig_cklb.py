"""DISA STIG Viewer 3 checklists (`.cklb`, JSON): the same reviews as a `.ckl`, in JSON.

`target_data` is the target, `stigs[].rules[]` the reviews. The rules map as in `stig_ckl`: the
vulnerability id is the Vuln ID (`group_id`), the tool is `DISA STIG Viewer` (or `Evaluate-STIG`
when the file carries an `evaluate-stig` result-engine object), so `.ckl` and `.cklb` checklists of
one target feed the same POA&M items. `open` is an open finding, `not_a_finding` and
`not_applicable` are FIXED, `not_reviewed` yields nothing. A rule's `updatedAt` (else
`createdAt`, else the Evaluate-STIG time, else `--scan-date`, else the file's modification
time) dates it; of several reviews of one rule for one target, the newest decides (on equal
times an open one). A file may hold several checklists, written one after another or one per
line: each is read as its own target, and the file is one scan.

Lenient on values as `stig_ckl` is: an unknown status is set aside when it says so, else open,
with a warning; a missing or unknown severity is medium, with a warning; a rule or STIG that is
not an object, or a rule without group_id or rule_id (or with one longer than 200 characters),
is left out with a warning. A checklist with no target name (give `--asset`), no target_data
object or no stigs array, and a STIG whose `rules` is not an array, are refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from poam.domain.models import Asset, Checks, Coverage, Finding, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, jsonio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.stig_ckl import (
    EVALUATE_STIG,
    TOOL,
    Results,
    evidence,
    listed_severity,
    override_severity,
    site_path,
    stig_status,
    stig_weakness,
    target_asset,
    usable_id,
    vuln_id_of,
)

MAX_DOCUMENT = 256 * 1024 * 1024
_RULE_FIELDS = {  # cklb key -> ckl STIG_DATA attribute (lower-case), as `stig_weakness` reads them
    "rule_title": "rule_title",
    "group_title": "group_title",
    "rule_version": "rule_ver",
    "discussion": "vuln_discuss",
    "check_content": "check_content",
    "fix_text": "fix_text",
    "stig_ref": "stigref",
}


def _str(value: object) -> str:
    """Text of a scalar (STIG Viewer writes `version` as a number or a string); empty otherwise."""
    if isinstance(value, str):
        text = value.strip()
        return "" if text.lower() == "null" else text  # Evaluate-STIG writes "null" for absent fields
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _engine(doc: dict[str, Any], stigs: list[Any]) -> tuple[str, str | None, dt.datetime | None]:
    """Tool, version and time from the `evaluate-stig` objects (root and per STIG)."""
    root = doc.get("evaluate-stig")
    per_stig = [s["evaluate-stig"] for s in stigs if isinstance(s, dict) and isinstance(s.get("evaluate-stig"), dict)]
    if not isinstance(root, dict) and not per_stig:
        return TOOL, None, None
    version = _str(root.get("version")) if isinstance(root, dict) else ""
    times = [t for e in per_stig if (t := common.parse_time(_str(e.get("time"))))]
    if isinstance(root, dict) and (t := common.parse_time(_str(root.get("time")))):
        times.append(t)
    return EVALUATE_STIG, version[:100] or None, min(times) if times else None


class StigCklbParser:
    """Reader of DISA STIG Viewer 3 `.cklb` checklists."""

    id = "stig-cklb"
    name = "DISA STIG Viewer 3 checklist (.cklb JSON)"
    maps_to = "one configuration finding per STIG Vuln ID and target; not_a_finding/not_applicable close it"
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """A JSON object with `target_data` and checklist keys, or `stigs` whose rules have `group_id`
        (the first of several checklists written one after another or one per line)."""
        shape = head.json
        if shape.kind != "object":
            return False
        if "target_data" in shape.keys and shape.keys & {"stigs", "has_path", "cklb_version", "evaluate-stig"}:
            return True
        return "stigs" in shape.keys and '"group_id"' in head.text and '"rule_id' in head.text

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the checklist (or each of several written one after another, or one per line);
        yield each target's coverage, its findings, then one scan for the file."""
        tools: list[tuple[str, str | None]] = []
        names: list[str] = []
        titles: list[str] = []
        times: list[dt.datetime] = []
        for n, doc in enumerate(jsonio.documents(stream, ctx.source, MAX_DOCUMENT), start=1):
            where = f"document {n}: " if n > 1 else ""
            checklist = _Checklist(doc, ctx, where)
            tools.append((checklist.tool, checklist.version))
            for record in checklist.records(self._rule, tools[0][0]):
                if isinstance(record, Coverage):
                    times += [t for t in (record.started_at, record.ended_at) if t]
                yield record
            names += [t for t in checklist.names if t not in names]
            titles += [checklist.title] if checklist.title else []
        tool, version = tools[0]
        name = ", ".join(names)[:500] or (titles[0] if titles else None)
        first, last = (min(times), max(times)) if times else (None, None)
        yield Scan(tool=tool, tool_version=version, name=name, started_at=first, ended_at=last)

    def _rule(
        self,
        rule: dict[str, Any],
        stig: dict[str, Any],
        title: str | None,
        asset: Asset,
        path: str | None,
        when: Callable[[], dt.datetime],
        tool: str,
        weaknesses: dict[tuple[str, Severity], Weakness],
        ctx: ParseContext,
        where: str,
    ) -> Finding | None:
        rule_id = _str(rule.get("rule_id_src")) or _str(rule.get("rule_id"))
        vuln_id = vuln_id_of(_str(rule.get("group_id")), rule_id)
        record = where + (f" ({vuln_id[:60]})" if vuln_id else "")
        status = stig_status(rule.get("status"), ctx, record)
        if status is None:
            return None
        vuln_id = usable_id(vuln_id, ctx, record, "group_id or rule_id")
        if vuln_id is None:
            return None
        listed = listed_severity(rule.get("severity"), ctx, record)
        override, reason = _override(rule.get("overrides"), ctx, record)
        severity = override or listed
        weakness = weaknesses.get((vuln_id, severity))
        if weakness is None:
            fields: dict[str, object] = {ckl: _str(rule.get(key)) for key, ckl in _RULE_FIELDS.items()}
            fields["rule_id"] = rule_id
            if not fields["stigref"] and title:
                release = " ".join(p for p in (_str(stig.get("version")), _str(stig.get("release_info"))) if p)
                fields["stigref"] = f"{title} :: Version {release}" if release else title
            ccis = rule.get("ccis")
            weakness = stig_weakness(tool, vuln_id, severity, fields, ccis if isinstance(ccis, list) else (), title)
            weaknesses[(vuln_id, severity)] = weakness
        note = None
        if override and override is not listed:
            note = f"{listed.value} -> {override.value}" + (f" ({reason})" if reason else "")
        seen = common.parse_time(_str(rule.get("updatedAt"))) or common.parse_time(_str(rule.get("createdAt")))
        return Finding(
            weakness=weakness,
            asset=asset,
            observed_at=seen or when(),
            evidence=evidence(
                ("", _str(rule.get("finding_details"))),
                ("Comments", _str(rule.get("comments"))),
                ("Severity override", note),
            ),
            status=status,
            path=path,
        )


def _override(value: object, ctx: ParseContext, record: str) -> tuple[Severity | None, str | None]:
    """A severity override: `{"severity": {"severity": "low", "reason": "..."}}` (STIG Viewer 3),
    or a bare `{"severity": "low"}`."""
    if not isinstance(value, dict):
        return None, None
    entry = value.get("severity")
    if isinstance(entry, dict):
        return override_severity(entry.get("severity"), ctx, record), _str(entry.get("reason")) or None
    return override_severity(entry, ctx, record), None


RuleReader = Callable[..., Finding | None]


def _constant(when: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: when


class _Checklist:
    """One checklist document: its target, result engine and STIG names, read on creation;
    `records` yields its coverage and findings."""

    def __init__(self, doc: object, ctx: ParseContext, where: str) -> None:
        self.ctx, self.where = ctx, where
        if not isinstance(doc, dict):
            raise InputError(ctx.source, f"{where}not a STIG Viewer 3 checklist (the JSON is not an object)")
        target = doc.get("target_data")
        if not isinstance(target, dict):
            raise InputError(ctx.source, f"{where}checklist has no target_data object")
        stigs = doc.get("stigs")
        if not isinstance(stigs, list):
            raise InputError(ctx.source, f"{where}checklist has no stigs array")
        self.stigs = stigs
        host = target.get("host_name")
        self.asset = target_asset(
            host if isinstance(host, str) else None,
            [_str(target.get("ip_address"))],
            [_str(target.get("fqdn"))],
            [_str(target.get("mac_address"))],
            _str(target.get("target_type")).lower() == "non-computing",
            ctx,
            "target_data.host_name",
        )
        self.path = site_path(target.get("is_web_database"), target.get("web_db_site"), target.get("web_db_instance"))
        self.tool, self.version, self.engine_time = _engine(doc, stigs)
        self.names: list[str] = []
        self.title = _str(doc.get("title"))[:500] or None
        self._fallback: dt.datetime | None = None

    def fallback(self) -> dt.datetime:
        """The time of a rule the checklist does not date: the Evaluate-STIG time, else
        `ctx.fallback_time()` (asked once, and only when a rule needs it)."""
        if self.engine_time is not None:
            return self.engine_time
        if self._fallback is None:
            self._fallback = self.ctx.fallback_time()
        return self._fallback

    def records(self, read_rule: RuleReader, file_tool: str) -> Iterator[Coverage | Finding]:
        """The target's coverage (over the times of its findings), then its findings."""
        ctx, where = self.ctx, self.where
        results = Results()
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        for n, stig in enumerate(self.stigs):
            if not isinstance(stig, dict):
                ctx.skip(f"{where}stigs[{n}]", "not an object")
                continue
            title = _str(stig.get("stig_name")) or _str(stig.get("display_name")) or None
            if title and title not in self.names:
                self.names.append(title)
            es = stig.get("evaluate-stig")
            stig_time = common.parse_time(_str(es.get("time"))) if isinstance(es, dict) else None
            rules = stig.get("rules")
            if rules is None:
                continue
            if not isinstance(rules, list):
                raise InputError(ctx.source, f"{where}stigs[{n}].rules is not an array")
            when = _constant(stig_time) if stig_time else self.fallback
            for m, rule in enumerate(rules):
                record = f"{where}stigs[{n}].rules[{m}]"
                if not isinstance(rule, dict):
                    ctx.skip(record, "not an object")
                    continue
                finding = read_rule(rule, stig, title, self.asset, self.path, when, self.tool, weaknesses, ctx, record)
                if finding is not None:
                    results.add(finding)
        times = [f.observed_at for f in results] or [self.fallback()]
        tool = self.tool if self.tool != file_tool else None
        yield Coverage(self.asset, min(times), max(times), None, Checks.CONFIGURATION, tool)
        yield from results
