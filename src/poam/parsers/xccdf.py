"""XCCDF 1.1/1.2 results (OpenSCAP, DISA SCC, Evaluate-STIG, STIG Manager) and SCAP 1.2/1.3 ARF.

The document is streamed once: rule definitions (Benchmark Group/Rule, also inside an ARF data
stream) come before the TestResult in every producer's output, so each rule-result is joined to its
rule's title, description, fix text, severity and idents (CCI, CCE, CVE) by idref. Results: `fail`
is an open finding; `pass` and `fixed` are FIXED findings that close it; `error`, `unknown`,
`notchecked`, `notapplicable`, `notselected` and `informational` prove nothing and yield nothing
(an engine error is not a weakness, and must not close one either). A result word XCCDF does not
define is read as set aside when it says so (`ignored`...: left out) and as open otherwise, with a
warning; a rule-result without a result is left out with a warning. A rule reported several times
for one target (multi-check, several TestResults) is decided by its newest report (the
rule-result's `time`, else its TestResult's end or start), and on equal times it is open if any
report fails. Dates: those of the file, else `--scan-date`, else the file's modification time.

Severity: high, medium, low, info; XCCDF's `unknown` (the default) is medium; another word is
medium with a warning. A rule-result without an idref, or whose id is longer than 200
characters, is left out with a warning. A TestResult whose target has no usable host name, IP or
MAC address is left out with a warning when the file holds others; a file with no other is
refused (give `--asset`): the target is its subject.

Identity: DISA STIG rules (`xccdf_mil.disa.stig_rule_SV-230221r858734_rule`) use their group's Vuln
ID (`V-230221`), like the checklist parsers; Red Hat OVAL advisories
(`oval-com.redhat.rhsa-def-20060015`) become `RHSA-2006:0015` and are vulnerabilities, not
configuration findings; other rules keep their id without the `xccdf_<namespace>_rule_` prefix,
so XCCDF 1.1 and 1.2 forms of one rule agree. The tool is the TestResult's test-system as a
stable product name (`OpenSCAP`, `DISA SCC`, `Evaluate-STIG`, `STIG Manager`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from lxml import etree

from poam.domain.models import Asset, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.stig_ckl import MAX_ID, Results, evidence, host_asset
from poam.parsers.xmlsafe import PROLOG_LIMIT, iterparse, prolog, release

XCCDF_NS = ("http://checklists.nist.gov/xccdf/1.1", "http://checklists.nist.gov/xccdf/1.2")
ARF_NS = "http://scap.nist.gov/schema/asset-reporting-format/1.1"
DEFAULT_TOOL = "XCCDF"
_ROOTS = ("Benchmark", "TestResult", "asset-report-collection")
_STATUS = {"fail": FindingStatus.OPEN, "pass": FindingStatus.FIXED, "fixed": FindingStatus.FIXED}
_NO_RESULT = {"error", "unknown", "notchecked", "notapplicable", "notselected", "informational"}
"""The other results XCCDF defines: they prove nothing either way and yield nothing."""
_SEVERITY = {"high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW, "info": Severity.INFO}
_NO_SEVERITY = {"", "unknown"}
"""XCCDF's default severity (`unknown`, also when absent): rated medium without a warning."""
_PRODUCTS = {
    "openscap": "OpenSCAP",
    "oscap": "OpenSCAP",
    "scc": "DISA SCC",
    "scap-compliance-checker": "DISA SCC",
    "evaluate-stig": "Evaluate-STIG",
    "evaluatestig": "Evaluate-STIG",
    "stig-manager": "STIG Manager",
}
_DISA_RULE = re.compile(r"(?:^|_)SV-(\d+)(?:r\d+)?(?:_rule)?$")
_DISA_GROUP = re.compile(r"(?:^|_)(V-\d+)$")
_ADVISORY = re.compile(r"^oval-com\.redhat\.(rhsa|rhba|rhea)-def-(\d{4})(\d+)$", re.IGNORECASE)
_PREFIX = re.compile(r"^xccdf_[^_]+_rule_(.+)$")
_CPE = re.compile(r"^cpe:(?:/[aho]?|2\.3:[aho\*\-]):([^:]*):([^:]*)(?::([^:]*))?", re.IGNORECASE)
_DISCUSSION = re.compile(r"<VulnDiscussion>(.*?)</VulnDiscussion>", re.DOTALL)
_CCI = re.compile(r"^CCI-\d+$", re.IGNORECASE)
_CCE = re.compile(r"^CCE-\d+-\d$", re.IGNORECASE)
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$", re.IGNORECASE)
_STIG_MANAGER_FACT = "tag:stig-manager@users.noreply.github.com,2020:asset:"


def _local(el: etree._Element) -> tuple[str | None, str]:
    q = etree.QName(el)
    return q.namespace, q.localname


