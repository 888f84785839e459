"""Aqua Trivy JSON: `SchemaVersion: 2` reports, the legacy top-level array (and `null`), and the
Kubernetes shapes (`ClusterName` with `Resources[]`, or the older `Vulnerabilities[]` and
`Misconfigurations[]` lists of resources). A file may hold several reports, concatenated or one
per line (JSON Lines): they are one import, each report dated by its own `CreatedAt`.

Findings:
- a vulnerability per package: id `VulnerabilityID`, path the package name. OS packages carry
  the name alone (`openssl`); language packages carry the result's target first
  (`app/requirements.txt: urllib3`), because one image or repository holds many lock files and
  archives. A target that names the package's own versioned file (`libs/foo-1.2.jar`,
  `Django-3.2.dist-info/METADATA`) is cut to the folder above it: no version in a location.
  Versions, fixed versions and statuses go to the evidence. Status `not_affected` (the vendor
  says this package is not affected) is a FIXED finding; the other documented statuses are open;
  an undocumented one that says the vulnerability was set aside (`ignored`, `suppressed`...) is
  set aside (warned).
- a misconfiguration per check and target file, `is_config`: FAIL is open, PASS is FIXED,
  EXCEPTION (waived by a policy) is set aside; the check id is the AVD id
  (`AVD-KSV-0001`; older files' `KSV001` is written the same way), else the check's id in its
  `Namespace` or `PrimaryURL`.
- a secret per rule and file (the line goes to the evidence); a secret without `RuleID` is keyed
  by its category (`secret:GitHub`), else its title, never by the matched text.
- the findings Trivy kept out of those lists (`--show-suppressed`: `ExperimentalModifiedFindings`
  of a result), each read as the vulnerability, misconfiguration or secret it wraps: status
  `ignored` (a `.trivyignore` or ignore policy) is set aside; `not_affected` or `fixed` (a VEX
  statement) is a FIXED finding, as the vendor's own `not_affected`; another status is set aside,
  warned. Licence findings are not read.

A set-aside record has the identity an open record of its finding would have: an open finding
of it stays open (the file still reports it: not a fix), and none is opened from it. Records of
one finding in one file: an open one wins, then a set-aside one, then a fixed one.

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
An asset with a record poam could not read (left out with a warning) gets no coverage from the
file; nor does one with a record kept under a fallback identity (warned): a vulnerability
without `PkgName` (its package URL's name, else `(unknown package)`), a misconfiguration
without `AVDID` or `ID`, a secret without `RuleID`, or a finding of a result without `Target`
(its file unknown; an OS package's vulnerability is located by the package alone), since the
finding such a record normally has is then not in the file under its own identity. A report
without `CreatedAt` is dated `--scan-date`, else the file's modification time. Files under
64 MiB are read whole, so that a check's weakness takes its worst severity across results;
larger image and repository reports are streamed one result at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.sca import UNNAMED, Collector, Dating, Draft, as_dict, as_list, image_repository, text

TOOL = "Trivy"
MAX_FIXES = 20
"""Packages whose fixed version a weakness's solution lists (each finding's evidence has its own)."""
STREAM_FROM = 64 * 1024 * 1024
"""Files from this size on are streamed result by result instead of read whole."""
_VULN_CLASSES = {"os-pkgs", "lang-pkgs"}
_OS_TARGET = re.compile(r"^(?P<name>\S.*?) \((?P<os>[^()]*)\)$")
_OS_TYPE = re.compile(  # Type of an OS-package result in legacy reports (which have no Class)
    r"alma|alpine|amazon|azurelinux|bottlerocket|cbl-mariner|centos|chainguard|debian|echo|fedora|minimos|"
    r"opensuse(\.leap|\.tumbleweed)?|oracle|photon|redhat|rocky|sles|suse.*|ubuntu|wolfi"
)
_AVD = re.compile(r"^(?:AVD-)?([A-Z]+)-?(\d+)$")
_ARCHIVES = (".tar", ".tar.gz", ".tgz", ".zip", ".oci")
_CVSS_KEYS = (("2", "V2Vector", "V2Score"), ("3", "V3Vector", "V3Score"), ("4", "V40Vector", "V40Score"))
VULN_STATUSES = frozenset(
    {
        "unknown",
        "not_affected",
        "affected",
        "fixed",
        "under_investigation",
        "will_not_fix",
        "fix_deferred",
        "end_of_life",
    }
)
"""The vulnerability statuses Trivy documents; only `not_affected` is a fix."""
MODIFIED_KEY = "ExperimentalModifiedFindings"
"""A result's findings Trivy kept out of its lists (`--show-suppressed`)."""
_MODIFIED_FIXED = frozenset({"not_affected", "fixed"})
"""Statuses of a modified finding that a VEX statement gives: not affected, or fixed."""
_MODIFIED_STATUSES = frozenset({"ignored", "unknown", "affected", "under_investigation", *_MODIFIED_FIXED})
"""The statuses Trivy documents for a modified finding."""


