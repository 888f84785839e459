"""Anchore Grype JSON (`grype -o json`): `{matches[], source, distro, descriptor}`. A file may hold
several reports, concatenated or one per line (JSON Lines): they are one import, each report
dated by its own `descriptor.timestamp`.

One finding per vulnerability id and package: id `vulnerability.id` (a CVE, GHSA, ALAS...),
with the CVEs of `relatedVulnerabilities`; path the artifact's name (`libc6`; without one, the
name in its package URL, else `(unknown package)`, warned). Versions, fix state and the
artifact's locations go to the evidence; a package seen at several locations is one finding.
Severity is Grype's word (`Negligible` is informational); when it is missing or `Unknown`, the
band of the CVSS score; a word poam does not know is rated by the score, else Moderate, warned.
CVSS comes from the vulnerability's own `cvss` list (the NVD entry first), else from the related
records; Grype before 0.10 wrote `cvssV2`/`cvssV3`. A match that is not an object or has no
vulnerability id is left out (warned) and its target gets no coverage from the file. A match
without `artifact.name` is kept under its fallback package (warned), and its target gets no
coverage from the file either: the finding it normally has is not in the file under its own
identity, so its absence proves no fix.

`ignoredMatches` (matches an ignore rule kept out of `matches`: the configuration's `ignore`
rules, `--only-fixed` / `--only-notfixed`, a `--vex` document) are read as matches are, with the
same identity: one whose rules are all VEX statements (`vex-status` not_affected or fixed) is a
FIXED finding, as an OpenVEX document's statement would be; any other is set aside: an open
finding of it stays open (the file still reports it: not a fix), and none is opened from it. An
open match of a finding wins over an ignored one, a set-aside one over a fixed one. An ignored
match adds no fixed version to the weakness's solution.

The asset is `source.target`: an image (`type: image`) by its repository without tag or digest
(`userInput`, else its tags or repo digests); a directory or file by `userInput` (or the target
text of old versions). When the file does not name it (`.`, or no source at all, as some files
have only `matches`), `--asset` names it; without one the findings go on a fallback asset and
the file gives no coverage. A named target is the scan's coverage (checks: vulnerabilities):
Grype reports every match of the target. The time is `descriptor.timestamp`, else `--scan-date`,
else the file's modification time. The whole file is read into memory (`jsonio.documents`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.sca import UNNAMED, Collector, Dating, as_dict, as_list, text

TOOL = "Grype"
_VEX_FIXED = frozenset({"not_affected", "fixed"})
"""VEX statuses Grype moves a match to `ignoredMatches` for."""


@dataclass
class _Report:
    """One report of the file: its time, target and what was found there."""

    dating: Dating
    asset: Asset
    named: bool
    label: str | None
    version: str | None
    found: Collector


class GrypeParser:
    """Reader of Grype's JSON output."""

    id = "grype"
    name = "Anchore Grype JSON"
    maps_to = "one finding per vulnerability and package; the scanned image or directory is the asset"
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """An object with `matches`, and Grype's `descriptor` or a match's `vulnerability` and
        `artifact` (of the file's first report)."""
        shape = head.json
        if shape.kind != "object" or "matches" not in shape.keys:
            return False
        if "descriptor" in shape.keys and '"grype"' in head.text:
            return True
        return '"artifact"' in head.text and '"vulnerability"' in head.text and '"matchDetails"' in head.text

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the reports, then yield the coverage, the merged findings and one scan."""
        docs = list(jsonio.documents(stream, ctx.source))
        reports: list[_Report] = []
        severities: dict[str, Severity] = {}
        first: dict[str, dict[str, Any]] = {}
        # vulnerabilities only ignored: their weakness, when no open match of them gives it
        aside_severities: dict[str, Severity] = {}
        aside_first: dict[str, dict[str, Any]] = {}
        fixes: dict[str, dict[str, str]] = {}
        for number, doc in enumerate(docs, start=1):
            prefix = f"report {number}: " if len(docs) > 1 else ""
            if not isinstance(doc, dict) or "matches" not in doc:
                what = f"report {number} is not" if len(docs) > 1 else "not"
                raise InputError(ctx.source, f"{what} a Grype report: no `matches` list")
            descriptor = as_dict(doc.get("descriptor"))
            asset, named, label = _asset(as_dict(doc.get("source")), ctx)
            record = prefix.removesuffix(": ") or "report"
            dating = Dating(ctx, sca.own_time(ctx, record, "descriptor.timestamp", descriptor.get("timestamp")))
            found = Collector()
            reports.append(_Report(dating, asset, named, label, text(descriptor.get("version")), found))
            matches = as_list(doc.get("matches"), ctx.source, "matches")
            ignored = as_list(doc.get("ignoredMatches"), ctx.source, "ignoredMatches")
            entries = [("match", n, m, FindingStatus.OPEN) for n, m in enumerate(matches, start=1)]
            entries += [("ignored match", n, m, _ignored_status(m)) for n, m in enumerate(ignored, start=1)]
            for what, n, match, status in entries:
                record = f"{prefix}{what} {n}"
                if not isinstance(match, dict):
                    found.skip(ctx, record, "not an object")
                    continue
                vuln, artifact = as_dict(match.get("vulnerability")), as_dict(match.get("artifact"))
                vuln_id = text(vuln.get("id"))
                if not vuln_id:
                    found.skip(ctx, record, "no vulnerability.id")
                    continue
                record = f"{record} ({vuln_id})"
                pkg = text(artifact.get("name"))
                if not pkg:
                    purl = text(artifact.get("purl"))
                    named_by_purl = sca.purl_name(purl) if purl else None
                    pkg = named_by_purl or sca.UNKNOWN_PACKAGE
                    how = " from its package URL" if named_by_purl else ""
                    found.fallback(ctx, record, f"no artifact.name; package {pkg!r}{how}")
                fix = as_dict(vuln.get("fix"))
                fixed = ", ".join(sca.texts(fix.get("versions")))
                if fixed and status is FindingStatus.OPEN:
                    fixes.setdefault(vuln_id, {}).setdefault(pkg, fixed)
                found.add(vuln_id, pkg, status, _evidence(pkg, artifact, fix, fixed))
                related = match.get("relatedVulnerabilities")
                if related is not None and not isinstance(related, list):
                    ctx.warn(record, "relatedVulnerabilities is not a list; ignored")
                rated = _severity(vuln, sca.items(related), ctx, record)
                known, known_first = (
                    (severities, first) if status is FindingStatus.OPEN else (aside_severities, aside_first)
                )
                known_first.setdefault(vuln_id, match)
                known[vuln_id] = sca.worse(known.get(vuln_id, rated), rated)
        for vid, m in aside_first.items():
            if vid not in first:
                first[vid], severities[vid] = m, aside_severities[vid]
        weaknesses = {vid: _weakness(vid, m, severities[vid], fixes.get(vid, {})) for vid, m in first.items()}
        gaps: dict[Asset, Collector] = {}
        for report in reports:
            gaps.setdefault(report.asset, Collector()).absorb(report.found)
        incomplete = {asset for asset, gap in gaps.items() if gap.incomplete}
        for asset in dict.fromkeys(r.asset for r in reports if r.asset in incomplete and r.named):
            ctx.warn(f"asset {asset.name}", gaps[asset].why)
        for report in reports:
            if report.named and report.asset not in incomplete:
                when = report.dating.time()
                yield Coverage(report.asset, when, when, None, Checks.VULNERABILITY)
            for s in report.found.sightings.values():
                evidence = sca.join_evidence(s.evidence)
                weakness = weaknesses[s.vuln_id]
                when = report.dating.time()
                yield Finding(weakness, report.asset, when, evidence=evidence, status=s.status, path=s.path)
        started, ended = sca.window([r.dating for r in reports])
        version = next((r.version for r in reports if r.version), None)
        yield Scan(TOOL, version, sca.label([r.label for r in reports], "reports"), started, ended)


def _ignored_status(match: object) -> FindingStatus:
    """An ignored match: FIXED when every rule that ignored it is a VEX statement saying not
    affected or fixed; set aside otherwise (a person's or the tool's ignore rule)."""
    rules = [as_dict(r) for r in sca.items(as_dict(match).get("appliedIgnoreRules"))]
    vex = [(text(r.get("vex-status")) or "").lower() for r in rules]
    if vex and all(v in _VEX_FIXED for v in vex):
        return FindingStatus.FIXED
    return FindingStatus.SET_ASIDE


def _asset(source: dict[str, Any], ctx: ParseContext) -> tuple[Asset, bool, str | None]:
    """The scanned target, whether the file (or `--asset`) names it, and its label as written."""
    kind = (text(source.get("type")) or "").lower()
    target = source.get("target")
    if isinstance(target, str):  # old directory sources: the path as a JSON string, quotes included
        user_input = target.strip().strip('"') or None
        target = {}
    else:
        target = as_dict(target)
        user_input = text(target.get("userInput"))
    if kind == "image":
        refs = [user_input, *sca.texts(target.get("tags")), *sca.texts(target.get("repoDigests"))]
        image = next((name for name in (sca.image_repository(r) for r in refs) if name), None)
        name = image or ctx.asset_name
        return Asset(AssetKind.CONTAINER_IMAGE, name=name or UNNAMED), name is not None, user_input
    weak = user_input in {None, ".", "./"} or kind == "sbom"  # `.` or an SBOM's file name names no software
    name = ctx.asset_name if weak else user_input
    return Asset(AssetKind.REPOSITORY, name=name or user_input or UNNAMED), name is not None, user_input


def _evidence(pkg: str, artifact: dict[str, Any], fix: dict[str, Any], fixed: str) -> str:
    parts = [f"{pkg} {text(artifact.get('version')) or '(version unknown)'}"]
    if text(artifact.get("type")):
        parts[0] += f" ({text(artifact.get('type'))})"
    if fixed:
        parts.append(f"fixed in {fixed}")
    if text(fix.get("state")):
        parts.append(f"fix state {text(fix.get('state'))}")
    paths = [text(as_dict(loc).get("path")) for loc in sca.items(artifact.get("locations")) if isinstance(loc, dict)]
    if any(paths):
        parts.append("at " + ", ".join(p for p in paths[:5] if p))
    return "; ".join(parts)


def _severity(vuln: dict[str, Any], related: list[Any], ctx: ParseContext, record: str) -> Severity:
    """Grype's word for the match, else a related record's word, else the CVSS bands; a word
    poam cannot read is rated by the score, else Moderate, with a warning."""
    word: object = vuln.get("severity")
    said = text(word)
    if word is None or (said is not None and said.lower() == "unknown"):
        found = (w for w in (text(as_dict(r).get("severity")) for r in related) if w and w.lower() != "unknown")
        word = next(found, word)
    scores = _cvss([vuln, *(as_dict(r) for r in related)])
    return sca.rated(ctx, record, word, scores[3][0], scores[4][0], scores[2][0])


def _cvss(records: list[dict[str, Any]]) -> dict[int, tuple[float | None, str | None]]:
    """Score and vector per CVSS version from the first record that has one (NVD's entry first)."""
    picked: dict[int, tuple[float | None, str | None]] = {}
    for record in records:
        entries = [as_dict(e) for e in sca.items(record.get("cvss")) if isinstance(e, dict)]
        entries.sort(key=lambda e: 0 if "nvd" in (text(e.get("source")) or "") or e.get("type") == "Primary" else 1)
        for old in ("cvssV2", "cvssV3"):  # Grype before 0.10
            if isinstance(record.get(old), dict):
                entries.append({"version": old[-1], **record[old], "metrics": record[old]})
        for e in entries:
            version = int(sca.score(text(e.get("version"))) or 0)
            vector = text(e.get("vector"))
            value = sca.score(as_dict(e.get("metrics")).get("baseScore"))
            if version in (2, 3, 4) and version not in picked and (vector or value is not None):
                if version == 2:
                    vector = cvss.clean_v2(vector)
                picked[version] = (cvss.fill(version, value, vector), vector)
    return {v: picked.get(v, (None, None)) for v in (2, 3, 4)}


def _weakness(vuln_id: str, match: dict[str, Any], rated: Severity, fixes: dict[str, str]) -> Weakness:
    vuln = as_dict(match.get("vulnerability"))
    related = [as_dict(r) for r in sca.items(match.get("relatedVulnerabilities"))]
    scores = _cvss([vuln, *related])
    description = text(vuln.get("description")) or next((text(r.get("description")) for r in related), None)
    links = [text(vuln.get("dataSource")), *sca.texts(vuln.get("urls")), *sca.texts(vuln.get("links"))]
    links += [u for r in related for u in sca.texts(r.get("urls"))]
    fix_text = "; ".join(f"{pkg} to {ver}" for pkg, ver in sorted(fixes.items()))
    return Weakness(
        tool=TOOL,
        vuln_id=vuln_id,
        name=vuln_id,
        severity=rated,
        family=text(vuln.get("namespace")),
        description=description,
        solution=f"Upgrade {fix_text}" if fix_text else None,
        see_also="\n".join(dict.fromkeys(u for u in links if u)) or None,
        cvss2_score=scores[2][0],
        cvss2_vector=scores[2][1],
        cvss3_score=scores[3][0],
        cvss3_vector=scores[3][1],
        cvss4_score=scores[4][0],
        cvss4_vector=scores[4][1],
        cves=common.cves_in(vuln_id, [text(r.get("id")) for r in related]),
        cwes=common.cwes_in(sca.texts(vuln.get("cwes"))),
    )