def _texts(el: etree._Element) -> list[str]:
    return [t for t in el.itertext() if isinstance(t, str)]


def _text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    return common.clean(" ".join(" ".join(t.split()) for t in _texts(el) if t.strip()) or None)


def _block(el: etree._Element | None) -> str | None:
    """Text of an element that may hold light XHTML, keeping its line breaks."""
    if el is None:
        return None
    return common.clean("".join(_texts(el)))


def _child(el: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in el if isinstance(c.tag, str) and _local(c)[1] == name), None)


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str) and _local(c)[1] == name]


@dataclass
class _Rule:
    id: str
    group_id: str | None = None
    title: str | None = None
    description: str | None = None
    fix: str | None = None
    check: str | None = None
    severity: str | None = None
    version: str | None = None
    idents: list[str] = field(default_factory=list)


@dataclass
class _Result:
    idref: str
    record: str
    status: FindingStatus
    severity: str | None
    time: dt.datetime | None
    version: str | None
    idents: list[str]
    evidence: str | None


@dataclass
class _TestResult:
    tool: str | None
    version: str | None
    start: dt.datetime | None
    end: dt.datetime | None
    targets: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    authenticated: bool | None = None
    results: list[_Result] = field(default_factory=list)


def vuln_id(rule_id: str, group_id: str | None) -> str:
    """The stable id of a rule: a DISA rule's Vuln ID, an advisory's name, else the rule's own id."""
    m = _DISA_RULE.search(rule_id)
    if m:
        g = _DISA_GROUP.search(group_id or "")
        return g.group(1) if g else f"V-{m.group(1)}"
    m = _ADVISORY.match(rule_id)
    if m:
        return f"{m.group(1).upper()}-{m.group(2)}:{m.group(3)}"
    m = _PREFIX.match(rule_id)
    return m.group(1) if m else rule_id


def tool_name(test_system: str | None, facts: list[tuple[str, str]]) -> tuple[str, str | None]:
    """A stable product name and its version from test-system (a CPE or `Name:version`)."""
    text = (test_system or "").strip()
    m = _CPE.match(text)
    if m:
        product, version = m.group(2), m.group(3)
    else:
        product, _, version = text.partition(":")
    if not product.strip():
        named = [v for n, v in facts if n.endswith("scanner:name")]
        versions = [v for n, v in facts if n.endswith("scanner:version")]
        product, version = (named[0] if named else ""), (versions[0] if versions else None)
    key = "-".join(product.strip().lower().replace("_", "-").split())
    name = _PRODUCTS.get(key) or product.strip()[:200] or DEFAULT_TOOL
    return name, (version or "").strip()[:100] or None


