"""ProjectDiscovery Nuclei results: `-jsonl` / `-json` output (JSON Lines, one result per
match), `-json-export` (one JSON array), or a single result object; several such documents in one
file are one import. Results are read one at a time.

One finding per template (`template-id`; v2's `templateID`) and target: a web template's result
(its matched URL has an `http(s)://` scheme) is on the site (the URL's origin) at the URL path
(no query); any other (network, ssl, dns, tcp, javascript on a port) is on the host
(`matched-at` `host:port`, else `host`, with the result's `ip`) at its port, or host-wide.
Several matches of one template on one target (matchers of `http-missing-security-headers`,
`tech-detect` technologies, repeated lines) are one finding; matcher names and extracted values
go to the evidence (a template that finds secrets, tokens or credentials keeps where, never what:
its extracted values and matched lines are not read). Requests, responses, curl commands and
`meta` values (a default-login template's user and password) are never read.

Severity is the template's `info.severity`: critical, high, medium, low; info is informational
(technology detection: counted, not stored); `unknown` (or none) is rated by the template's
`cvss-score` when it gives one, else Low; another word is Moderate, warned. CVEs, CWEs and the
CVSS vector come from `info.classification`.

A result with `matcher-status: false` (nuclei `-ms`: the template ran on the target and did not
match) is a fixed finding of that template and target. Each target with a result is covered: the
results of one run list every template that matched there, so a later run that reports the target
without a finding closes it. Nuclei writes which templates it ran nowhere: runs whose template
selection differs (`-tags`, `-severity`, `-t`) close each other's findings on the targets they
share; import runs of one template selection.

Dates: each result's `timestamp`; without one (or with one that cannot be read, warned),
`--scan-date`, else the file's time. A result that is not an object or names no template is left
out with a warning; one that names no target is too, unless informational (then it is dropped,
warned, and the file still closes by absence). A document that is not a result, nor an array of
results, is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from poam.domain.identity import web_origin, web_path
from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.parsers import common, cvss, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.codescan import is_secret_rule

TOOL = "Nuclei"
_SEVERITY = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "info": Severity.INFO,
}
_ID_KEYS = ("template-id", "templateID", "template_id")
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_HOST_PORT = re.compile(r"^\[?([^\s/\[\]]+?)\]?(?::(\d{1,5}))?$")
_RANK = {FindingStatus.OPEN: 0, FindingStatus.SET_ASIDE: 1, FindingStatus.FIXED: 2}
VALUE_LIMIT = 300
NOT_KEPT = "extracted values not kept (this template's may be secrets)"
_SECRET_TAGS = frozenset(
    {"token", "tokens", "secret", "secrets", "credential", "credentials", "password", "apikey", "api-key", "keys"}
    | {"key", "default-login", "cookie", "session", "exposure", "disclosure", "leak", "auth-bypass"}
)
"""Template tags whose extracted values may be secrets (keys, tokens, session cookies, exposed
files): their results keep where they matched, never what they extracted."""


@dataclass
class _Merged:
    """The results of one template on one target: an open one wins over a non-match."""

    asset: Asset
    port: int | None
    path: str | None
    status: FindingStatus
    first: dt.datetime
    last: dt.datetime
    lines: list[str] = field(default_factory=list)

    def add(self, status: FindingStatus, when: dt.datetime, line: str | None) -> None:
        if _RANK[status] < _RANK[self.status]:
            self.status, self.first, self.last = status, when, when
            self.lines = [line] if line else []
            return
        if status is not self.status:
            return
        self.first, self.last = min(self.first, when), max(self.last, when)
        if line:
            self.lines.append(line)


class NucleiParser:
    """Reader of Nuclei JSON Lines and JSON export output."""

    id = "nuclei"
    name = "ProjectDiscovery Nuclei JSON / JSON Lines (-jsonl, -json-export)"
    maps_to = (
        "one finding per template and target (site and URL path, or host and port); info results are informational"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """A result object (the first of JSON Lines) or an array of them: a template id, `info`,
        and one of Nuclei's target keys."""
        shape = head.json
        keys = shape.item_keys if shape.kind == "array" else shape.keys if shape.kind == "object" else frozenset()
        if "info" not in keys or not keys & set(_ID_KEYS):
            return False
        return bool(keys & {"matched-at", "matched", "host", "type", "timestamp"})

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the results one at a time, then yield coverage, merged findings and the scan."""
        reader = _Reader(ctx)
        results = jsonio.records(stream, ctx.source, (), _is_result, "a Nuclei result (no template-id or info)")
        for number, result in enumerate(results, start=1):
            reader.read(number, result)
        yield from reader.records()


def _is_result(doc: dict[str, Any]) -> bool:
    """A document that has any of a result's own keys: one without a template id is then read
    as an odd result (left out, warned), never a reason to refuse the file."""
    return any(k in doc for k in (*_ID_KEYS, "info", "template", "matched-at", "matcher-status"))


class _Reader:
    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.merged: dict[tuple[str, Asset, int | None, str | None], _Merged] = {}
        self.drafts: dict[str, tuple[dict[str, Any], Severity]] = {}
        self.window: dict[Asset, tuple[dt.datetime, dt.datetime]] = {}
        self._fallback: dt.datetime | None = None

    def fallback(self) -> dt.datetime:
        if self._fallback is None:
            self._fallback = self.ctx.fallback_time()
        return self._fallback

    def read(self, number: int, result: object) -> None:
        record = f"result {number}"
        ctx = self.ctx
        if not isinstance(result, dict):
            ctx.skip(record, "not an object")
            return
        template = next((t for t in (common.text(result.get(k)) for k in _ID_KEYS) if t), None)
        if template is None:
            ctx.skip(record, "no template-id")
            return
        record = f"{record} ({template[:60]})"
        info = common.obj(result.get("info"))
        severity = _severity(ctx, record, info)
        target = _target(result)
        if target is None:
            if severity is Severity.INFO:
                ctx.warn(record, "names no host, URL or IP; informational, left out")
            else:
                ctx.skip(record, "names no host, URL or IP")
            return
        asset, port, path = target
        when = self._time(record, result.get("timestamp"))
        matched = result.get("matcher-status", result.get("matcher_status"))
        status = FindingStatus.FIXED if matched is False else FindingStatus.OPEN
        known = self.drafts.get(template)
        self.drafts[template] = (result, severity) if known is None else (known[0], sca.worse(known[1], severity))
        line = _evidence(result, template, info)
        key = (template, asset, port, path)
        seen = self.merged.get(key)
        if seen is None:
            self.merged[key] = _Merged(asset, port, path, status, when, when, [line] if line else [])
        else:
            seen.add(status, when, line)
        first, last = self.window.get(asset, (when, when))
        self.window[asset] = (min(first, when), max(last, when))

    def _time(self, record: str, value: object) -> dt.datetime:
        when = (
            common.parse_time(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else None
        )
        if when is None:
            if value not in (None, ""):
                how = "--scan-date" if self.ctx.scan_date is not None else "the file's time"
                self.ctx.warn(record, f"timestamp {str(value)[:40]!r} is not a date; dated by {how}")
            return self.fallback()
        return when

    def records(self) -> Iterator[Record]:
        for asset, (first, last) in self.window.items():
            yield Coverage(asset, first, last, None, Checks.VULNERABILITY)
        weaknesses = {t: _weakness(t, result, severity) for t, (result, severity) in self.drafts.items()}
        for (template, asset, port, path), m in self.merged.items():
            evidence = sca.join_evidence(m.lines)
            protocol = "tcp" if port else None
            yield Finding(
                weaknesses[template],
                asset,
                m.last,
                port=port,
                protocol=protocol,
                evidence=evidence,
                status=m.status,
                path=path,
            )
        times = [t for pair in self.window.values() for t in pair]
        yield Scan(TOOL, None, None, min(times, default=None), max(times, default=None))


def _severity(ctx: ParseContext, record: str, info: dict[str, Any]) -> Severity:
    word = info.get("severity")
    said = (common.text(word) or "").lower()
    found = _SEVERITY.get(said)
    if found is not None:
        return found
    if said in ("unknown", "") and not isinstance(word, dict | list | bool):
        score = sca.score(common.obj(info.get("classification")).get("cvss-score"))
        banded = common.severity_score(score)
        return banded if banded is not None and banded is not Severity.INFO else Severity.LOW
    return common.odd_severity(ctx, record, word)


def _target(result: dict[str, Any]) -> tuple[Asset, int | None, str | None] | None:
    """The asset, port and path of a result: a site and URL path when its matched URL is a web
    URL; else a host and port."""
    texts = [common.text(result.get(k)) for k in ("matched-at", "matched", "url", "path", "host")]
    for text in texts:
        if not text:
            continue
        found = _URL.search(text)
        if found is None:
            break  # the first place it names is not a URL: a host
        url = found.group(0)
        scheme = url.split("://", 1)[0].lower()
        if scheme in ("http", "https"):
            return Asset(AssetKind.WEB_APP, name=web_origin(url)), None, _url_path(url)
        break
    for text in texts:
        if not text:
            continue
        host, port = _host_port(text)
        if host:
            return _host(host, common.text(result.get("ip"))), port, None
    ip = common.text(result.get("ip"))
    if ip:
        return _host(ip, ip), _port(result.get("port")), None
    return None


def _host_port(text: str) -> tuple[str | None, int | None]:
    """`example.com:22`, `https://example.com:8443/x` or `10.0.0.1` as host and port."""
    text = text.strip()
    if "://" in text:
        parts = urlsplit(text)
        try:
            return parts.hostname, parts.port
        except ValueError:
            return parts.hostname, None
    m = _HOST_PORT.match(text.split("/", 1)[0])
    if not m:
        return None, None
    port = int(m.group(2)) if m.group(2) else None
    return m.group(1), port if port is None or 0 < port < 65536 else None


def _port(value: object) -> int | None:
    text = common.text(value)
    if text and text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    return None


def _host(host: str, ip: str | None) -> Asset:
    host = host.strip().rstrip(".").lower()
    is_ip = bool(re.fullmatch(r"[\d.]+|[0-9a-f:]+", host)) and (host.count(".") == 3 or ":" in host)
    if is_ip:
        return Asset(AssetKind.HOST, ip=host)
    ip = ip.rstrip(".") if ip else None
    return Asset(AssetKind.HOST, fqdn=host, ip=ip or None)


def _url_path(url: str) -> str:
    return re.sub(r"/{2,}", "/", web_path(url)) or "/"


def _cut(text: str, limit: int = VALUE_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tags(info: dict[str, Any]) -> list[str]:
    tags = info.get("tags")
    if isinstance(tags, str):
        return [t.strip() for t in tags.split(",") if t.strip()]
    return [t for t in (common.text(x) for x in common.arr(tags)) if t]


def _is_secret(template: str, info: dict[str, Any]) -> bool:
    tags = [t.lower() for t in _tags(info)]
    if any(t in _SECRET_TAGS for t in tags):
        return True
    return is_secret_rule(template, common.text(info.get("name")))


def _evidence(result: dict[str, Any], template: str, info: dict[str, Any]) -> str | None:
    """One result's evidence: where it matched, the matcher, and what it extracted."""
    where = common.text(result.get("matched-at")) or common.text(result.get("matched"))
    parts = [_cut(where)] if where else []
    matcher = common.text(result.get("matcher-name")) or common.text(result.get("matcher_name"))
    if matcher:
        parts.append(f"matcher: {_cut(matcher, 100)}")
    if result.get("matcher-status") is False:
        parts.append("did not match")
    if _is_secret(template, info):
        extracted = result.get("extracted-results", result.get("extracted_results"))
        if extracted:
            parts.append(NOT_KEPT)
        return " | ".join(parts) or None
    values = [common.text(v) for v in common.arr(result.get("extracted-results", result.get("extracted_results")))]
    shown = [_cut(v, 120) for v in values if v][:10]
    if shown:
        parts.append("extracted: " + ", ".join(shown))
    line = result.get("matched-line")
    lines = [common.text(v) for v in (line if isinstance(line, list) else [line])]
    if any(lines):
        parts.append("line: " + _cut("; ".join(x for x in lines if x)))
    return " | ".join(parts) or None


