"""Prisma Cloud Compute (formerly Twistlock): twistcli JSON image scan results and the Console's
CSV export of Monitor > Vulnerabilities (Images, or Hosts).

twistcli JSON (`twistcli images scan --details --output-file`): `{results[], consoleURL}`, one
result per scanned image; a file may hold several such documents, concatenated or one per line
(JSON Lines): they are one import, each result dated by its own `scanTime`.

Findings of a result:
- a vulnerability per id and package: id `id` (a CVE, or Prisma's own `PRISMA-2021-0013`), path
  `packageName` without the binary packages Prisma appends to a source package (`glibc (used in
  libc6, libc-bin)` is `glibc`; the whole text goes to the evidence). A package seen at several
  paths (`packagePath`) is one finding. Versions, the fix status (`fixed in 1.2.3`), the
  package's path, risk factors and the layer go to the evidence; the fixed versions go to the
  weakness's solution. `status` is Prisma's fix status (`open`, `fixed in ...`, `will not fix`),
  never a verdict on the finding: every vulnerability listed is open, except one whose status says
  a person set it aside (`ignored`...), which is set aside, warned. `discoveredDate` (when Prisma
  first saw it on the image) is the finding's detection date when it is earlier than the scan.
- a compliance check per image: `compliances[]`, a configuration finding keyed by the check's
  numeric `id` (`404`); a check without `id` (older twistcli) is keyed by its `title`: a fallback
  identity, warned, and the image then gets no coverage from the file. `cause` goes to the
  evidence.

Severity is Prisma's word: critical, high, medium, low; `important` is high and `moderate`
medium; `unimportant` and `negligible` are informational unless a CVSS score gives a band; none
or `unknown`: the band of `cvss`, else Low; another word: the band, else Moderate, warned. `cvss`
is a CVSS v3 score unless its `vector` is a v2 vector.

The asset is the image by its repository without tag or digest (`name`); a result that names no
image (only its `id`, the image's sha256, which changes with each build) takes `--asset`, else a
fallback asset (`unnamed`) that gets no coverage, so it never closes findings of another unnamed
scan. A named image is covered for vulnerabilities and configuration (twistcli reports both
kinds on every scan), unless a record of it could not be read (left out with a warning) or took
a fallback identity.

Console CSV (Monitor > Vulnerabilities > Images or Hosts, `Export CSV`): one row per CVE (or
compliance check) and package per image (`Registry`, `Repository`, `Tag`, `Id`) or host
(`Hostname`). Rows with a `CVE ID` are vulnerabilities, path the `Source Package`, else
`Packages`; rows without one are compliance checks keyed by `Compliance ID` (configuration).
The Console's export follows the view's filters (collections, search, severity): it is a filtered
export that closes nothing by absence (format id `prisma-cloud-csv`). It has no scan time: rows
are seen at `--scan-date`, else the file's modification time, and detected at `Discovered` when
earlier. `CVSS` is read as a CVSS v3 score.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, csvio, cvss, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.nessus_csv import host_asset
from poam.parsers.sca import UNNAMED, Collector, Dating, Draft, as_list, text

TOOL = "Prisma Cloud Compute"
MAX_FIXES = 20
"""Packages whose fixed version a weakness's solution lists (each finding's evidence has its own)."""
_MARKERS = ('"vulnerabilityDistribution"', '"complianceDistribution"', '"vulnerabilityScanPassed"')
_USED_IN = re.compile(r"^(?P<name>.*?\S)\s*\(used in [^()]*\)$")
_FIXED_IN = re.compile(r"^\s*fixed\s+in\s+(?P<versions>.+)$", re.IGNORECASE)
_CSV_IMAGES = {"registry", "repository", "tag", "cve_id", "compliance_id", "severity", "packages"}
_CSV_HOSTS = {"hostname", "cve_id", "compliance_id", "severity", "packages"}
_NO_RATING = frozenset({"unimportant", "negligible"})


@dataclass
class _Target:
    """One scanned image (a result of the file) and what was found there."""

    asset: Asset
    named: bool
    dating: Dating
    label: str | None
    found: Collector
    since: dict[tuple[str, str | None], dt.datetime] = field(default_factory=dict)


class PrismaCloudParser:
    """Reader of twistcli's JSON image scan results."""

    id = "prisma-cloud"
    name = "Prisma Cloud Compute (Twistlock) twistcli JSON scan results"
    maps_to = (
        "one finding per vulnerability and package, and one configuration finding per compliance check; "
        "the scanned image is the asset"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """An object with `results` whose first result has Prisma's distribution counts or scan
        verdicts (or a document with twistcli's `consoleURL`)."""
        shape = head.json
        if shape.kind != "object" or "results" not in shape.keys:
            return False
        return "consoleURL" in shape.keys or any(m in head.text for m in _MARKERS)

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read every result, then yield per image its coverage and merged findings, and one scan."""
        docs = list(jsonio.documents(stream, ctx.source))
        targets: list[_Target] = []
        drafts: dict[str, Draft] = {}
        for d, doc in enumerate(docs, start=1):
            prefix = f"document {d}, " if len(docs) > 1 else ""
            if not isinstance(doc, dict) or "results" not in doc:
                what = f"document {d} is not" if len(docs) > 1 else "not"
                raise InputError(ctx.source, f"{what} a twistcli scan result: no `results` list")
            for n, result in enumerate(as_list(doc.get("results"), ctx.source, "results"), start=1):
                record = f"{prefix}result {n}"
                if not isinstance(result, dict):
                    ctx.skip(record, "not an object")
                    continue
                targets.append(_result(result, record, drafts, ctx))
        weaknesses = {vid: _weakness(vid, d) for vid, d in drafts.items()}
        gaps: dict[Asset, Collector] = {}
        for t in targets:
            gaps.setdefault(t.asset, Collector()).absorb(t.found)
        incomplete = {asset for asset, gap in gaps.items() if gap.incomplete}
        for asset in dict.fromkeys(t.asset for t in targets if t.asset in incomplete and t.named):
            ctx.warn(f"asset {asset.name}", gaps[asset].why)
        for t in targets:
            if t.named and t.asset not in incomplete:
                when = t.dating.time()
                yield Coverage(t.asset, when, when, None, Checks.ALL)
            for key, s in t.found.sightings.items():
                when = t.dating.time()
                since = t.since.get(key)
                yield Finding(
                    weaknesses[s.vuln_id],
                    t.asset,
                    when,
                    evidence=sca.join_evidence(s.evidence),
                    status=s.status,
                    path=s.path,
                    since=since if since is not None and since < when else None,
                )
        started, ended = sca.window([t.dating for t in targets])
        yield Scan(TOOL, None, sca.label([t.label for t in targets], "images"), started, ended)


def _result(result: dict[str, Any], record: str, drafts: dict[str, Draft], ctx: ParseContext) -> _Target:
    """One scanned image: its asset, time, and its vulnerabilities and compliance checks."""
    label = text(result.get("name")) or text(result.get("id"))
    image = sca.image_repository(text(result.get("name")))
    name = image or ctx.asset_name
    asset = Asset(AssetKind.CONTAINER_IMAGE, name=name or UNNAMED)
    record = f"{record} ({label})" if label else record
    when = sca.own_time(ctx, record, "scanTime", result.get("scanTime"))
    target = _Target(asset, name is not None, Dating(ctx, when), label, Collector())
    vulns = as_list(result.get("vulnerabilities"), ctx.source, f"{record}: vulnerabilities")
    for n, v in enumerate(vulns, start=1):
        if isinstance(v, dict):
            _vulnerability(v, f"{record}, vulnerability {n}", target, drafts, ctx)
        else:
            target.found.skip(ctx, f"{record}, vulnerability {n}", "not an object")
    checks = as_list(result.get("compliances"), ctx.source, f"{record}: compliances")
    for n, c in enumerate(checks, start=1):
        if isinstance(c, dict):
            _compliance(c, f"{record}, compliance {n}", target, drafts, ctx)
        else:
            target.found.skip(ctx, f"{record}, compliance {n}", "not an object")
    return target


def package_of(name: str) -> str:
    """The source package of Prisma's package text: `glibc (used in libc6, libc-bin)` is `glibc`."""
    m = _USED_IN.match(name)
    return m.group("name") if m else name


def fixed_versions(status: str | None) -> str | None:
    """The versions of a fix status `fixed in 1.2.3, 1.3.1`; None for any other status."""
    m = _FIXED_IN.match(status or "")
    return m.group("versions").strip() if m else None


def rate(ctx: ParseContext, record: str, word: object, score: float | None) -> Severity:
    """Prisma's severity word on poam's scale (see the module)."""
    said = text(word)
    if said is not None and said.lower() in _NO_RATING:
        word = "negligible"
    return sca.rated(ctx, record, word, score)


def scores(score: float | None, vector: str | None) -> dict[str, Any]:
    """CVSS fields from Prisma's score and vector: v2 when the vector is a v2 one, else v3."""
    if vector and not vector.upper().startswith("CVSS:") and "Au:" in vector:
        v2 = cvss.clean_v2(vector)
        return {"cvss2_score": cvss.fill(2, score, v2), "cvss2_vector": v2}
    v3 = sca.v3_vector(vector)
    return {"cvss3_score": cvss.fill(3, score, v3), "cvss3_vector": v3}


def _vulnerability(
    v: dict[str, Any], record: str, target: _Target, drafts: dict[str, Draft], ctx: ParseContext
) -> None:
    vuln_id = text(v.get("id"))
    if not vuln_id:
        target.found.skip(ctx, record, "no vulnerability id")
        return
    record = f"{record} ({vuln_id})"
    written = text(v.get("packageName"))
    pkg = package_of(written) if written else sca.UNKNOWN_PACKAGE
    if not written:
        target.found.fallback(ctx, record, f"no packageName; package {pkg!r}")
    said = text(v.get("status"))
    status = FindingStatus.OPEN
    if said and common.dismissed(said):
        ctx.warn(record, f"status {said[:40]!r} sets it aside; read as set aside")
        status = FindingStatus.SET_ASIDE
    fixed = fixed_versions(said)
    parts = [f"{written or pkg} {text(v.get('packageVersion')) or '(version unknown)'}"]
    if said:
        parts.append(said)
    where = text(v.get("packagePath"))
    if where:
        parts.append(f"at {where}")
    risks = v.get("riskFactors")
    factors = list(risks) if isinstance(risks, dict) else sca.texts(risks)
    if factors:
        parts.append("risk factors: " + ", ".join(str(f) for f in factors))
    layer = text(v.get("layerInstruction"))
    if layer:
        parts.append(f"layer: {layer[:200]}")
    target.found.add(vuln_id, pkg, status, "; ".join(parts))
    discovered = common.parse_time(text(v.get("discoveredDate")))
    key = (vuln_id, pkg)
    if discovered is not None and (key not in target.since or discovered < target.since[key]):
        target.since[key] = discovered
    score = sca.score(v.get("cvss"))
    rated = rate(ctx, record, v.get("severity"), score)
    draft = drafts.get(vuln_id)
    if draft is None:
        link = text(v.get("link"))
        draft = drafts[vuln_id] = Draft(
            {
                "name": vuln_id,
                "description": common.plain(text(v.get("description"))),
                "see_also": link,
                "cves": common.cves_in(vuln_id),
                **scores(score, text(v.get("vector"))),
            },
            rated,
        )
    draft.severity = sca.worse(draft.severity, rated)
    if fixed and status is FindingStatus.OPEN and len(draft.fixes) < MAX_FIXES:
        draft.fixes.setdefault(pkg, fixed)


def _compliance(c: dict[str, Any], record: str, target: _Target, drafts: dict[str, Draft], ctx: ParseContext) -> None:
    check = text(c.get("id"))
    title = text(c.get("title"))
    if not check:
        if not title:
            target.found.skip(ctx, record, "a compliance check without id or title")
            return
        check = title
        target.found.fallback(ctx, record, "a compliance check without id; keyed by its title")
    record = f"{record} ({check[:60]})"
    target.found.add(check, None, FindingStatus.OPEN, text(c.get("cause")))
    said = c.get("severity")
    rated = common.severity_word(text(said)) or common.odd_severity(ctx, record, said)
    draft = drafts.get(check)
    if draft is None:
        draft = drafts[check] = Draft(
            {
                "name": title or f"Compliance check {check}",
                "family": text(c.get("category")),
                "description": text(c.get("description")),
                "is_config": True,
            },
            rated,
        )
    draft.severity = sca.worse(draft.severity, rated)


def _weakness(vuln_id: str, draft: Draft) -> Weakness:
    fields = dict(draft.fields)
    if draft.fixes and not fields.get("solution"):
        upgrades = "; ".join(f"{pkg} to {ver}" for pkg, ver in sorted(draft.fixes.items()))
        more = " (and other packages: see each finding)" if len(draft.fixes) >= MAX_FIXES else ""
        fields["solution"] = f"Upgrade {upgrades}{more}"
    return Weakness(tool=TOOL, vuln_id=vuln_id, severity=draft.severity, **fields)


# --- the Console's CSV export ------------------------------------------------------------------


def _images_header(names: list[str]) -> bool:
    return set(names) >= _CSV_IMAGES


def _hosts_header(names: list[str]) -> bool:
    return set(names) >= _CSV_HOSTS


def _header(names: list[str]) -> bool:
    return _images_header(names) or _hosts_header(names)


class PrismaCloudCsvParser:
    """Reader of the Prisma Cloud Compute Console's vulnerability CSV export (images or hosts)."""

    id = "prisma-cloud-csv"
    name = "Prisma Cloud Compute (Twistlock) Console vulnerabilities CSV export (images, hosts)"
    maps_to = (
        "one finding per CVE and package, and one configuration finding per compliance check, on each image "
        "or host; closes nothing by absence (a filtered export)"
    )
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """Prisma's header: CVE ID, Compliance ID, Severity, Packages, with Registry, Repository
        and Tag (images) or Hostname (hosts)."""
        if head.json.kind is not None or head.xml_root:
            return False
        return csvio.header_fields(head.text, _header, ",") is not None

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Merge the rows by identity, then yield the findings and one scan."""
        assets: dict[Asset, tuple[Collector, dict[tuple[str, str | None], dt.datetime]]] = {}
        drafts: dict[str, Draft] = {}
        rows = 0
        for line, row in enumerate(csvio.rows(stream, ctx, _header, ","), start=2):
            rows += 1
            record = f"row {line}"
            asset = _csv_asset(row, ctx)
            if asset is None:
                ctx.skip(record, "no Repository or Hostname names its image or host (give --asset)")
                continue
            found, since = assets.setdefault(asset, (Collector(), {}))
            cve = text(row.get("cve_id"))
            key: tuple[str, str | None] | None
            if cve:
                key = _csv_vulnerability(row, record, cve, found, drafts, ctx)
            else:
                key = _csv_compliance(row, record, found, drafts, ctx)
            discovered = common.parse_time(text(row.get("discovered")))
            if key is not None and discovered is not None and (key not in since or discovered < since[key]):
                since[key] = discovered
        weaknesses = {vid: _weakness(vid, d) for vid, d in drafts.items()}
        dating = Dating(ctx, None)
        for asset, (found, since) in assets.items():
            for key, s in found.sightings.items():
                when = dating.time()
                first = since.get(key)
                yield Finding(
                    weaknesses[s.vuln_id],
                    asset,
                    when,
                    evidence=sca.join_evidence(s.evidence),
                    status=s.status,
                    path=s.path,
                    since=first if first is not None and first < when else None,
                )
        started, ended = sca.window([dating])
        names = [a.identifier for a in assets]
        label = names[0] if len(names) == 1 else f"{len(names)} assets" if names else None
        yield Scan(TOOL, None, label, started, ended)


def _csv_asset(row: dict[str, str], ctx: ParseContext) -> Asset | None:
    """The image (registry and repository) or host of a row; `--asset` for a row naming neither."""
    host = text(row.get("hostname"))
    if host:
        return host_asset(host)
    registry, repository = text(row.get("registry")), text(row.get("repository"))
    image = sca.image_repository(f"{registry}/{repository}" if registry and repository else repository)
    name = image or ctx.asset_name
    return Asset(AssetKind.CONTAINER_IMAGE, name=name) if name else None


def _csv_vulnerability(
    row: dict[str, str], record: str, cve: str, found: Collector, drafts: dict[str, Draft], ctx: ParseContext
) -> tuple[str, str | None]:
    record = f"{record} ({cve})"
    packages = text(row.get("packages"))
    pkg = text(row.get("source_package")) or (package_of(packages) if packages else None)
    if not pkg:
        pkg = sca.UNKNOWN_PACKAGE
        ctx.warn(record, f"no Source Package or Packages; package {pkg!r}")
    fix = text(row.get("fix_status"))
    parts = [f"{packages or pkg} {text(row.get('package_version')) or '(version unknown)'}"]
    if fix:
        parts.append(fix)
    for column, what in (("tag", "tag"), ("id", "image"), ("binaries", "binaries"), ("risk_factors", "risk factors")):
        value = text(row.get(column))
        if value:
            parts.append(f"{what} {value}")
    found.add(cve, pkg, FindingStatus.OPEN, "; ".join(parts))
    score = sca.score(text(row.get("cvss")))
    rated = rate(ctx, record, row.get("severity"), score)
    draft = drafts.get(cve)
    if draft is None:
        draft = drafts[cve] = Draft(
            {
                "name": cve,
                "description": common.plain(text(row.get("description"))),
                "cves": common.cves_in(cve),
                "cvss3_score": score,
            },
            rated,
        )
    draft.severity = sca.worse(draft.severity, rated)
    fixed = fixed_versions(fix)
    if fixed and len(draft.fixes) < MAX_FIXES:
        draft.fixes.setdefault(pkg, fixed)
    return (cve, pkg)


def _csv_compliance(
    row: dict[str, str], record: str, found: Collector, drafts: dict[str, Draft], ctx: ParseContext
) -> tuple[str, str | None] | None:
    check = text(row.get("compliance_id"))
    if not check:
        ctx.skip(record, "neither CVE ID nor Compliance ID")
        return None
    record = f"{record} (compliance {check})"
    found.add(check, None, FindingStatus.OPEN, text(row.get("cause")))
    said = row.get("severity")
    rated = common.severity_word(text(said)) or common.odd_severity(ctx, record, said)
    draft = drafts.get(check)
    if draft is None:
        description = text(row.get("description"))
        draft = drafts[check] = Draft(
            {
                "name": (description or f"Compliance check {check}").split("\n", 1)[0][:200],
                "description": description,
                "family": text(row.get("type")),
                "is_config": True,
            },
            rated,
        )
    draft.severity = sca.worse(draft.severity, rated)
    return (check, None)