class XccdfParser:
    """Reader of XCCDF results and SCAP ARF reports."""

    id = "xccdf"
    name = "XCCDF 1.1/1.2 results and SCAP ARF (OpenSCAP, SCC, Evaluate-STIG)"
    maps_to = "one finding per rule and target; fail is open, pass/fixed close it, other results are ignored"
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """An XCCDF Benchmark or TestResult root, an ARF asset-report-collection, or another root
        element in the XCCDF namespace (refused by `parse` with a clear error)."""
        root = head.xml_root
        if root is None:
            return False
        m = re.search(r"<(?:([\w.\-]+):)?" + re.escape(root) + r"\b([^>]*)>", head.text)
        if not m:
            return False
        attrs = m.group(2)
        prefix = f"xmlns:{m.group(1)}" if m.group(1) else "xmlns"
        ns = re.search(re.escape(prefix) + r"\s*=\s*[\"']([^\"']*)[\"']", attrs)
        namespace = ns.group(1) if ns else ""
        if root == "asset-report-collection":
            return namespace == ARF_NS
        return namespace in XCCDF_NS

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Stream the rules and results; yield each target's coverage, the findings and the scan."""
        start = stream.tell()
        root, _entities = prolog(stream.read(PROLOG_LIMIT))
        stream.seek(start)
        if root not in _ROOTS:
            raise InputError(
                ctx.source, f"not XCCDF results: the root element is <{root}>, not <Benchmark>, <TestResult> or ARF"
            )
        rules: dict[str, _Rule] = {}
        benchmark: str | None = None
        current: _TestResult | None = None
        done: list[tuple[_TestResult, Asset]] = []
        nameless: list[str] = []
        results = Results()
        weaknesses: dict[tuple[str, str, Severity], Weakness] = {}
        tags: tuple[str, ...] = ("{*}title", "{*}Group", "{*}Rule", "{*}TestResult", "{*}target", "{*}target-address")
        tags += ("{*}fact", "{*}identity", "{*}rule-result")
        for event, el in iterparse(stream, ctx.source, tags, events=("start", "end")):
            ns, name = _local(el)
            if ns is not None and ns not in XCCDF_NS:
                continue
            if event == "start":
                if name == "TestResult":
                    tool, version = el.get("test-system"), None
                    current = _TestResult(tool, version, _time(el.get("start-time")), _time(el.get("end-time")))
                continue
            if name == "rule-result" and current is not None:
                result = self._result(el, ctx)
                if result is not None:
                    current.results.append(result)
                release(el)
            elif name == "Rule":
                rule = self._rule(el)
                rules[rule.id] = rule
                el.clear()  # the shell stays until its Group is released
            elif name == "Group":
                release(el)
            elif name == "TestResult" and current is not None:
                asset = self._asset(current, ctx)
                if asset is None:  # this TestResult's subject is unknown: its results cannot be placed
                    nameless.append(self._nameless(current))
                    ctx.skip(f"TestResult {len(done) + len(nameless)}", nameless[-1])
                else:
                    done.append((current, asset))
                    self._findings(current, asset, rules, benchmark, weaknesses, results, ctx)
                current = None
                release(el)
            elif current is not None:
                self._target(name, el, current)
            elif name == "title" and benchmark is None:
                parent = el.getparent()
                if parent is not None and _local(parent)[1] == "Benchmark":
                    benchmark = _text(el)
        if nameless and not done:  # the file's whole subject is unknown
            raise InputError(ctx.source, nameless[0])
        if not done:
            what = "ARF report has no XCCDF TestResult" if root == _ROOTS[2] else "XCCDF file has no TestResult"
            raise InputError(ctx.source, f"{what} (a benchmark without results)")
        yield from self._coverage(done, results, ctx)
        yield from results
        tr = done[0][0]
        tool, version = tool_name(tr.tool, tr.facts)
        starts = [s for t, _a in done if (s := t.start or t.end)]
        ends = [e for t, _a in done if (e := t.end or t.start)]
        yield Scan(tool, version, benchmark, min(starts) if starts else None, max(ends) if ends else None)

    def _rule(self, el: etree._Element) -> _Rule:
        parent = el.getparent()
        group = parent.get("id") if parent is not None and _local(parent)[1] == "Group" else None
        description = _block(_child(el, "description"))
        if description:
            m = _DISCUSSION.search(description)
            description = common.clean(m.group(1)) if m else description
        check = _child(el, "check")
        idents = [t for i in _children(el, "ident") if (t := _text(i))]
        return _Rule(
            id=el.get("id") or "",
            group_id=group,
            title=_text(_child(el, "title")),
            description=description,
            fix=_block(_child(el, "fixtext")),
            check=_block(_child(check, "check-content")) if check is not None else None,
            severity=el.get("severity"),
            version=_text(_child(el, "version")),
            idents=idents,
        )

    def _result(self, el: etree._Element, ctx: ParseContext) -> _Result | None:
        idref = (el.get("idref") or "").strip()
        record = f"rule-result at line {el.sourceline}" + (f" ({idref[:60]})" if idref else "")
        word = _text(_child(el, "result"))
        key = (word or "").lower()
        if key in _NO_RESULT:
            return None
        if not word:
            ctx.skip(record, "no result")
            return None
        status = _STATUS.get(key)
        if status is None:
            if common.dismissed(word):
                ctx.warn(record, f"result {word!r} is not an XCCDF result; read as set aside and left out")
                return None
            status = common.odd_status(ctx, record, word)
        if not idref:
            ctx.skip(record, "no rule idref")
            return None
        notes: list[tuple[str, object]] = [("Message", _block(m)) for m in _children(el, "message")]
        check = _child(el, "check")
        content = _child(check, "check-content") if check is not None else None
        if content is not None:
            parts = [c for c in content if isinstance(c.tag, str)]
            notes += [(_local(c)[1].capitalize(), _block(c)) for c in parts] or [("Check", _block(content))]
        notes += [("Instance", _text(i)) for i in _children(el, "instance")]
        for o in _children(el, "override"):
            old, new = _text(_child(o, "old-result")), _text(_child(o, "new-result"))
            who = o.get("authority") or _text(_child(o, "authority")) or "unknown authority"
            notes.append(("Override", f"{old} -> {new} by {who}: {_text(_child(o, 'remark')) or ''}".rstrip(": ")))
        return _Result(
            idref=idref,
            record=record,
            status=status,
            severity=el.get("severity"),
            time=_time(el.get("time")),
            version=el.get("version"),
            idents=[t for i in _children(el, "ident") if (t := _text(i))],
            evidence=evidence(*notes),
        )

    def _target(self, name: str, el: etree._Element, tr: _TestResult) -> None:
        text = _text(el)
        if name == "target" and text:
            tr.targets.append(text)
        elif name == "target-address" and text:
            tr.addresses.append(text)
        elif name == "fact" and text:
            tr.facts.append(((el.get("name") or "").strip(), text))
        elif name == "identity":
            auth = (el.get("authenticated") or "").strip().lower()
            tr.authenticated = True if auth in ("true", "1") else False if auth in ("false", "0") else None

    def _nameless(self, tr: _TestResult) -> str:
        names = [value for fact, value in tr.facts if fact.lower().endswith("name")] + tr.targets
        name = names[0] if names else ""
        return f"TestResult target {name[:60]!r} has no usable host name, IP or MAC address; name it with --asset"

    def _asset(self, tr: _TestResult, ctx: ParseContext) -> Asset | None:
        facts: dict[str, list[str]] = {}
        for fact, value in tr.facts:
            key = (
                fact.removeprefix(_STIG_MANAGER_FACT)
                if fact.startswith(_STIG_MANAGER_FACT)
                else fact.rsplit(":", 1)[-1]
            )
            facts.setdefault(key.lower(), []).append(value)
        names = facts.get("name") or tr.targets
        name = names[0] if names else None
        fqdns = facts.get("fqdn", []) + facts.get("host_name", []) + tr.targets
        macs = facts.get("mac", [])
        ips = tr.addresses + facts.get("ip", []) + facts.get("ipv4", []) + facts.get("ipv6", [])
        non_computing = (facts.get("noncomputing") or ["false"])[0].strip().lower() == "true"
        asset = host_asset(name, ips, fqdns, macs, non_computing)
        if asset is None and ctx.asset_name:
            asset = host_asset(ctx.asset_name, (), (), (), non_computing)
        return asset

    def _findings(
        self,
        tr: _TestResult,
        asset: Asset,
        rules: dict[str, _Rule],
        benchmark: str | None,
        weaknesses: dict[tuple[str, str, Severity], Weakness],
        results: Results,
        ctx: ParseContext,
    ) -> None:
        tool, _version = tool_name(tr.tool, tr.facts)
        for r in tr.results:
            rule = rules.get(r.idref) or _Rule(r.idref)
            vid = vuln_id(r.idref, rule.group_id)
            if len(vid) > MAX_ID:
                ctx.skip(r.record, f"rule id longer than {MAX_ID} characters ({vid[:40]!r}...)")
                continue
            word = (r.severity or rule.severity or "").strip().lower()
            severity = _SEVERITY.get(word) or (
                Severity.MEDIUM if word in _NO_SEVERITY else common.odd_severity(ctx, r.record, word)
            )
            weakness = weaknesses.get((tool, vid, severity))
            if weakness is None:
                weakness = _weakness(tool, vid, severity, rule, r, benchmark)
                weaknesses[(tool, vid, severity)] = weakness
            when = r.time or tr.end or tr.start or ctx.fallback_time()
            results.add(Finding(weakness, asset, when, evidence=r.evidence, status=r.status))

    def _coverage(
        self, done: list[tuple[_TestResult, Asset]], results: Results, ctx: ParseContext
    ) -> Iterator[Coverage]:
        kinds: dict[Asset, set[bool]] = {}
        for f in results:
            kinds.setdefault(f.asset, set()).add(f.weakness.is_config)
        for tr, asset in done:
            seen = kinds.get(asset, {True})
            checks = Checks.ALL if len(seen) > 1 else Checks.CONFIGURATION if True in seen else Checks.VULNERABILITY
            times = [f.observed_at for f in results if f.asset == asset]
            when = tr.start or tr.end or (min(times) if times else ctx.fallback_time())
            yield Coverage(asset, when, tr.end or (max(times) if times else when), tr.authenticated, checks)


def _time(text: str | None) -> dt.datetime | None:
    return common.parse_time(text.strip()) if text else None


def _weakness(tool: str, vid: str, severity: Severity, rule: _Rule, result: _Result, benchmark: str | None) -> Weakness:
    idents = list(dict.fromkeys(rule.idents + result.idents))
    ccis = tuple(i.upper() for i in idents if _CCI.match(i))
    cces = [i.upper() for i in idents if _CCE.match(i)]
    cves = tuple(i.upper() for i in idents if _CVE.match(i))
    facts = [f"Rule {rule.id}" if rule.id != vid else "", f"STIG ID {rule.version or result.version or ''}"]
    if not (rule.version or result.version):
        facts.pop()
    facts += cces
    description = "\n\n".join(p for p in (rule.description, f"Check: {rule.check}" if rule.check else None) if p)
    return Weakness(
        tool=tool,
        vuln_id=vid,
        name=rule.title or vid,
        severity=severity,
        family=benchmark,
        synopsis="; ".join(f for f in facts if f) or None,
        description=description or None,
        solution=rule.fix,
        cves=cves,
        ccis=ccis,
        is_config=not (cves and not ccis and not cces),
    )