@dataclass
class _Target:
    """One scanned asset and what was found there."""

    asset: Asset
    named: bool
    checks: Checks | None
    found: Collector


@dataclass
class _Report:
    """One report of the file: its time, scanned targets, Trivy version and name."""

    dating: Dating
    targets: list[_Target]
    version: str | None = None
    name: str | None = None


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
        results with Target; or the legacy empty report `null` (of the file's first report)."""
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
        """Read the reports, then yield coverage and merged findings per asset, and one scan. A
        large file of image or repository reports is streamed result by result (see `_stream`)."""
        start = stream.tell()
        size = stream.seek(0, 2) - start
        stream.seek(start)
        if size >= STREAM_FROM:
            headers = jsonio.headers(stream, ctx.source, "Results")
            stream.seek(start)
            plans = [_streamable(header) for header, _count in headers or []]
            if headers and all(plans):
                yield from self._stream(headers, [p for p in plans if p], stream, ctx)
                return
        reader = _Reader(ctx)
        docs = list(jsonio.documents(stream, ctx.source))
        reports = []
        for number, doc in enumerate(docs, start=1):
            reader.prefix = f"report {number}: " if len(docs) > 1 else ""
            reports.append(reader.report(doc, number if len(docs) > 1 else None))
        weaknesses = {vid: _weakness(vid, d) for vid, d in reader.drafts.items()}
        incomplete = _incomplete(ctx, [t for r in reports for t in r.targets])
        for report in reports:
            for target in report.targets:
                if target.named and target.checks is not None and target.asset not in incomplete:
                    when = report.dating.time()
                    yield Coverage(target.asset, when, when, None, target.checks)
                for s in target.found.sightings.values():
                    evidence = sca.join_evidence(s.evidence)
                    weakness = weaknesses[s.vuln_id]
                    when = report.dating.time()
                    yield Finding(weakness, target.asset, when, evidence=evidence, status=s.status, path=s.path)
        yield _scan(reports)

    def _stream(
        self,
        headers: list[tuple[dict[str, Any], int]],
        plans: list[tuple[Asset, bool]],
        stream: BinaryIO,
        ctx: ParseContext,
    ) -> Iterator[Record]:
        """Large reports, one result at a time, so memory holds one result, not the file. A
        check's weakness is made when it is first seen (its worst severity across results is not
        waited for); duplicates across results are merged by the importer."""
        reader = _Reader(ctx)
        reports = [
            _Report(
                Dating(ctx, sca.own_time(ctx, _name(n, len(headers)), "CreatedAt", h.get("CreatedAt"))),
                [_Target(asset, named, None, Collector())],
                text(as_dict(h.get("Trivy")).get("Version")),
                text(h.get("ArtifactName")),
            )
            for n, ((h, _count), (asset, named)) in enumerate(zip(headers, plans, strict=True), start=1)
        ]
        counts = [count for _h, count in headers]
        weaknesses: dict[str, Weakness] = {}
        classes: list[list[dict[str, Any]]] = [[] for _ in headers]
        doc, taken = 0, 0
        for result in jsonio.items(stream, ctx.source, "Results.item"):
            while doc < len(counts) - 1 and taken >= counts[doc]:
                doc, taken = doc + 1, 0
            taken += 1
            reader.prefix = f"report {doc + 1}: " if len(headers) > 1 else ""
            report = reports[doc]
            target = report.targets[0]
            if not isinstance(result, dict):
                target.found.skip(ctx, f"{reader.prefix}result {taken}", "not an object")
                continue
            # only what `_checks` looks at: keeping the result's lists would keep the whole file
            classes[doc].append(
                {
                    k: True if k != "Class" else result.get(k)
                    for k in ("Class", "Vulnerabilities", "Misconfigurations")
                    if k in result
                }
            )
            found = Collector()
            reader.result(result, found, image_prefix=False)
            target.found.absorb(found)
            for s in found.sightings.values():
                weakness = weaknesses.get(s.vuln_id)
                if weakness is None:
                    weakness = weaknesses[s.vuln_id] = _weakness(s.vuln_id, reader.drafts[s.vuln_id])
                evidence = sca.join_evidence(s.evidence)
                when = report.dating.time()
                yield Finding(weakness, target.asset, when, evidence=evidence, status=s.status, path=s.path)
        for report, seen in zip(reports, classes, strict=True):
            report.targets[0].checks = _checks(seen)
        incomplete = _incomplete(ctx, [t for r in reports for t in r.targets])
        for report in reports:
            target = report.targets[0]
            if target.named and target.checks is not None and target.asset not in incomplete:
                when = report.dating.time()
                yield Coverage(target.asset, when, when, None, target.checks)
        yield _scan(reports)


def _name(number: int, count: int) -> str:
    """How warnings name a report: `report`, or `report 2` in a file of several."""
    return f"report {number}" if count > 1 else "report"


def _streamable(header: dict[str, Any]) -> tuple[Asset, bool] | None:
    """The asset of a schema-2 report whose header names it, or None (read the file whole)."""
    if "SchemaVersion" not in header or "ClusterName" in header:
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


def _incomplete(ctx: ParseContext, targets: list[_Target]) -> set[Asset]:
    """Assets with a record that could not be read or took a fallback identity: they get no
    coverage (nothing on them is closed by its absence), said once per asset that would have
    had it."""
    gaps: dict[Asset, Collector] = {}
    for t in targets:
        gaps.setdefault(t.asset, Collector()).absorb(t.found)
    out = {asset for asset, gap in gaps.items() if gap.incomplete}
    warned: set[Asset] = set()
    for t in targets:
        if t.asset in out and t.asset not in warned and t.named and t.checks is not None:
            warned.add(t.asset)
            ctx.warn(f"asset {t.asset.name}", gaps[t.asset].why)
    return out


def _scan(reports: list[_Report]) -> Scan:
    """The one scan of the file: the window of its reports, the first Trivy version."""
    started, ended = sca.window([r.dating for r in reports])
    version = next((r.version for r in reports if r.version), None)
    name = sca.label([r.name for r in reports], "reports")
    return Scan(TOOL, version, name, started, ended)


class _Reader:
    """The state of reading a file: the context and what is known of each check."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.source = ctx.source
        self.drafts: dict[str, Draft] = {}
        self.prefix = ""
        """`report N: ` in a file of several reports, to name records in warnings."""

    def report(self, doc: Any, number: int | None) -> _Report:
        """One report of the file, of whichever schema."""
        if doc is None:  # legacy Trivy wrote `null` for a scan without results
            return _Report(Dating(self.ctx, None), [])
        if isinstance(doc, list):
            return _Report(Dating(self.ctx, None), [self.legacy(doc)])
        record = self.prefix.removesuffix(": ") or "report"
        if isinstance(doc, dict) and "ClusterName" in doc:
            when = sca.own_time(self.ctx, record, "CreatedAt", doc.get("CreatedAt"))
            return _Report(Dating(self.ctx, when), self.kubernetes(doc), None, text(doc.get("ClusterName")))
        if isinstance(doc, dict) and ("SchemaVersion" in doc or "Results" in doc):
            when = sca.own_time(self.ctx, record, "CreatedAt", doc.get("CreatedAt"))
            version = text(as_dict(doc.get("Trivy")).get("Version"))
            return _Report(Dating(self.ctx, when), [self.artifact(doc)], version, text(doc.get("ArtifactName")))
        what = f"report {number} is not" if number else "not"
        raise InputError(self.source, f"{what} a Trivy report: no SchemaVersion, Results or ClusterName")

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
        self.results(results, found, image_prefix=False)
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
        self.results(doc, found, image_prefix=False)
        return _Target(asset, image is not None or bool(self.ctx.asset_name), _checks(doc), found)

    def kubernetes(self, doc: dict[str, Any]) -> list[_Target]:
        """A cluster report: one asset per resource, whichever list it appears in."""
        cluster = text(doc.get("ClusterName")) or self.ctx.asset_name
        account = region = None
        if cluster and cluster.startswith("arn:") and len(cluster.split(":")) >= 6:
            region, account = (p or None for p in cluster.split(":")[3:5])
        resources: dict[tuple[str, str, str], list[Any]] = {}
        for key in ("Resources", "Vulnerabilities", "Misconfigurations"):
            for number, res in enumerate(as_list(doc.get(key), self.source, key), start=1):
                if not isinstance(res, dict):
                    self.ctx.skip(f"{self.prefix}{key} entry {number}", "not an object")
                    continue
                ident = (text(res.get("Namespace")) or "", text(res.get("Kind")) or "", text(res.get("Name")) or "")
                if not ident[1] and not ident[2]:
                    self.ctx.skip(f"{self.prefix}{key} entry {number}", "a Kubernetes resource without Kind or Name")
                    continue
                results = resources.setdefault(ident, [])
                own = as_list(res.get("Results"), self.source, "Results")
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
            self.results(results, found, image_prefix=True, label=f"{namespace}/{kind}/{name}: ".lstrip("/"))
            targets.append(_Target(asset, cluster is not None, _checks(results), found))
        return targets

    def results(self, results: list[Any], found: Collector, image_prefix: bool, label: str = "") -> None:
        """Each result of a target; one that is not an object is left out."""
        for number, result in enumerate(results, start=1):
            if isinstance(result, dict):
                self.result(result, found, image_prefix, label)
            else:
                found.skip(self.ctx, f"{self.prefix}{label}result {number}", "not an object")

    def result(self, result: dict[str, Any], found: Collector, image_prefix: bool, label: str = "") -> None:
        """The vulnerabilities, misconfigurations and secrets of one result."""
        target = text(result.get("Target")) or ""
        where = f"{self.prefix}{label}{target or 'result'}"
        is_os = _os_result(result)
        if not target and _placed_by_target(result, is_os and not image_prefix):
            found.fallback(self.ctx, where, "no Target; its findings are kept without the file they are in")
        scope: str | None = None
        if is_os and image_prefix:  # a Kubernetes workload may run several images
            m = _OS_TARGET.match(target)
            scope = image_repository(m.group("name")) if m else None
        for n, v in enumerate(as_list(result.get("Vulnerabilities"), self.source, f"{target}: Vulnerabilities"), 1):
            if not isinstance(v, dict):
                found.skip(self.ctx, f"{where}: vulnerability {n}", "not an object")
                continue
            if not is_os:
                scope = _lang_scope(target, text(v.get("InstalledVersion")), text(result.get("Type")))
            self.vulnerability(v, target, scope, found, f"{where}: vulnerability {n}")
        for n, m in enumerate(as_list(result.get("Misconfigurations"), self.source, f"{target}: Misconfigurations"), 1):
            if not isinstance(m, dict):
                found.skip(self.ctx, f"{where}: misconfiguration {n}", "not an object")
                continue
            self.misconfiguration(m, target, found, f"{where}: misconfiguration {n}")
        for n, s in enumerate(as_list(result.get("Secrets"), self.source, f"{target}: Secrets"), 1):
            if not isinstance(s, dict):
                found.skip(self.ctx, f"{where}: secret {n}", "not an object")
                continue
            self.secret(s, target, found, f"{where}: secret {n}")
        for n, m in enumerate(as_list(result.get(MODIFIED_KEY), self.source, f"{target}: {MODIFIED_KEY}"), 1):
            self.modified(m, target, scope, is_os, result, found, f"{where}: suppressed finding {n}")

    def modified(
        self,
        m: object,
        target: str,
        scope: str | None,
        is_os: bool,
        result: dict[str, Any],
        found: Collector,
        record: str,
    ) -> None:
        """A finding Trivy kept out of the result's lists (`--show-suppressed`): the record it
        wraps, set aside (ignored) or fixed (a VEX statement says not affected or fixed)."""
        if not isinstance(m, dict) or not isinstance(m.get("Finding"), dict):
            found.skip(self.ctx, record, "not an object with a Finding")
            return
        kind = (text(m.get("Type")) or "").lower()
        said = text(m.get("Status"))
        word = (said or "").lower()
        if word in _MODIFIED_FIXED:
            status = FindingStatus.FIXED
        else:
            if word not in _MODIFIED_STATUSES and not common.dismissed(word):
                self.ctx.warn(record, f"status {str(said)[:40]!r} not recognised; set aside (neither open nor fixed)")
            status = FindingStatus.SET_ASIDE
        inner: dict[str, Any] = m["Finding"]
        if kind == "vulnerability":
            if not is_os:
                scope = _lang_scope(target, text(inner.get("InstalledVersion")), text(result.get("Type")))
            self.vulnerability(inner, target, scope, found, record, status)
        elif kind == "misconfiguration":
            self.misconfiguration(inner, target, found, record, status)
        elif kind == "secret":
            self.secret(inner, target, found, record, status)
        elif kind != "license":  # licences are not weaknesses; another kind is not one poam reads
            self.ctx.warn(record, f"type {str(text(m.get('Type')))[:40]!r} not read; ignored")

    def vulnerability(
        self,
        v: dict[str, Any],
        target: str,
        scope: str | None,
        found: Collector,
        record: str,
        given: FindingStatus | None = None,
    ) -> None:
        """One vulnerability; `given` is the status of a suppressed one (else its own `Status`)."""
        vuln_id = text(v.get("VulnerabilityID"))
        if not vuln_id:
            found.skip(self.ctx, record, "no VulnerabilityID")
            return
        record = f"{record} ({vuln_id})"
        pkg = text(v.get("PkgName"))
        if not pkg:
            purl = text(as_dict(v.get("PkgIdentifier")).get("PURL"))
            named = sca.purl_name(purl) if purl else None
            pkg = named or sca.UNKNOWN_PACKAGE
            found.fallback(
                self.ctx, record, f"no PkgName; package {pkg!r}" + (" from its package URL" if named else "")
            )
        installed, fixed = text(v.get("InstalledVersion")), text(v.get("FixedVersion"))
        said = v.get("Status")
        status_text = (text(said) or "").lower()
        status = FindingStatus.FIXED if status_text == "not_affected" else FindingStatus.OPEN
        if given is not None:
            status = given
        elif said is not None and said != "" and status_text not in VULN_STATUSES:
            if common.dismissed(status_text):
                self.ctx.warn(record, f"status {status_text!r} sets it aside; read as set aside")
                status = FindingStatus.SET_ASIDE
            else:
                common.odd_status(self.ctx, record, said)
        parts = [f"{pkg} {installed or '(version unknown)'}"]
        if fixed:
            parts.append(f"fixed in {fixed}")
        if status_text:
            parts.append(f"status {status_text}")
        pkg_path = text(v.get("PkgPath"))
        parts.append(f"target {target}" + (f" ({pkg_path})" if pkg_path else ""))
        found.add(vuln_id, f"{scope}: {pkg}" if scope else pkg, status, "; ".join(parts))
        draft = _vulnerability_draft(vuln_id, v, self.ctx, record)
        known = self.drafts.setdefault(vuln_id, draft)
        known.severity = sca.worse(known.severity, draft.severity)
        if fixed and status is FindingStatus.OPEN and len(known.fixes) < MAX_FIXES:
            known.fixes.setdefault(pkg, fixed)

    def misconfiguration(
        self, m: dict[str, Any], target: str, found: Collector, record: str, given: FindingStatus | None = None
    ) -> None:
        """One misconfiguration; `given` is the status of a suppressed one (else its own `Status`)."""
        check = _check_id(text(m.get("AVDID")), text(m.get("ID")))
        if not check:
            check = _check_from(text(m.get("Namespace")), text(m.get("PrimaryURL")))
            if not check:
                found.skip(self.ctx, record, "a misconfiguration without AVDID, ID or Namespace")
                return
            found.fallback(self.ctx, record, f"no AVDID or ID; check {check!r} taken from its Namespace or PrimaryURL")
        record = f"{record} ({check})"
        said = m.get("Status")
        outcome = (text(said) or "FAIL").upper() if said is not None else "FAIL"
        if given is not None:
            status = given
        elif outcome == "EXCEPTION" or common.dismissed(outcome):
            if outcome != "EXCEPTION":
                self.ctx.warn(record, f"status {outcome!r} sets it aside; read as set aside")
            status = FindingStatus.SET_ASIDE  # waived by the user's policy: neither open nor proven fixed
        elif outcome in {"FAIL", "PASS"}:
            status = FindingStatus.OPEN if outcome == "FAIL" else FindingStatus.FIXED
        else:
            common.odd_status(self.ctx, record, said)
            status = FindingStatus.OPEN
        cause = as_dict(m.get("CauseMetadata"))
        parts = [text(m.get("Message")), f"resource {text(cause.get('Resource'))}" if cause.get("Resource") else None]
        start, end = text(cause.get("StartLine")), text(cause.get("EndLine"))
        if start:
            parts.append(f"lines {start}-{end}" if end and end != start else f"line {start}")
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
            said_severity = m.get("Severity")
            if said_severity is None or said_severity == "":
                rated = Severity.MEDIUM
            else:
                rated = common.severity_word(text(said_severity)) or common.odd_severity(
                    self.ctx, record, said_severity
                )
            self.drafts[check] = Draft(fields, rated)

    def secret(
        self, s: dict[str, Any], target: str, found: Collector, record: str, given: FindingStatus | None = None
    ) -> None:
        """One secret (open; `given` is the status of a suppressed one)."""
        rule = text(s.get("RuleID"))
        if not rule:
            category, title = text(s.get("Category")), text(s.get("Title"))
            if not category and not title:
                found.skip(self.ctx, record, "a secret without RuleID, Category or Title")
                return
            rule = f"secret:{category or title}"
            how = "category" if category else "title"
            found.fallback(self.ctx, record, f"a secret without RuleID; keyed by its {how} as {rule!r}")
        record = f"{record} ({rule})"
        line, match = text(s.get("StartLine")), text(s.get("Match"))
        evidence = "; ".join(p for p in (line and f"line {line}", match) if p)
        found.add(rule, target or None, given or FindingStatus.OPEN, evidence)
        if rule not in self.drafts:
            title = text(s.get("Title")) or rule
            fields = {
                "name": f"Secret: {title}",
                "family": text(s.get("Category")),
                "description": f"Trivy found a secret ({title}) in the file.",
                "solution": "Remove the secret from the file and its history, and revoke or rotate it.",
            }
            self.drafts[rule] = Draft(fields, self.word(record, s.get("Severity"), Severity.HIGH))

    def word(self, record: str, said: object, default: Severity) -> Severity:
        """A misconfiguration's or secret's severity word; `default` when absent, Moderate with a
        warning when poam cannot read it."""
        if said is None or said == "":
            return default
        return common.severity_word(text(said)) or common.odd_severity(self.ctx, record, said)


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


def _placed_by_target(result: dict[str, Any], os_packages: bool) -> bool:
    """Whether a result lists a finding whose location is its Target: any misconfiguration,
    secret or suppressed finding, and a vulnerability except an OS package's (located by the
    package alone)."""
    lists = ["Misconfigurations", "Secrets", MODIFIED_KEY] + ([] if os_packages else ["Vulnerabilities"])
    return any(isinstance(result.get(key), list) and result[key] for key in lists)


def _check_id(avd: str | None, check: str | None) -> str | None:
    """The AVD id of a check: `AVD-KSV-0001` for `KSV001`, `KSV-0001` or `AVD-KSV-0001`."""
    for value in (avd, check):
        if value:
            m = _AVD.match(value.upper())
            if m:
                return f"AVD-{m.group(1)}-{int(m.group(2)):04d}"
    return avd or check


def _check_from(namespace: str | None, url: str | None) -> str | None:
    """The check id of a misconfiguration without AVDID or ID: the last part of its Rego
    `Namespace` (`builtin.kubernetes.KSV001`) or of its `PrimaryURL` (`.../misconfig/ksv001`)
    when it reads as one, written as AVD ids are; else the whole Namespace (custom checks)."""
    for value in (namespace, url):
        if value:
            last = re.split(r"[./]", value.rstrip("/"))[-1]
            m = _AVD.match(last.upper())
            if m:
                return f"AVD-{m.group(1)}-{int(m.group(2)):04d}"
    return namespace


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


def _vulnerability_draft(vuln_id: str, v: dict[str, Any], ctx: ParseContext, record: str) -> Draft:
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
    rated = sca.rated(ctx, record, v.get("Severity"), *(n if isinstance(n, float) else None for n in numbers))
    refs = [text(v.get("PrimaryURL")), *sca.texts(v.get("References"))]
    return Draft(
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


def _weakness(vuln_id: str, draft: Draft) -> Weakness:
    fields = dict(draft.fields)
    if draft.fixes and not fields.get("solution"):
        upgrades = "; ".join(f"{pkg} to {ver}" for pkg, ver in sorted(draft.fixes.items()))
        more = " (and other packages: see each finding)" if len(draft.fixes) >= MAX_FIXES else ""
        fields["solution"] = f"Upgrade {upgrades}{more}"
    return Weakness(tool=TOOL, vuln_id=vuln_id, severity=draft.severity, **fields)
