"""GitLab security reports: SAST (`gl-sast-report.json`), secret detection, dependency scanning,
container scanning, DAST and API fuzzing, in GitLab's common report schema (2.x to 15.x):
`{version, scan{type, scanner, analyzer, status, start_time, end_time}, vulnerabilities[],
remediations[], dependency_files[]}`; the ZAP-based DAST analyzer adds ZAP's `@generated`,
`@version` and `site[]`. A file may hold several reports (concatenated, or one per line): they are
one import. Files from STREAM_FROM bytes are streamed one vulnerability at a time (a streamed
document must have `version`: GitLab always writes it, and the streamed list's absence cannot be
seen).

The report type is `scan.type`, else the vulnerability's `category` (schemas before 15), else
what its location shows (an image: container scanning; a host name: DAST; a file with a named
package: dependency scanning; else SAST). Each analyzer is its own tool, `GitLab <type>
(<analyzer>)` (`GitLab SAST (semgrep)`, `GitLab Container Scanning (trivy)`): GitLab runs one job
per analyzer, so a report of one analyzer must never close what another found. The analyzer is
`scan.scanner.id`, else the vulnerability's `scanner.id` (old combined reports list several),
else the prefix of its primary identifier's type (`eslint_rule_id`: `eslint`).

One finding per:
- SAST and secret detection: rule (the primary identifier: the first of `identifiers` that is not
  a CWE or OWASP classification) and file (`location.file`); lines go to the evidence. A secret
  finding (secret detection, or a rule of a secrets tool) keeps where the secret is, never its
  value: `raw_source_code_extract` is never kept, and a description that quotes it is dropped.
- dependency scanning: advisory (the first CVE identifier, else a GHSA, else the primary
  identifier, such as a Gemnasium id) and package in its dependency file
  (`service/go.sum: golang.org/x/crypto`, as Trivy locates language packages); versions go to the
  evidence.
- container scanning: advisory (CVE, else GHSA, else the primary identifier) and package, on the
  image (`location.image` without tag or digest); the operating system and versions go to the
  evidence.
- DAST and API fuzzing: rule (ZAP plugin id or the primary identifier) and URL path on the site
  (`location.hostname`); method, parameter and the evidence summary go to the evidence, never
  the request or response.

Severity: Critical, High, Medium, Low as written; Info is informational; Unknown and Undefined
(the analyzer gave none) are rated by a CVSS vector when the report gives one (`cvss_vectors`),
else Low; any other word is Moderate, warned. There is no per-vulnerability state in the file
(dismissals live in GitLab); a `flags[]` entry (GitLab's automatic false-positive hint) only goes
to the evidence.

The reports name no project: SAST, secret detection and dependency scanning findings go on the
repository `--asset` names, else on `GitLab project`, which is never covered (two unnamed
projects must not close each other's findings). A report covers, for its analyzer, the
repository (named), the images of its findings (or `--asset` for a container report without
any), or the sites of its findings, `site[]` and `scan.scanned_resources`. A report whose
`scan.status` is not `success` covers nothing (warned); nor does an asset with a record that
could not be read or that took a fallback identity (a rule from the name, a package not named).
Dates: `scan.end_time`, else `start_time` (UTC); DAST findings at their `discovered_at` (never
before the scan's start); a report without dates is dated `--scan-date`, else the file's time.

A vulnerability that is not an object, or without anything to identify its check, is left out
with a warning. A document that is not a report object, or without a `vulnerabilities` list, is
refused.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from poam.domain.identity import web_origin, web_path
from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.codescan import WITHHELD, is_secret_rule, peek, repo_path

FALLBACK_ASSET = "GitLab project"
"""The repository of SAST, secret and dependency findings when `--asset` names none (never covered)."""
_KNOWN_KEYS = frozenset(
    {"version", "vulnerabilities", "remediations", "scan", "dependency_files", "schema"}
    | {"@generated", "@version", "site", "spider"}
)
_LABELS = {
    "sast": "SAST",
    "secret_detection": "Secret Detection",
    "dependency_scanning": "Dependency Scanning",
    "container_scanning": "Container Scanning",
    "cluster_image_scanning": "Cluster Image Scanning",
    "dast": "DAST",
    "api_fuzzing": "API Fuzzing",
    "coverage_fuzzing": "Coverage Fuzzing",
}
_PACKAGES = {"dependency_scanning"}
_IMAGES = {"container_scanning", "cluster_image_scanning"}
_WEB = {"dast", "api_fuzzing"}
_CLASSIFICATIONS = {"cwe", "owasp", "owasp_top_10", "wasc", "capec"}
_SEVERITY = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "info": Severity.INFO,
    "informational": Severity.INFO,
}
_UNRATED = {"unknown", "undefined", "none", ""}
_NOT_KEPT = frozenset({"evidence", "details", "tracking", "remediations"})
"""Members of a vulnerability its weakness never reads (DAST requests and responses can be large)."""
_ID_SUFFIX = re.compile(r"_(rule_?id|test_?id|plugin_?id|id|rule)$", re.IGNORECASE)
_ANALYZER_TYPES = {"gemnasium": "gemnasium"}
"""Identifier types named after their analyzer without a suffix."""
EVIDENCE_VALUE = 300
STREAM_FROM = 64 * 1024 * 1024
"""Files from this size are streamed one vulnerability at a time (smaller ones are read whole)."""


@dataclass
class _Sighting:
    """The records of one finding in the file, merged."""

    tool: str
    vuln_id: str
    asset: Asset
    path: str | None
    when: dt.datetime
    evidence: list[str] = field(default_factory=list)


@dataclass
class _Draft:
    """What is known of one check (tool and id): its first record and its worst rating."""

    vuln: dict[str, Any]
    kind: str
    severity: Severity
    secret: bool


@dataclass
class _Report:
    """One report of the file: its type, analyzer, times and whether it may cover anything."""

    number: int
    label: str
    kind: str | None
    scanner: str | None
    scanner_name: str | None
    version: str | None
    start: dt.datetime | None
    end: dt.datetime | None
    dating: sca.Dating
    ok: bool
    sites: list[str]


class GitlabParser:
    """Reader of GitLab security report JSON (SAST, secrets, dependency, container, DAST)."""

    id = "gitlab"
    name = "GitLab security report JSON (SAST, secret detection, dependency, container, DAST)"
    maps_to = (
        "one finding per analyzer, rule and file (SAST, secrets), advisory and package (dependency, "
        "container) or rule and URL path (DAST); each analyzer is its own tool"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """An object with `version` and `vulnerabilities`, every top-level key one GitLab writes,
        and a first vulnerability with `identifiers` or `location` (or none, with `scan` or
        `remediations`); not the Checkmarx One CLI's report in GitLab's layout (the Checkmarx
        parser's)."""
        shape = head.json
        keys = shape.keys
        if shape.kind != "object" or not {"version", "vulnerabilities"} <= keys or not keys <= _KNOWN_KEYS:
            return False
        found, values = peek(head.data)
        vendors = {
            str(values.get(f"scan.{part}.vendor.name") or "").strip().lower() for part in ("scanner", "analyzer")
        }
        if "checkmarx" in vendors:
            return False
        first = found.get("vulnerabilities.item")
        if first is None:
            return bool(keys & {"scan", "remediations"})
        return bool(first & {"identifiers", "location"})

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read each report's header and its vulnerabilities, then yield coverage, findings and
        one scan. Files from STREAM_FROM bytes are streamed one vulnerability at a time."""
        start = stream.tell()
        size = stream.seek(0, 2) - start
        stream.seek(start)
        reader = _Reader(ctx)
        if size < STREAM_FROM:
            docs = list(jsonio.documents(stream, ctx.source))
            reports = []
            for number, doc in enumerate(docs, start=1):
                what = f"report {number} is not" if len(docs) > 1 else "not"
                if not isinstance(doc, dict) or not isinstance(doc.get("vulnerabilities"), list):
                    problem = "a JSON object" if not isinstance(doc, dict) else "no `vulnerabilities` list"
                    raise InputError(ctx.source, f"{what} a GitLab security report ({problem})")
                report = _report(number, doc, len(docs) > 1, ctx)
                reports.append(report)
                for n, vuln in enumerate(doc["vulnerabilities"], start=1):
                    reader.read(report, n, vuln)
            yield from reader.records(reports)
            return
        headers = jsonio.headers(stream, ctx.source, "vulnerabilities")
        stream.seek(start)
        if headers is None or not headers:
            raise InputError(ctx.source, "not a GitLab security report (a JSON object expected)")
        for number, (header, _count) in enumerate(headers, start=1):
            if "version" not in header:  # the streamed list cannot be seen: GitLab always writes `version`
                what = f"report {number} is not" if len(headers) > 1 else "not"
                raise InputError(ctx.source, f"{what} a GitLab security report (no `version`)")
        reports = [_report(n, header, len(headers) > 1, ctx) for n, (header, _count) in enumerate(headers, start=1)]
        counts = [count for _h, count in headers]
        doc, taken = 0, 0
        if any(counts):
            for vuln in jsonio.items(stream, ctx.source, "vulnerabilities.item"):
                while doc < len(counts) - 1 and taken >= counts[doc]:
                    doc, taken = doc + 1, 0
                taken += 1
                reader.read(reports[doc], taken, vuln)
        yield from reader.records(reports)


def _report(number: int, header: dict[str, Any], several: bool, ctx: ParseContext) -> _Report:
    """A report's type, analyzer, times and status, from its members other than `vulnerabilities`."""
    label = f"report {number}" if several else "report"
    scan = common.obj(header.get("scan"))
    scanner = common.obj(scan.get("scanner")) or common.obj(scan.get("analyzer"))
    kind = (common.text(scan.get("type")) or "").lower() or None
    if kind is not None and kind not in _LABELS:
        ctx.warn(label, f"scan.type {kind[:40]!r} not one GitLab documents; read by each vulnerability's location")
        kind = None
    start = sca.own_time(ctx, label, "scan.start_time", scan.get("start_time"))
    end = sca.own_time(ctx, label, "scan.end_time", scan.get("end_time"))
    status = (common.text(scan.get("status")) or "success").lower()
    ok = status == "success"
    if not ok:
        ctx.warn(label, f"scan.status {status[:40]!r}: the analyzer did not finish; this report covers nothing")
    sites = [common.text(common.obj(s).get("@name")) for s in common.arr(header.get("site"))]
    sites += [common.text(common.obj(r).get("url")) for r in common.arr(scan.get("scanned_resources"))]
    return _Report(
        number=number,
        label=label,
        kind=kind,
        scanner=_scanner_id(scanner),
        scanner_name=common.text(scanner.get("name")),
        version=common.text(scanner.get("version")),
        start=start,
        end=end,
        dating=sca.Dating(ctx, end or start),
        ok=ok,
        sites=[s for s in sites if s and "://" in s],
    )


class _Reader:
    """Vulnerabilities of every report, merged by identity, and the assets each tool covered."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.sightings: dict[tuple[str, Asset, str, str | None], _Sighting] = {}
        self.drafts: dict[tuple[str, str], _Draft] = {}
        self.covered: dict[tuple[str, Asset], tuple[Checks, _Report]] = {}
        """(tool, asset) a report may cover, with its checks and report."""
        self.gaps: set[tuple[str, Asset]] = set()
        """(tool, asset) with a record left out or kept under a fallback identity: no coverage."""
        self.tools: dict[str, None] = {}

    def read(self, report: _Report, number: int, value: object) -> None:
        """One vulnerability of a report."""
        record = f"{report.label + ', ' if report.label != 'report' else ''}vulnerability {number}"
        ctx = self.ctx
        if not isinstance(value, dict):
            ctx.skip(record, "not an object")
            report.ok = False  # its asset is not known: nothing this report names is covered
            return
        vuln = value
        location = common.obj(vuln.get("location"))
        kind = report.kind or _kind(vuln, location)
        scanner = report.scanner or _scanner_id(common.obj(vuln.get("scanner"))) or _scanner_from_ids(vuln)
        tool = f"GitLab {_LABELS[kind]}" + (f" ({scanner})" if scanner else "")
        identifiers = [common.obj(i) for i in common.arr(vuln.get("identifiers"))]
        secret = kind == "secret_detection" or is_secret_rule(
            scanner, [common.text(i.get("type")) for i in identifiers], common.text(vuln.get("category"))
        )
        vuln_id, fallback = _vuln_id(kind, identifiers, vuln)
        asset, named = self._asset(kind, location)
        if vuln_id is None:
            ctx.skip(record, "no identifier, name or message to tell its check")
            self.gaps.add((tool, asset))
            return
        record = f"{record} ({vuln_id[:60]})"
        if fallback:
            ctx.warn(record, f"no identifier; its check is known by its {fallback}; {sca.FALLBACK_NOTE}")
            self.gaps.add((tool, asset))
        path, evidence = self._where(kind, location, vuln, secret, record, tool, asset)
        if not named:
            self.gaps.add((tool, asset))
        severity = _severity(ctx, record, vuln)
        draft = self.drafts.get((tool, vuln_id))
        if draft is None:  # what the weakness needs, never the evidence (requests, responses, code)
            kept = {k: v for k, v in vuln.items() if k not in _NOT_KEPT}
            self.drafts[(tool, vuln_id)] = _Draft(kept, kind, severity, secret)
        else:
            draft.severity = sca.worse(draft.severity, severity)
            draft.secret = draft.secret or secret
        when = report.dating.time()
        if kind in _WEB:
            found = common.parse_time(vuln.get("discovered_at"))
            if found is not None and found >= (report.start or when):
                when = found  # never before the report's coverage begins
        key = (tool, asset, vuln_id, path)
        seen = self.sightings.get(key)
        if seen is None:
            seen = self.sightings[key] = _Sighting(tool, vuln_id, asset, path, when)
        else:
            seen.when = max(seen.when, when)
        seen.evidence.append(evidence)
        self.tools.setdefault(tool)
        if report.ok:
            checks = Checks.ALL if kind in ("sast", "secret_detection") else Checks.VULNERABILITY
            self.covered.setdefault((tool, asset), (checks, report))

    def _asset(self, kind: str, location: dict[str, Any]) -> tuple[Asset, bool]:
        """The asset of a vulnerability, and whether the file (or `--asset`) names it."""
        if kind in _IMAGES:
            image = sca.image_repository(common.text(location.get("image")))
            name = image or self.ctx.asset_name
            return Asset(AssetKind.CONTAINER_IMAGE, name=name or sca.UNNAMED), name is not None
        if kind in _WEB:
            host = common.text(location.get("hostname"))
            if host and "://" in host:
                return Asset(AssetKind.WEB_APP, name=web_origin(host)), True
            name = self.ctx.asset_name
            return Asset(AssetKind.WEB_APP, name=name or sca.UNNAMED), name is not None
        name = self.ctx.asset_name
        return Asset(AssetKind.REPOSITORY, name=name or FALLBACK_ASSET), name is not None

    def _where(
        self,
        kind: str,
        location: dict[str, Any],
        vuln: dict[str, Any],
        secret: bool,
        record: str,
        tool: str,
        asset: Asset,
    ) -> tuple[str | None, str]:
        """The finding's location (never a line or version) and this record's evidence."""
        path: str | None
        if kind in _PACKAGES or kind in _IMAGES:
            dependency = common.obj(location.get("dependency"))
            package = common.text(common.obj(dependency.get("package")).get("name"))
            version = common.text(dependency.get("version")) or "(version unknown)"
            if package is None:
                package = sca.UNKNOWN_PACKAGE
                self.ctx.warn(record, f"no location.dependency.package.name; package {package!r}; {sca.FALLBACK_NOTE}")
                self.gaps.add((tool, asset))
            file = repo_path(location.get("file")) if kind in _PACKAGES else None
            path = f"{file}: {package}" if file else package
            parts = [f"{package} {version}"]
            if file:
                parts.append(f"in {file}")
            system = common.text(location.get("operating_system"))
            if system:
                parts.append(f"on {system}")
            solution = common.text(vuln.get("solution"))
            if solution and solution.lower() != "no solution provided":
                parts.append(_cut(solution))
            return path, "; ".join(parts)
        if kind in _WEB:
            where = common.text(location.get("path"))
            path = _url_path(where) if where else None
            parts = [_cut(common.text(location.get("method")) or "?", 20), where or "/"]
            param = common.text(location.get("param"))
            if param:
                parts.append(f"param: {_cut(param)}")
            summary = common.text(common.obj(vuln.get("evidence")).get("summary"))
            if summary:
                parts.append(f"evidence: {_cut(summary)}")
            return path, " | ".join(parts)
        path = repo_path(location.get("file"))
        if path is None:
            self.ctx.warn(record, f"no location.file; read as project-wide; {sca.FALLBACK_NOTE}")
            self.gaps.add((tool, asset))
        first, last = location.get("start_line"), location.get("end_line")
        line = f"Line {first}" if isinstance(first, int) else "Line ?"
        if isinstance(last, int) and isinstance(first, int) and last != first:
            line = f"Lines {first}-{last}"
        parts = [line]
        where = ".".join(t for t in (common.text(location.get("class")), common.text(location.get("method"))) if t)
        if where:
            parts.append(f"in {where}")
        if secret:
            sha = common.text(common.obj(location.get("commit")).get("sha"))
            if sha and set(sha) != {"0"}:
                parts.append(f"commit {sha[:12]}")
            parts.append(WITHHELD)
            return path, "; ".join(parts)
        message = common.text(vuln.get("message"))
        if message:
            parts.append(_cut(" ".join(message.split())))
        code = common.text(vuln.get("raw_source_code_extract"))
        text = "; ".join(parts)
        if code:
            text += "\n    " + _cut(code, EVIDENCE_VALUE).replace("\n", "\n    ")
        flags = [common.text(common.obj(f).get("type")) for f in common.arr(vuln.get("flags"))]
        if any(flags):
            text += f"\nflagged: {', '.join(f for f in flags if f)}"
        return path, text

    def records(self, reports: list[_Report]) -> Iterator[Record]:
        """Coverage, findings, then the scan."""
        ctx = self.ctx
        weaknesses = {key: _weakness(key[0], key[1], draft) for key, draft in self.drafts.items()}
        covered = dict(self.covered)
        for report in reports:  # what a report covers even when it lists nothing there
            if not report.ok or report.kind is None:
                continue
            tool = f"GitLab {_LABELS[report.kind]}" + (f" ({report.scanner})" if report.scanner else "")
            if report.scanner is None:
                continue  # an unnamed analyzer: its tool is not known, so nothing is covered
            assets: list[tuple[Asset, Checks]] = []
            if report.kind in _WEB:
                assets = [(Asset(AssetKind.WEB_APP, name=web_origin(s)), Checks.VULNERABILITY) for s in report.sites]
            elif report.kind in _IMAGES:
                if not any(t == tool for t, _a in covered) and ctx.asset_name:
                    image = sca.image_repository(ctx.asset_name) or ctx.asset_name
                    assets = [(Asset(AssetKind.CONTAINER_IMAGE, name=image), Checks.VULNERABILITY)]
            elif ctx.asset_name:
                checks = Checks.ALL if report.kind in ("sast", "secret_detection") else Checks.VULNERABILITY
                assets = [(Asset(AssetKind.REPOSITORY, name=ctx.asset_name), checks)]
            for asset, checks in assets:
                covered.setdefault((tool, asset), (checks, report))
                self.tools.setdefault(tool)
        for (tool, asset), (checks, report) in covered.items():
            if (tool, asset) in self.gaps or not report.ok:
                if (tool, asset) in self.gaps and report.ok and asset.name not in (FALLBACK_ASSET, sca.UNNAMED):
                    ctx.warn(f"asset {asset.name}", sca.NO_COVERAGE)
                continue
            when = report.start or report.dating.time()
            end = report.end or when
            yield Coverage(asset, when, max(when, end), None, checks, tool=tool)
        for s in self.sightings.values():
            weakness = weaknesses[(s.tool, s.vuln_id)]
            evidence = sca.join_evidence(s.evidence)
            yield Finding(weakness, s.asset, s.when, evidence=evidence, path=s.path, status=FindingStatus.OPEN)
        started, ended = sca.window([r.dating for r in reports])
        starts = [r.start for r in reports if r.start] + ([started] if started else [])
        tools = list(self.tools) or [
            f"GitLab {_LABELS[r.kind]}" + (f" ({r.scanner})" if r.scanner else "") for r in reports if r.kind
        ]
        tool = tools[0] if len(set(tools)) == 1 else "GitLab security reports"
        version = next((r.version for r in reports if r.version), None)
        names = [r.scanner_name for r in reports]
        yield Scan(tool, version, sca.label(names, "reports"), min(starts) if starts else None, ended)


def _scanner_id(scanner: dict[str, Any]) -> str | None:
    """An analyzer's id (`semgrep`, `gemnasium`, `trivy`), else its name."""
    value = common.text(scanner.get("id")) or common.text(scanner.get("name"))
    return value[:60] if value else None


def _scanner_from_ids(vuln: dict[str, Any]) -> str | None:
    """The analyzer of an old report that names none, by its primary identifier's type
    (`eslint_rule_id`, `bandit_test_id`, `gitleaks_rule_id`)."""
    for ident in common.arr(vuln.get("identifiers")):
        kind = common.text(common.obj(ident).get("type"))
        if kind and kind.lower() in _ANALYZER_TYPES:
            return _ANALYZER_TYPES[kind.lower()]
        if kind and kind.lower() not in _CLASSIFICATIONS | {"cve", "ghsa"} and _ID_SUFFIX.search(kind):
            return _ID_SUFFIX.sub("", kind).lower()[:60] or None
    return None


def _kind(vuln: dict[str, Any], location: dict[str, Any]) -> str:
    """A vulnerability's report type when its report does not say: its `category`, else what its
    location shows."""
    category = (common.text(vuln.get("category")) or "").lower()
    if category in _LABELS:
        return category
    if common.text(location.get("image")):
        return "container_scanning"
    if common.text(location.get("hostname")):
        return "dast"
    package = common.text(common.obj(common.obj(location.get("dependency")).get("package")).get("name"))
    if package and common.text(location.get("file")):
        return "dependency_scanning"
    return "sast"


def _vuln_id(kind: str, identifiers: list[dict[str, Any]], vuln: dict[str, Any]) -> tuple[str | None, str | None]:
    """The check's id, and what it was taken from when not an identifier (a fallback)."""
    values = [(((common.text(i.get("type")) or "").lower()), common.text(i.get("value"))) for i in identifiers]
    values = [(t, v) for t, v in values if v]
    if kind in _PACKAGES or kind in _IMAGES:
        for wanted in ("cve", "ghsa"):
            found = next((v for t, v in values if t == wanted), None)
            if found:
                return (found.upper() if wanted == "cve" else found), None
    primary = next((v for t, v in values if t not in _CLASSIFICATIONS), None)
    if primary:
        return primary[:200], None
    if kind in _PACKAGES or kind in _IMAGES:
        cves = common.cves_in(vuln.get("cve"), vuln.get("name"), vuln.get("message"))
        if cves:
            return cves[0], "CVE in its name"
    for what in ("name", "message"):
        text = common.text(vuln.get(what))
        if text:
            return " ".join(text.split())[:200], what
    return None, None


def _severity(ctx: ParseContext, record: str, vuln: dict[str, Any]) -> Severity:
    word = vuln.get("severity")
    said = (common.text(word) or "").lower()
    found = _SEVERITY.get(said)
    if found is not None:
        return found
    if said in _UNRATED and (word is None or isinstance(word, str)):
        versions = _cvss(vuln)
        score = next((versions[v][0] for v in (3, 4, 2) if versions[v][0] is not None), None)
        banded = common.severity_score(score)
        return banded if banded is not None and banded is not Severity.INFO else Severity.LOW
    return common.odd_severity(ctx, record, word)


def _cvss(vuln: dict[str, Any]) -> dict[int, tuple[float | None, str | None]]:
    """Score and vector per CVSS version from `cvss_vectors` (schema 15)."""
    found: dict[int, tuple[float | None, str | None]] = {}
    for entry in common.arr(vuln.get("cvss_vectors")):
        vector = common.text(common.obj(entry).get("vector"))
        if not vector:
            continue
        upper = vector.upper()
        version = 4 if upper.startswith("CVSS:4") else 3 if upper.startswith("CVSS:3") else 2
        if version not in found:
            if version == 2:
                vector = cvss.clean_v2(vector)
            found[version] = (cvss.fill(version, None, vector), vector)
    return {v: found.get(v, (None, None)) for v in (2, 3, 4)}


def _weakness(tool: str, vuln_id: str, draft: _Draft) -> Weakness:
    vuln = draft.vuln
    identifiers = [common.obj(i) for i in common.arr(vuln.get("identifiers"))]
    location = common.obj(vuln.get("location"))
    package = common.text(common.obj(common.obj(location.get("dependency")).get("package")).get("name"))
    name = common.text(vuln.get("name")) or common.text(vuln.get("message"))
    if name is None:
        named = next((common.text(i.get("name")) for i in identifiers if common.text(i.get("name"))), None)
        name = f"{vuln_id} in {package}" if package and draft.kind in _PACKAGES | _IMAGES else named or vuln_id
    description = common.text(vuln.get("description"))
    if draft.secret and description:
        extract = common.text(vuln.get("raw_source_code_extract"))
        if extract and extract in description:
            description = None  # it quotes the secret
    links = [common.text(common.obj(link).get("url")) for link in common.arr(vuln.get("links"))]
    links += [common.text(i.get("url")) for i in identifiers]
    types = [((common.text(i.get("type")) or "").lower(), common.text(i.get("value")) or "") for i in identifiers]
    cwes = common.cwes_in([v for t, v in types if t == "cwe"])
    solution = common.text(vuln.get("solution"))
    if solution and solution.lower() == "no solution provided":
        solution = None
    scores = _cvss(vuln)
    return Weakness(
        tool=tool,
        vuln_id=vuln_id,
        name=" ".join(name.split())[:500],
        severity=draft.severity,
        family=_LABELS[draft.kind],
        description=description,
        solution=solution,
        see_also="\n".join(dict.fromkeys(u for u in links if u)) or None,
        cvss2_score=scores[2][0],
        cvss2_vector=scores[2][1],
        cvss3_score=scores[3][0],
        cvss3_vector=scores[3][1],
        cvss4_score=scores[4][0],
        cvss4_vector=scores[4][1],
        cves=common.cves_in(vuln_id, [v for t, v in types if t == "cve"]),
        cwes=tuple(dict.fromkeys(str(int(c)) for c in cwes if c.isdigit())),
    )


def _url_path(text: str) -> str:
    """A DAST location's path: no query or fragment."""
    text = text.strip()
    if "://" in text:
        return web_path(text)
    return "/" + text.split("?", 1)[0].split("#", 1)[0].lstrip("/")


def _cut(text: str, limit: int = EVIDENCE_VALUE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
