"""Aqua Trivy JSON: `SchemaVersion: 2` reports, the legacy top-level array (and `null`), and the
Kubernetes shapes (`ClusterName` with `Resources[]`, or the older `Vulnerabilities[]` and
`Misconfigurations[]` lists of resources).

Findings:
- a vulnerability per package: id `VulnerabilityID`, path the package name. OS packages carry
  the name alone (`openssl`); language packages carry the result's target first
  (`app/requirements.txt: urllib3`), because one image or repository holds many lock files and
  archives. A target that names the package's own versioned file (`libs/foo-1.2.jar`,
  `Django-3.2.dist-info/METADATA`) is cut to the folder above it: no version in a location.
  Versions, fixed versions and statuses go to the evidence. Status `not_affected` (the vendor
  says this package is not affected) is a FIXED finding.
- a misconfiguration per check and target file, `is_config`: FAIL is open, PASS is FIXED; the
  check id is the AVD id (`AVD-KSV-0001`; older files' `KSV001` is written the same way).
- a secret per rule and file (the line goes to the evidence).

The asset: an image (`container_image`) by its repository without tag or digest; a filesystem,
repository or SBOM scan by `ArtifactName`; a Kubernetes resource as `cluster/namespace/kind/name`
(a cloud resource with account and region when the cluster is an EKS ARN). When the file does
not name what it scanned (`ArtifactName` `.` or empty) the importer's `--asset` names it; without
one the finding goes on a fallback asset (`.`, the SBOM file name or `unnamed`) and the file gives
no coverage, so it never closes findings of another unnamed scan.

Coverage: the scanned asset with checks by what the results show ran: package results
(os-pkgs, lang-pkgs) mean vulnerabilities, config results mean configuration, both mean all.
A report with no results at all counts as a vulnerability scan; one whose results are only
secrets or licences gives no coverage (a `--scanners secret` run proves no package is fixed).
Reports under 64 MiB are read whole, so that a check's weakness takes its worst severity across
results; larger image and repository reports are streamed one result at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.sca import UNNAMED, Collector, as_dict, as_list, image_repository, text

TOOL = "Trivy"
MAX_FIXES = 20
"""Packages whose fixed version a weakness's solution lists (each finding's evidence has its own)."""
STREAM_FROM = 64 * 1024 * 1024
"""Reports from this size on are streamed result by result instead of read whole."""
_VULN_CLASSES = {"os-pkgs", "lang-pkgs"}
_OS_TARGET = re.compile(r"^(?P<name>\S.*?) \((?P<os>[^()]*)\)$")
_OS_TYPE = re.compile(  # Type of an OS-package result in legacy reports (which have no Class)
    r"alma|alpine|amazon|azurelinux|bottlerocket|cbl-mariner|centos|chainguard|debian|echo|fedora|minimos|"
    r"opensuse(\.leap|\.tumbleweed)?|oracle|photon|redhat|rocky|sles|suse.*|ubuntu|wolfi"
)
_AVD = re.compile(r"^(?:AVD-)?([A-Z]+)-?(\d+)$")
_ARCHIVES = (".tar", ".tar.gz", ".tgz", ".zip", ".oci")
_CVSS_KEYS = (("2", "V2Vector", "V2Score"), ("3", "V3Vector", "V3Score"), ("4", "V40Vector", "V40Score"))


@dataclass
class _Draft:
    """What the file says about one check, gathered before its Weakness is made."""

    fields: dict[str, Any]
    severity: Severity
    fixes: dict[str, str] = field(default_factory=dict)


@dataclass
class _Target:
    """One scanned asset and what was found there."""

    asset: Asset
    named: bool
    checks: Checks | None
    found: Collector


class TrivyParser:
    """Reader of Trivy JSON reports of every schema."""

    id = "trivy"
    name = "Aqua Trivy JSON (image, filesystem, repository, SBOM and Kubernetes scans)"
    maps_to = (
        "one finding per vulnerability and package, misconfiguration check and file, secret rule and file; "
        "the scanned image, repository or Kubernetes resource is the asset"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """SchemaVersion with ArtifactName/Results; ClusterName with resources; a legacy array of
        results with Target; or the legacy empty report `null`."""
        shape = head.json
        if shape.kind == "object":
            keys = shape.keys
            if "SchemaVersion" in keys and keys & {"ArtifactName", "ArtifactType", "Results"}:
                return True
            return "ClusterName" in keys and bool(keys & {"Resources", "Vulnerabilities", "Misconfigurations"})
        if shape.kind == "array":
            items = shape.item_keys
            return "Target" in items and bool(items & {"Vulnerabilities", "Misconfigurations", "Secrets", "Type"})
        return head.text.strip() == "null"

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the report, then yield coverage and merged findings per asset, and the scan. A
        large image or repository report is streamed result by result (see `_stream`)."""
        start = stream.tell()
        size = stream.seek(0, 2) - start
        stream.seek(start)
        if size >= STREAM_FROM:
            header = jsonio.top_level(stream, ctx.source, frozenset({"Results"}))
            stream.seek(start)
            streamed = self._streamable(header, ctx)
            if streamed is not None:
                yield from self._stream(header, streamed, stream, ctx)
                return
        doc = jsonio.load(stream, ctx.source)
        reader = _Reader(ctx)
        version = name = when = None
        if doc is None:  # legacy Trivy wrote `null` for a scan without results
            targets: list[_Target] = []
        elif isinstance(doc, list):
            targets = [reader.legacy(doc)]
        elif isinstance(doc, dict) and "ClusterName" in doc:
            when, name = common.parse_time(doc.get("CreatedAt")), text(doc.get("ClusterName"))
            targets = reader.kubernetes(doc)
        elif isinstance(doc, dict) and ("SchemaVersion" in doc or "Results" in doc):
            when, name = common.parse_time(doc.get("CreatedAt")), text(doc.get("ArtifactName"))
            version = text(as_dict(doc.get("Trivy")).get("Version"))
            targets = [reader.artifact(doc)]
        else:
            raise InputError(ctx.source, "not a Trivy report: no SchemaVersion, Results or ClusterName")
        observed = when or ctx.fallback_time()
        weaknesses = {vid: _weakness(vid, d) for vid, d in reader.drafts.items()}
        for target in targets:
            if target.named and target.checks is not None:
                yield Coverage(target.asset, observed, observed, None, target.checks)
            for s in target.found.sightings.values():
                evidence = sca.join_evidence(s.evidence)
                weakness = weaknesses[s.vuln_id]
                yield Finding(weakness, target.asset, observed, evidence=evidence, status=s.status, path=s.path)
        yield Scan(tool=TOOL, tool_version=version, name=name, started_at=when, ended_at=when)

    def _streamable(self, header: Any, ctx: ParseContext) -> tuple[Asset, bool] | None:
        """The asset of a schema-2 report whose header names it, or None (read it whole)."""
        if not isinstance(header, dict) or "SchemaVersion" not in header or "ClusterName" in header:
            return None
        kind = (text(header.get("ArtifactType")) or "").lower()
        artifact = text(header.get("ArtifactName"))
        meta = as_dict(header.get("Metadata"))
        if kind == "container_image":
            image = _image_name(artifact, meta, [])
            return (Asset(AssetKind.CONTAINER_IMAGE, name=image), True) if image else None
        if kind in {"filesystem", "repository"} and artifact not in {None, ".", "./"}:
            return Asset(AssetKind.REPOSITORY, name=artifact), True
        return None

    def _stream(
        self, header: dict[str, Any], target: tuple[Asset, bool], stream: BinaryIO, ctx: ParseContext
    ) -> Iterator[Record]:
        """A large report, one result at a time, so memory holds one result, not the file. A
        check's weakness is made when it is first seen (its worst severity across results is not
        waited for); duplicates across results are merged by the importer."""
        asset, named = target
        when = common.parse_time(header.get("CreatedAt"))
        observed = when or ctx.fallback_time()
        reader = _Reader(ctx)
        weaknesses: dict[str, Weakness] = {}
        classes: list[dict[str, Any]] = []
        for result in jsonio.items(stream, ctx.source, "Results.item"):
            r = as_dict(result)
            # only what `_checks` looks at: keeping the result's lists would keep the whole file
            classes.append(
                {
                    k: True if k != "Class" else r.get(k)
                    for k in ("Class", "Vulnerabilities", "Misconfigurations")
                    if k in r
                }
            )
            found = Collector()
            reader.result(r, found, image_prefix=False)
            for s in found.sightings.values():
                weakness = weaknesses.get(s.vuln_id)
                if weakness is None:
                    weakness = weaknesses[s.vuln_id] = _weakness(s.vuln_id, reader.drafts[s.vuln_id])
                evidence = sca.join_evidence(s.evidence)
                yield Finding(weakness, asset, observed, evidence=evidence, status=s.status, path=s.path)
        checks = _checks(classes)
        if named and checks is not None:
            yield Coverage(asset, observed, observed, None, checks)
        version = text(as_dict(header.get("Trivy")).get("Version"))
        yield Scan(
            tool=TOOL, tool_version=version, name=text(header.get("ArtifactName")), started_at=when, ended_at=when
        )