def _weakness(template: str, result: dict[str, Any], severity: Severity) -> Weakness:
    info = common.obj(result.get("info"))
    classification = common.obj(info.get("classification"))
    reference = info.get("reference")
    if isinstance(reference, str):
        references = [r.strip().lstrip("-").strip() for r in reference.splitlines()]
    else:
        references = [common.text(r) or "" for r in common.arr(reference)]
    references.append(common.text(result.get("template-url")) or "")
    vector = common.text(classification.get("cvss-metrics"))
    score = sca.score(classification.get("cvss-score"))
    version = 4 if vector and vector.upper().startswith("CVSS:4") else 3
    v3 = (cvss.fill(3, score, vector), vector) if vector and version == 3 else (None, None)
    v4 = (cvss.fill(4, score, vector), vector) if vector and version == 4 else (None, None)
    cves = common.cves_in(classification.get("cve-id"), template)
    cwes = common.cwes_in(classification.get("cwe-id"))
    impact = common.text(info.get("impact"))
    description = "\n\n".join(t for t in (common.text(info.get("description")), impact) if t) or None
    return Weakness(
        tool=TOOL,
        vuln_id=template[:200],
        name=" ".join((common.text(info.get("name")) or template).split())[:500],
        severity=severity,
        family=common.text(result.get("type")),
        description=description,
        solution=common.text(info.get("remediation")),
        see_also="\n".join(dict.fromkeys(r for r in references if r)) or None,
        cvss3_score=v3[0],
        cvss3_vector=v3[1],
        cvss4_score=v4[0],
        cvss4_vector=v4[1],
        cves=cves,
        cwes=tuple(dict.fromkeys(str(int(c)) for c in cwes if c.isdigit())),
    )
