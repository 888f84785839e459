"""Anchore Grype JSON (`grype -o json`): `{matches[], source, distro, descriptor}`.

One finding per vulnerability id and package: id `vulnerability.id` (a CVE, GHSA, ALAS...),
with the CVEs of `relatedVulnerabilities`; path the artifact's name (`libc6`). Versions, fix
state and the artifact's locations go to the evidence; a package seen at several locations is
one finding. Severity is Grype's word (`Negligible` is informational); when it is missing or
`Unknown`, the band of the CVSS score. CVSS comes from the vulnerability's own `cvss` list (the
NVD entry first), else from the related records; Grype before 0.10 wrote `cvssV2`/`cvssV3`.

The asset is `source.target`: an image (`type: image`) by its repository without tag or digest
(`userInput`, else its tags or repo digests); a directory or file by `userInput` (or the target
text of old versions). When the file does not name it (`.`, or no source at all, as some files
have only `matches`), `--asset` names it; without one the findings go on a fallback asset and
the file gives no coverage. A named target is the scan's coverage (checks: vulnerabilities):
Grype reports every match of the target. The time is `descriptor.timestamp`, else the file's.
The whole document is read into memory (`jsonio.load`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.sca import UNNAMED, Collector, as_dict, as_list, text

TOOL = "Grype"


class GrypeParser:
    """Reader of Grype's JSON output."""

    id = "grype"
    name = "Anchore Grype JSON"
    maps_to = "one finding per vulnerability and package; the scanned image or directory is the asset"
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """An object with `matches`, and Grype's `descriptor` or a match's `vulnerability` and `artifact`."""
        shape = head.json
        if shape.kind != "object" or "matches" not in shape.keys:
            return False
        if "descriptor" in shape.keys and '"grype"' in head.text:
            return True
        return '"artifact"' in head.text and '"vulnerability"' in head.text and '"matchDetails"' in head.text

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the report, then yield the coverage, the merged findings and the scan."""
        doc = jsonio.load(stream, ctx.source)
        if not isinstance(doc, dict) or "matches" not in doc:
            raise InputError(ctx.source, "not a Grype report: no `matches` list")
        descriptor = as_dict(doc.get("descriptor"))
        when = common.parse_time(descriptor.get("timestamp"))
        observed = when or ctx.fallback_time()
        asset, named, label = _asset(as_dict(doc.get("source")), ctx)
        found = Collector()
        severities: dict[str, Severity] = {}
        first: dict[str, dict[str, Any]] = {}
        fixes: dict[str, dict[str, str]] = {}
        for n, match in enumerate(as_list(doc.get("matches"), ctx.source, "matches")):
            m = as_dict(match)
            vuln, artifact = as_dict(m.get("vulnerability")), as_dict(m.get("artifact"))
            vuln_id, pkg = text(vuln.get("id")), text(artifact.get("name"))
            if not vuln_id or not pkg:
                raise InputError(ctx.source, f"match {n + 1}: no vulnerability.id or artifact.name")
            fix = as_dict(vuln.get("fix"))
            fixed = ", ".join(sca.texts(fix.get("versions")))
            if fixed:
                fixes.setdefault(vuln_id, {}).setdefault(pkg, fixed)
            found.add(vuln_id, pkg, FindingStatus.OPEN, _evidence(artifact, fix, fixed))
            first.setdefault(vuln_id, m)
            rated = _severity(vuln, as_list(m.get("relatedVulnerabilities"), ctx.source, "relatedVulnerabilities"))
            severities[vuln_id] = sca.worse(severities.get(vuln_id, rated), rated)
        if named:
            yield Coverage(asset, observed, observed, None, Checks.VULNERABILITY)
        weaknesses = {vid: _weakness(vid, m, severities[vid], fixes.get(vid, {})) for vid, m in first.items()}
        for s in found.sightings.values():
            evidence = sca.join_evidence(s.evidence)
            yield Finding(weaknesses[s.vuln_id], asset, observed, evidence=evidence, status=s.status, path=s.path)
        yield Scan(TOOL, text(descriptor.get("version")), label, when, when)


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


def _evidence(artifact: dict[str, Any], fix: dict[str, Any], fixed: str) -> str:
    parts = [f"{text(artifact.get('name'))} {text(artifact.get('version')) or '(version unknown)'}"]
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


def _severity(vuln: dict[str, Any], related: list[Any]) -> Severity:
    """Grype's word for the match, else a related record's word, else the CVSS bands."""
    word = text(vuln.get("severity"))
    if not word or word.lower() == "unknown":
        word = next((w for w in (text(as_dict(r).get("severity")) for r in related) if w and w != "Unknown"), word)
    scores = _cvss([vuln, *(as_dict(r) for r in related)])
    return sca.severity(word, scores[3][0], scores[4][0], scores[2][0])


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