class _Reader:
    """The state of reading one report: the context and what is known of each check."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.source = ctx.source
        self.drafts: dict[str, _Draft] = {}

    def artifact(self, doc: dict[str, Any]) -> _Target:
        """A SchemaVersion 2 report of one image, filesystem, repository or SBOM."""
        ctx = self.ctx
        results = as_list(doc.get("Results"), self.source, "Results")
        kind = (text(doc.get("ArtifactType")) or "").lower()
        artifact = text(doc.get("ArtifactName"))
        meta = as_dict(doc.get("Metadata"))
        if kind == "container_image" or (kind in {"cyclonedx", "spdx"} and _image_from_metadata(meta)):
            image = _image_name(artifact, meta, results)
            named = image is not None or bool(ctx.asset_name)
            asset = Asset(AssetKind.CONTAINER_IMAGE, name=image or ctx.asset_name or UNNAMED)
        else:
            weak = None
            if kind in {"cyclonedx", "spdx"} or artifact in {None, ".", "./"}:
                weak, artifact = artifact, None  # the SBOM's file name or `.`: not a name of what was scanned
            named = artifact is not None or bool(ctx.asset_name)
            asset_kind = AssetKind.OTHER if kind == "vm" else AssetKind.REPOSITORY
            asset = Asset(asset_kind, name=artifact or ctx.asset_name or weak or UNNAMED)
        found = Collector()
        for result in results:
            self.result(as_dict(result), found, image_prefix=False)
        return _Target(asset, named, _checks(results), found)

    def legacy(self, doc: list[Any]) -> _Target:
        """A legacy report: a list of results; the image shows in the OS result's target."""
        image = None
        for result in doc:
            r = as_dict(result)
            m = _OS_TARGET.match(text(r.get("Target")) or "")
            if m and _os_result(r):
                image = image_repository(m.group("name"))
                break
        if image:
            asset = Asset(AssetKind.CONTAINER_IMAGE, name=image)
        else:
            asset = Asset(AssetKind.REPOSITORY, name=self.ctx.asset_name or ".")
        found = Collector()
        for result in doc:
            if not isinstance(result, dict):
                raise InputError(self.source, "legacy Trivy report: an entry is not an object")
            self.result(result, found, image_prefix=False)
        return _Target(asset, image is not None or bool(self.ctx.asset_name), _checks(doc), found)

    def kubernetes(self, doc: dict[str, Any]) -> list[_Target]:
        """A cluster report: one asset per resource, whichever list it appears in."""
        cluster = text(doc.get("ClusterName")) or self.ctx.asset_name
        account = region = None
        if cluster and cluster.startswith("arn:") and len(cluster.split(":")) >= 6:
            region, account = (p or None for p in cluster.split(":")[3:5])
        resources: dict[tuple[str, str, str], list[Any]] = {}
        for key in ("Resources", "Vulnerabilities", "Misconfigurations"):
            for res in as_list(doc.get(key), self.source, key):
                r = as_dict(res)
                ident = (text(r.get("Namespace")) or "", text(r.get("Kind")) or "", text(r.get("Name")) or "")
                if not ident[1] and not ident[2]:
                    raise InputError(self.source, f"Kubernetes {key} entry without Kind or Name")
                results = resources.setdefault(ident, [])
                own = as_list(r.get("Results"), self.source, "Results")
                results.extend(own)
                if not own and key != "Resources":  # listed in its section: scanned, nothing found
                    results.append({"Class": "config" if key == "Misconfigurations" else "os-pkgs"})
        targets = []
        for (namespace, kind, name), results in resources.items():
            asset_name = "/".join(p for p in (cluster, namespace, kind, name) if p)
            if account:
                asset = Asset(AssetKind.CLOUD_RESOURCE, name=asset_name, account=account, region=region)
            else:
                asset = Asset(AssetKind.OTHER, name=asset_name)
            found = Collector()
            for result in results:
                self.result(as_dict(result), found, image_prefix=True)
            targets.append(_Target(asset, cluster is not None, _checks(results), found))
        return targets

    def result(self, result: dict[str, Any], found: Collector, image_prefix: bool) -> None:
        """The vulnerabilities, misconfigurations and secrets of one result."""
        target = text(result.get("Target")) or ""
        is_os = _os_result(result)
        scope: str | None = None
        if is_os and image_prefix:  # a Kubernetes workload may run several images
            m = _OS_TARGET.match(target)
            scope = image_repository(m.group("name")) if m else None
        for v in as_list(result.get("Vulnerabilities"), self.source, f"{target}: Vulnerabilities"):
            v = as_dict(v)
            if not is_os:
                scope = _lang_scope(target, text(v.get("InstalledVersion")), text(result.get("Type")))
            self.vulnerability(v, target, scope, found)
        for m in as_list(result.get("Misconfigurations"), self.source, f"{target}: Misconfigurations"):
            self.misconfiguration(as_dict(m), target, found)
        for s in as_list(result.get("Secrets"), self.source, f"{target}: Secrets"):
            self.secret(as_dict(s), target, found)

    def vulnerability(self, v: dict[str, Any], target: str, scope: str | None, found: Collector) -> None:
        vuln_id, pkg = text(v.get("VulnerabilityID")), text(v.get("PkgName")) or "(unknown package)"
        if not vuln_id:
            return  # names no weakness (seen in a hand-trimmed legacy file): nothing to track
        installed, fixed = text(v.get("InstalledVersion")), text(v.get("FixedVersion"))
        status_text = (text(v.get("Status")) or "").lower()
        status = FindingStatus.FIXED if status_text == "not_affected" else FindingStatus.OPEN
        parts = [f"{pkg} {installed or '(version unknown)'}"]
        if fixed:
            parts.append(f"fixed in {fixed}")
        if status_text:
            parts.append(f"status {status_text}")
        pkg_path = text(v.get("PkgPath"))
        parts.append(f"target {target}" + (f" ({pkg_path})" if pkg_path else ""))
        found.add(vuln_id, f"{scope}: {pkg}" if scope else pkg, status, "; ".join(parts))
        draft = _vulnerability_draft(vuln_id, v)
        known = self.drafts.setdefault(vuln_id, draft)
        known.severity = sca.worse(known.severity, draft.severity)
        if fixed and status is FindingStatus.OPEN and len(known.fixes) < MAX_FIXES:
            known.fixes.setdefault(pkg, fixed)

    def misconfiguration(self, m: dict[str, Any], target: str, found: Collector) -> None:
        check = _check_id(text(m.get("AVDID")), text(m.get("ID")))
        if not check:
            raise InputError(self.source, f"{target or 'result'}: misconfiguration without ID")
        outcome = (text(m.get("Status")) or "FAIL").upper()
        if outcome not in {"FAIL", "PASS"}:
            return  # EXCEPTION: waived by the user's policy, neither open nor proven fixed
        cause = as_dict(m.get("CauseMetadata"))
        parts = [text(m.get("Message")), f"resource {text(cause.get('Resource'))}" if cause.get("Resource") else None]
        start, end = text(cause.get("StartLine")), text(cause.get("EndLine"))
        if start:
            parts.append(f"lines {start}-{end}" if end and end != start else f"line {start}")
        status = FindingStatus.OPEN if outcome == "FAIL" else FindingStatus.FIXED
        found.add(check, target or None, status, "; ".join(p for p in parts if p))
        if check not in self.drafts:
            refs = [text(m.get("PrimaryURL")), *sca.texts(m.get("References"))]
            fields = {
                "name": text(m.get("Title")) or check,
                "family": text(m.get("Type")),
                "description": text(m.get("Description")),
                "solution": text(m.get("Resolution")),
                "see_also": "\n".join(dict.fromkeys(r for r in refs if r)) or None,
                "is_config": True,
            }
            rated = common.severity_word(text(m.get("Severity")), Severity.MEDIUM) or Severity.MEDIUM
            self.drafts[check] = _Draft(fields, rated)

    def secret(self, s: dict[str, Any], target: str, found: Collector) -> None:
        rule = text(s.get("RuleID"))
        if not rule:
            raise InputError(self.source, f"{target or 'result'}: secret without RuleID")
        line, match = text(s.get("StartLine")), text(s.get("Match"))
        found.add(rule, target or None, FindingStatus.OPEN, "; ".join(p for p in (line and f"line {line}", match) if p))
        if rule not in self.drafts:
            title = text(s.get("Title")) or rule
            fields = {
                "name": f"Secret: {title}",
                "family": text(s.get("Category")),
                "description": f"Trivy found a secret ({title}) in the file.",
                "solution": "Remove the secret from the file and its history, and revoke or rotate it.",
            }
            self.drafts[rule] = _Draft(fields, common.severity_word(text(s.get("Severity"))) or Severity.HIGH)


