"""Domain objects of a POA&M: systems, assets, scans, findings, items and milestones.

Plain frozen dataclasses and enums. This module imports the standard library only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    """A risk level. FedRAMP's workbook has Low, Moderate and High; Critical counts as High there."""

    LOW = "Low"
    MODERATE = "Moderate"
    HIGH = "High"
    CRITICAL = "Critical"

    @property
    def fedramp(self) -> Level:
        """The level as the FedRAMP workbook lists it (Critical folds into High)."""
        return Level.HIGH if self is Level.CRITICAL else self

    @property
    def rank(self) -> int:
        """Order of severity: Low 1 ... Critical 4."""
        return _LEVEL_RANK[self]


_LEVEL_RANK = {Level.LOW: 1, Level.MODERATE: 2, Level.HIGH: 3, Level.CRITICAL: 4}


class Severity(StrEnum):
    """A scanner's own rating of one result."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class YesNo(StrEnum):
    """The Yes/No/Pending answers of the FedRAMP workbook."""

    YES = "Yes"
    NO = "No"
    PENDING = "Pending"


class ItemStatus(StrEnum):
    """Open items sit on the Open sheet; closed ones on the Closed sheet."""

    OPEN = "open"
    CLOSED = "closed"


class FindingStatus(StrEnum):
    """A finding is open until a later scan that covered its asset no longer reports it."""

    OPEN = "open"
    FIXED = "fixed"
    SET_ASIDE = "set-aside"
    """Only in a parser's records, never stored: the file still reports the weakness but a person
    set it aside there (suppressed, ignored, dismissed, accepted). Not an open finding and never a
    fix: a finding already open stays open (the file's absence of it proves nothing), one not yet
    known is not created."""


class AssetKind(StrEnum):
    """What sort of thing an asset is. Hosts match by their strongest identifier; every other
    kind by its `name`: a web application's origin (`https://app.example.com`), a container
    image's repository without tag (`ghcr.io/acme/web`), a source repository or project, a cloud
    resource's ARN or resource id."""

    HOST = "host"
    WEB_APP = "web-app"
    CONTAINER_IMAGE = "container-image"
    REPOSITORY = "repository"
    CLOUD_RESOURCE = "cloud-resource"
    OTHER = "other"


class Checks(StrEnum):
    """Which kind of checks a scan ran on an asset: it can only show those findings fixed."""

    VULNERABILITY = "vulnerability"
    CONFIGURATION = "configuration"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class Asset:
    """An inventory item as a scan saw it: the identifiers it reported."""

    kind: AssetKind = AssetKind.HOST
    ip: str | None = None
    fqdn: str | None = None
    netbios: str | None = None
    mac: str | None = None
    name: str | None = None
    os: str | None = None
    account: str | None = None
    """Cloud account or subscription of a cloud resource."""
    region: str | None = None
    """Cloud region of a cloud resource."""

    @property
    def identifier(self) -> str:
        """The Asset Identifier shown on the POA&M: for hosts the FQDN, else IP, else NetBIOS or
        MAC; for other kinds their name."""
        if self.kind is not AssetKind.HOST and self.name:
            return self.name
        for value in (self.fqdn, self.ip, self.netbios, self.mac, self.name):
            if value:
                return value
        return "unknown"


@dataclass(frozen=True, slots=True)
class Weakness:
    """What a scanner knows about one vulnerability check, independent of where it was seen."""

    tool: str
    vuln_id: str
    name: str
    severity: Severity
    family: str | None = None
    synopsis: str | None = None
    description: str | None = None
    solution: str | None = None
    see_also: str | None = None
    cvss2_score: float | None = None
    cvss2_vector: str | None = None
    cvss3_score: float | None = None
    cvss3_vector: str | None = None
    cvss4_score: float | None = None
    cvss4_vector: str | None = None
    cves: tuple[str, ...] = ()
    cwes: tuple[str, ...] = ()
    iavas: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()
    ccis: tuple[str, ...] = ()
    """DISA Control Correlation Identifiers (configuration checks), mapped to 800-53 controls."""
    is_config: bool = False


@dataclass(frozen=True, slots=True)
class Finding:
    """One weakness seen on one asset at one location (port/protocol, or a path: a package, a
    file in a repository, a URL path), at one time."""

    weakness: Weakness
    asset: Asset
    observed_at: dt.datetime
    port: int | None = None
    protocol: str | None = None
    service: str | None = None
    evidence: str | None = None
    status: FindingStatus = FindingStatus.OPEN
    path: str | None = None
    """Where on the asset, for what has no port: a package (`openssl`), a file
    (`src/app.py`), a URL path (`/login`)."""
    since: dt.datetime | None = None
    """When the tool first detected it, for exports that date an open finding by the export
    (`observed_at`) but say when the tool created it (Wiz `Created At`): a finding new to poam is
    detected then."""

    @property
    def location(self) -> str:
        """`443/tcp`, or the path, or an empty string when the result is asset-wide."""
        return location_text(self.port, self.protocol, self.path)


def location_text(port: int | None, protocol: str | None, path: str | None = None) -> str:
    """`443/tcp` for a real port; else the path; empty for neither (Nessus' port 0 is host-wide).
    A path with a port gives `443/tcp /login`."""
    where = f"{port}/{(protocol or 'tcp').lower()}" if port else ""
    if path:
        return f"{where} {path}" if where else path
    return where


@dataclass(frozen=True, slots=True)
class Coverage:
    """A scan looked at this asset between these times, whether or not it found anything."""

    asset: Asset
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    authenticated: bool | None = None
    checks: Checks = Checks.ALL
    """Which findings the scan could have seen here: only those it can show fixed."""
    tool: str | None = None
    """The tool that covered the asset, when a file holds several tools' runs (SARIF); None is
    the scan's own tool."""


@dataclass(frozen=True, slots=True)
class Scan:
    """One scan as a whole: its tool, version, name and window, known once its file is read."""

    tool: str
    tool_version: str | None = None
    name: str | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    skipped_families: tuple[str, ...] = ()
    """Families of checks the scan did not run: it cannot show their findings fixed."""
    partial_checks: tuple[str, ...] = ()
    """Vulnerability ids whose results this file lists only in part (ZAP cuts long instance
    lists): it cannot show their absent findings fixed."""
    partial_paths: tuple[str, ...] = ()
    """Locations (a package, a file: a finding's `path`) the scan did not fully check (a
    dependency pip-audit could not audit, a file Semgrep could not parse): it cannot show the
    absent findings there fixed."""


@dataclass(frozen=True, slots=True)
class Milestone:
    """A planned milestone: `(1) 2026-01-15: text`. Once reported it never changes (changes go to
    Milestone Changes). `placeholder`: the automatic first one an import creates; `by`: who added
    it (None: poam itself); `status` is `open` or `complete` (by a person, or by a Complete change)."""

    number: int
    date: dt.date
    text: str
    status: str = "open"
    completed_on: dt.date | None = None
    placeholder: bool = False
    by: str | None = None


class ChangeKind(StrEnum):
    """The kinds of entry in the Milestone Changes column."""

    NEW = "New"
    UPDATE = "Update"
    COMPLETE = "Complete"


@dataclass(frozen=True, slots=True)
class MilestoneChange:
    """An entry of Milestone Changes: `(2) Update 2026-02-01 : text`; `by` is who made it (None:
    poam itself, e.g. the Complete change of an item a scan closed)."""

    number: int
    kind: ChangeKind
    date: dt.date
    text: str
    by: str | None = None


@dataclass(frozen=True, slots=True)
class System:
    """An authorization boundary: one POA&M."""

    name: str
    impact: Level = Level.MODERATE
    org: str | None = None
    policy: str = "fedramp-rev5"
    id_prefix: str = "V-"
    fedramp_id: str | None = None
    point_of_contact: str | None = None
    service_names: str | None = None


@dataclass(frozen=True, slots=True)
class AffectedAsset:
    """An asset on a POA&M item, with the location the finding was seen at."""

    identifier: str
    location: str = ""
    status: FindingStatus = FindingStatus.OPEN
    asset_ref: str = ""
    """A stable reference to the inventory asset (two assets may share an identifier)."""

    @property
    def text(self) -> str:
        """How the FedRAMP Asset Identifier column writes it: `host (443/tcp)`, a web page's full
        URL (`https://app.example.com/login`), `ghcr.io/acme/web (openssl)`."""
        if not self.location:
            return self.identifier
        if self.location.startswith("/") and "://" in self.identifier:
            return self.identifier.rstrip("/") + self.location
        return f"{self.identifier} ({self.location})"


@dataclass(frozen=True, slots=True)
class PoamItem:
    """One row of the FedRAMP POA&M workbook."""

    poam_id: str
    status: ItemStatus
    weakness_name: str
    weakness_description: str
    detector_source: str
    source_identifier: str
    detection_date: dt.date
    scheduled_completion_date: dt.date
    status_date: dt.date
    original_risk: Level
    controls: tuple[str, ...] = ()
    assets: tuple[AffectedAsset, ...] = ()
    point_of_contact: str | None = None
    resources_required: str | None = None
    remediation_plan: str | None = None
    milestones: tuple[Milestone, ...] = ()
    milestone_changes: tuple[MilestoneChange, ...] = ()
    vendor_dependency: YesNo = YesNo.NO
    last_vendor_checkin: dt.date | None = None
    vendor_product: str | None = None
    adjusted_risk: Level | None = None
    risk_adjustment: YesNo = YesNo.NO
    false_positive: YesNo = YesNo.NO
    operational_requirement: YesNo = YesNo.NO
    deviation_rationale: str | None = None
    supporting_documents: str | None = None
    comments: str | None = None
    auto_approve: YesNo = YesNo.NO
    kev: bool = False
    kev_due_date: dt.date | None = None
    cves: tuple[str, ...] = ()
    service_names: str | None = None
    is_config: bool = False
    closed_at: dt.date | None = None
    cvss3_score: float | None = None
    cvss3_vector: str | None = None
    cvss2_score: float | None = None
    cvss2_vector: str | None = None
    recommendation: str | None = None
    previous_poam_id: str | None = None
    ready: bool = False
    reported_at: dt.date | None = None
    hours: float | None = None  # staff hours the fix needs
    cost: float | None = None  # money it needs beyond current resources
    technology: str | None = None  # technology it needs
    vendor_release_date: dt.date | None = None  # the vendor released the fix on this day
    origin: str = "scan"  # scan, poam-xlsx, oscal: where the item came from
    asset_text: str | None = None  # an imported POA&M's Asset Identifier cell, as written there
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    """Imported details with no column of their own (`domain.imported`), JSON-serialisable."""

    def asset_lines(self) -> list[str]:
        """The affected assets, one line each: the scanned assets; for an imported item, the lines
        of its Asset Identifier cell as the POA&M it came from wrote them, then any asset a later
        scan found that the cell does not list."""
        scanned = [a.text for a in self.assets]
        if self.origin == "scan" or not self.asset_text:
            return scanned
        given = self.asset_text.split("\n")
        return [*given, *(x for x in scanned if x not in given)]

    def resources_text(self) -> str | None:
        """The Resources Required cell: staff hours, cost and technology, then the free text."""
        parts = []
        if self.hours:
            parts.append(f"{self.hours:g} staff hours")
        if self.cost:
            parts.append(f"cost {self.cost:,.0f}")
        if self.technology:
            parts.append(f"technology: {self.technology}")
        if self.resources_required:
            parts.append(self.resources_required)
        return "; ".join(parts) or None

    def comments_text(self) -> str | None:
        """The Comments cell: the vendor's fix release date first (where the template wants it),
        then the comments."""
        lines = []
        if self.vendor_release_date:
            lines.append(f"Vendor fix released {self.vendor_release_date.isoformat()}.")
        if self.comments:
            lines.append(self.comments)
        return "\n".join(lines) or None
