"""DISA STIG Viewer 3 checklists (`.cklb`, JSON): the same reviews as a `.ckl`, in JSON.

`target_data` is the target, `stigs[].rules[]` the reviews. The rules map as in `stig_ckl`: the
vulnerability id is the Vuln ID (`group_id`), the tool is `DISA STIG Viewer` (or `Evaluate-STIG`
when the file carries an `evaluate-stig` result-engine object), so `.ckl` and `.cklb` checklists of
one target feed the same POA&M items. `open` is an open finding, `not_a_finding` and
`not_applicable` are FIXED, `not_reviewed` yields nothing. A rule's `updatedAt` (else
`createdAt`, else the Evaluate-STIG time, else `--scan-date` or the file time) dates it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, BinaryIO

from poam.domain.models import Asset, Checks, Coverage, Finding, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, jsonio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.stig_ckl import (
    EVALUATE_STIG,
    MAX_ID,
    TOOL,
    Results,
    evidence,
    site_path,
    stig_severity,
    stig_status,
    stig_weakness,
    target_asset,
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
        """A JSON object with `target_data` and checklist keys, or `stigs` whose rules have `group_id`."""
        shape = head.json
        if shape.kind != "object" or shape.lines:
            return False
        if "target_data" in shape.keys and shape.keys & {"stigs", "has_path", "cklb_version", "evaluate-stig"}:
            return True
        return "stigs" in shape.keys and '"group_id"' in head.text and '"rule_id' in head.text

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the whole checklist; yield the target's coverage, the findings and the scan."""
        doc = jsonio.load(stream, ctx.source, MAX_DOCUMENT)
        if not isinstance(doc, dict):
            raise InputError(ctx.source, "not a STIG Viewer 3 checklist (the JSON is not an object)")
        target = doc.get("target_data")
        if not isinstance(target, dict):
            raise InputError(ctx.source, "checklist has no target_data object")
        stigs = doc.get("stigs")
        if not isinstance(stigs, list):
            raise InputError(ctx.source, "checklist has no stigs array")
        host = target.get("host_name")
        asset = target_asset(
            host if isinstance(host, str) else None,
            [_str(target.get("ip_address"))],
            [_str(target.get("fqdn"))],
            [_str(target.get("mac_address"))],
            _str(target.get("target_type")).lower() == "non-computing",
            ctx,
            "target_data.host_name",
        )
        path = site_path(target.get("is_web_database"), target.get("web_db_site"), target.get("web_db_instance"))
        tool, version, engine_time = _engine(doc, stigs)
        fallback = engine_time or ctx.fallback_time()
        results = Results()
        names: list[str] = []
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        for n, stig in enumerate(stigs):
            if not isinstance(stig, dict):
                raise InputError(ctx.source, f"stigs[{n}] is not an object")
            title = _str(stig.get("stig_name")) or _str(stig.get("display_name")) or None
            if title and title not in names:
                names.append(title)
            es = stig.get("evaluate-stig")
            stig_time = common.parse_time(_str(es.get("time"))) if isinstance(es, dict) else None
            rules = stig.get("rules")
            if rules is None:
                continue
            if not isinstance(rules, list):
                raise InputError(ctx.source, f"stigs[{n}].rules is not an array")
            for m, rule in enumerate(rules):
                if not isinstance(rule, dict):
                    raise InputError(ctx.source, f"stigs[{n}].rules[{m}] is not an object")
                when = stig_time or fallback
                finding = self._rule(
                    rule, stig, title, asset, path, when, tool, weaknesses, ctx, f"stigs[{n}].rules[{m}]"
                )
                if finding is not None:
                    results.add(finding)
        times = [f.observed_at for f in results] or [fallback]
        first, last = min(times), max(times)
        yield Coverage(asset, first, last, None, Checks.CONFIGURATION)
        yield from results
        name = ", ".join(names)[:500] or _str(doc.get("title"))[:500] or None
        yield Scan(tool=tool, tool_version=version, name=name, started_at=first, ended_at=last)

    def _rule(
        self,
        rule: dict[str, Any],
        stig: dict[str, Any],
        title: str | None,
        asset: Asset,
        path: str | None,
        when: dt.datetime,
        tool: str,
        weaknesses: dict[tuple[str, Severity], Weakness],
        ctx: ParseContext,
        where: str,
    ) -> Finding | None:
        rule_id = _str(rule.get("rule_id_src")) or _str(rule.get("rule_id"))
        vuln_id = vuln_id_of(_str(rule.get("group_id")), rule_id)
        status = stig_status(rule.get("status"), ctx.source, vuln_id or where)
        if status is None:
            return None
        if not vuln_id:
            raise InputError(ctx.source, f"{where} has no group_id or rule_id")
        if len(vuln_id) > MAX_ID:
            raise InputError(ctx.source, f"group_id longer than {MAX_ID} characters: {vuln_id[:40]!r}...")
        listed = stig_severity(rule.get("severity")) or Severity.MEDIUM
        override, reason = _override(rule.get("overrides"))
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
            observed_at=seen or when,
            evidence=evidence(
                ("", _str(rule.get("finding_details"))),
                ("Comments", _str(rule.get("comments"))),
                ("Severity override", note),
            ),
            status=status,
            path=path,
        )


def _override(value: object) -> tuple[Severity | None, str | None]:
    """A severity override: `{"severity": {"severity": "low", "reason": "..."}}` (STIG Viewer 3),
    or a bare `{"severity": "low"}`."""
    if not isinstance(value, dict):
        return None, None
    entry = value.get("severity")
    if isinstance(entry, dict):
        return stig_severity(entry.get("severity")), _str(entry.get("reason")) or None
    return stig_severity(entry), None