# --- helpers ---------------------------------------------------------------------------------


def _image_from_metadata(meta: dict[str, Any]) -> str | None:
    for key in ("RepoTags", "RepoDigests"):
        for ref in sca.items(meta.get(key)):
            name = image_repository(text(ref))
            if name:
                return name
    return None


def _image_name(artifact: str | None, meta: dict[str, Any], results: list[Any]) -> str | None:
    """The image's repository: ArtifactName (unless an image archive's file name), then the
    tags or digests in Metadata, then the OS result's target (`repo:tag (debian 12.1)`)."""
    name = None if artifact and artifact.lower().endswith(_ARCHIVES) else image_repository(artifact)
    name = name or _image_from_metadata(meta)
    if name:
        return name
    for result in results:
        r = as_dict(result)
        m = _OS_TARGET.match(text(r.get("Target")) or "")
        if m and _os_result(r):
            return image_repository(m.group("name"))
    return None


def _os_result(result: dict[str, Any]) -> bool:
    cls = (text(result.get("Class")) or "").lower()
    if cls:
        return cls == "os-pkgs"
    kind = (text(result.get("Type")) or "").lower()
    return bool(_OS_TYPE.fullmatch(kind) or _OS_TARGET.match(text(result.get("Target")) or ""))


def _lang_scope(target: str, installed: str | None, kind: str | None) -> str | None:
    """The target of a language-package result, cut above a path part naming the installed
    version (`libs/commons-compress-1.14.jar` becomes `libs`); the result type when nothing is left."""
    parts = [p for p in target.replace("\\", "/").split("/") if p]
    if installed:
        version = re.compile(rf"(?<![A-Za-z0-9.]){re.escape(installed)}(?!\.?[0-9])")
        for n, part in enumerate(parts):
            if version.search(part):
                parts = parts[:n]
                break
    return "/".join(parts) or kind or None


def _check_id(avd: str | None, check: str | None) -> str | None:
    """The AVD id of a check: `AVD-KSV-0001` for `KSV001`, `KSV-0001` or `AVD-KSV-0001`."""
    for value in (avd, check):
        if value:
            m = _AVD.match(value.upper())
            if m:
                return f"AVD-{m.group(1)}-{int(m.group(2)):04d}"
    return avd or check


def _checks(results: list[Any]) -> Checks | None:
    """What the results show was scanned: packages, configuration files, both; None when the
    results are only secrets or licences, or absent (a secret or misconfiguration run that found
    nothing lists no results, while a vulnerability run lists its OS result even when clean)."""
    if not results:
        return None
    vuln = conf = False
    for result in results:
        r = as_dict(result)
        cls = (text(r.get("Class")) or "").lower()
        if cls in _VULN_CLASSES or (not cls and "Vulnerabilities" in r):
            vuln = True
        elif cls == "config" or (not cls and "Misconfigurations" in r):
            conf = True
    if vuln and conf:
        return Checks.ALL
    if conf:
        return Checks.CONFIGURATION
    return Checks.VULNERABILITY if vuln else None


def _vulnerability_draft(vuln_id: str, v: dict[str, Any]) -> _Draft:
    sources = as_dict(v.get("CVSS"))
    order = ["nvd", text(v.get("SeveritySource")) or "", *sources]
    picked: dict[str, tuple[float | None, str | None]] = {}
    for version, vkey, skey in _CVSS_KEYS:
        for src in order:
            entry = as_dict(sources.get(src))
            vector, value = text(entry.get(vkey)), sca.score(entry.get(skey))
            if vector or value is not None:
                picked[version] = (value, vector)
                break
    v2 = picked.get("2", (None, None))
    v3 = picked.get("3", (None, None))
    v4 = picked.get("4", (None, None))
    v2_vector = cvss.clean_v2(v2[1])
    scores = {
        "cvss2_score": cvss.fill(2, v2[0], v2_vector),
        "cvss2_vector": v2_vector,
        "cvss3_score": cvss.fill(3, v3[0], v3[1]),
        "cvss3_vector": v3[1],
        "cvss4_score": cvss.fill(4, v4[0], v4[1]),
        "cvss4_vector": v4[1],
    }
    numbers = [scores[k] for k in ("cvss3_score", "cvss4_score", "cvss2_score")]
    rated = sca.severity(text(v.get("Severity")), *(n if isinstance(n, float) else None for n in numbers))
    refs = [text(v.get("PrimaryURL")), *sca.texts(v.get("References"))]
    return _Draft(
        fields={
            "name": text(v.get("Title")) or vuln_id,
            "description": text(v.get("Description")),
            "see_also": "\n".join(dict.fromkeys(r for r in refs if r)) or None,
            "cves": common.cves_in(vuln_id, sca.texts(v.get("VendorIDs"))),
            "cwes": common.cwes_in(sca.texts(v.get("CweIDs"))),
            **scores,
        },
        severity=rated,
    )


def _weakness(vuln_id: str, draft: _Draft) -> Weakness:
    fields = dict(draft.fields)
    if draft.fixes and not fields.get("solution"):
        upgrades = "; ".join(f"{pkg} to {ver}" for pkg, ver in sorted(draft.fixes.items()))
        more = " (and other packages: see each finding)" if len(draft.fixes) >= MAX_FIXES else ""
        fields["solution"] = f"Upgrade {upgrades}{more}"
    return Weakness(tool=TOOL, vuln_id=vuln_id, severity=draft.severity, **fields)
