"""Helpers shared by the software-composition parsers (Trivy, Grype, Snyk, npm audit, pip-audit,
CycloneDX, OpenVEX): defensive reading of JSON values, image names, severity fallbacks, merging
repeated results into one finding per identity, and the dates and window of a file of several
reports."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from poam.domain.models import FindingStatus, Severity
from poam.errors import InputError
from poam.parsers import common, cvss

if TYPE_CHECKING:
    from poam.parsers.base import ParseContext

UNKNOWN_PACKAGE = "(unknown package)"
"""The location of a vulnerable package the file does not name (kept, with a warning)."""
UNNAMED = "unnamed"
"""The asset name of last resort, when neither the file nor `--asset` names what was scanned."""
EVIDENCE_LINES = 20
NO_COVERAGE = "a record could not be read; no coverage, so this file closes nothing on it"
"""The warning on an asset that had a record left out (see `Collector.skip`)."""
FALLBACK_COVERAGE = "a record was kept under a fallback identity; no coverage, so this file closes nothing on it"
"""The warning on an asset that had a record kept under another identity than its usual one
(see `Collector.fallback`)."""
FALLBACK_NOTE = "a fallback identity, so this file gives its asset no coverage"
"""Ends the warning on a record kept under a fallback identity."""
_RANK = {s: n for n, s in enumerate(Severity)}
_PURL_VERSION = re.compile(r"@[^/?#]*(?=[?#]|$)")
_SOURCE_SCHEME = re.compile(r"^(docker|podman|registry|containerd):(?!\d)", re.IGNORECASE)  # Grype/Syft sources
_NOT_A_NAME = ("sha256:", "docker-archive:", "oci-archive:", "oci-dir:", "oci-layout:", "dir:", "file:", "sbom:")


def image_repository(reference: str | None) -> str | None:
    """An image reference without tag or digest, Docker Hub names in their short form
    (`docker.io/library/nginx:1.25` and `nginx@sha256:...` are both `library/nginx`)."""
    ref = _SOURCE_SCHEME.sub("", (reference or "").strip())
    if not ref or ref.lower().startswith(_NOT_A_NAME):
        return None  # an image id, an archive or a directory: no repository name
    ref = ref.split("@", 1)[0]
    head, sep, last = ref.rpartition("/")
    ref = f"{head}{sep}{last.split(':', 1)[0]}"
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/", "registry.hub.docker.com/"):
        if ref.lower().startswith(prefix):
            ref = ref[len(prefix) :]
            break
    if ref and "/" not in ref:
        ref = "library/" + ref
    return ref or None


def purl_base(purl: str) -> str:
    """A package URL without version, qualifiers or subpath (`pkg:npm/%40scope/name`)."""
    base = purl.strip().split("#", 1)[0].split("?", 1)[0]
    return _PURL_VERSION.sub("", base)


def purl_name(purl: str) -> str | None:
    """The name part of a package URL (`pkg:maven/org.apache/log4j-core@2.1` gives `log4j-core`)."""
    base = purl_base(purl)
    if not base.lower().startswith("pkg:") or "/" not in base:
        return None
    return unquote(base.rsplit("/", 1)[1]) or None


def text(value: object) -> str | None:
    """A string or number from the file as stripped text; None for anything else or empty."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).replace("\x00", "").strip() or None  # PostgreSQL text holds no NUL


def score(value: object) -> float | None:
    """A CVSS score from a number or numeric text, within 0..10."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if 0.0 <= value <= 10.0 else None
    return cvss.score(value) if isinstance(value, str) else None


def as_list(value: object, source: str, what: str) -> list[Any]:
    """A JSON array, [] for null or absent; InputError for any other type."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(source, f"{what} is a {type(value).__name__}, not a list")
    return value


def items(value: object) -> list[Any]:
    """A JSON array's items, or [] for anything else (for optional lists read leniently)."""
    return value if isinstance(value, list) else []


def as_dict(value: object) -> dict[str, Any]:
    """A JSON object, or {} for anything else."""
    return value if isinstance(value, dict) else {}


def texts(values: object) -> list[str]:
    """The text items of a JSON array (anything else is skipped); a lone string is one item."""
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return []
    return [t for t in (text(v) for v in values) if t]


def join_evidence(lines: list[str]) -> str | None:
    """Distinct evidence lines, at most EVIDENCE_LINES of them."""
    unique = list(dict.fromkeys(line for line in lines if line))
    if len(unique) > EVIDENCE_LINES:
        unique = [*unique[:EVIDENCE_LINES], f"... and {len(unique) - EVIDENCE_LINES} more"]
    return "\n".join(unique) or None


def worse(a: Severity, b: Severity) -> Severity:
    """The higher of two severities."""
    return a if _RANK[a] >= _RANK[b] else b


def severity(word: str | None, *scores: float | None) -> Severity:
    """A scanner's severity word. When it is absent or says no rating or no impact (`unknown`,
    `negligible`: distributions rate some CVEs so), the band of the first CVSS score given, as the
    POA&M's risk rating would be; a vulnerability with neither a word nor a score is LOW, never
    dropped as informational; only a no-impact word without a score is INFO."""
    found = common.severity_word(word)
    if found is not None and found is not Severity.INFO:
        return found
    best = next((s for s in scores if s is not None), None)
    banded = common.severity_score(best)
    if banded is not None and banded is not Severity.INFO:
        return banded
    said_none = found is Severity.INFO and (word or "").strip().lower() != "unknown"
    return Severity.INFO if said_none else Severity.LOW


def rated(ctx: common.Warner, record: str, word: object, *scores: float | None) -> Severity:
    """`severity(word, *scores)`, lenient on a word poam cannot read (`severe`, a number, a
    list): rated by the band of the first CVSS score when there is one, else Moderate
    (`common.odd_severity`), with a warning either way. A missing word is not odd here: these
    formats rate by the score, else Low (see `severity`)."""
    if word is None or word == "":
        return severity(None, *scores)
    said = text(word)
    if said is not None and common.severity_word(said) is not None:
        return severity(said, *scores)
    banded = common.severity_score(next((s for s in scores if s is not None), None))
    if banded is not None and banded is not Severity.INFO:
        shown = repr(str(word)[:40])
        ctx.warn(record, f"severity {shown} not recognised; rated {banded.value} by its CVSS score")
        return banded
    return common.odd_severity(ctx, record, word)


def v3_vector(vector: str | None, version: str = "3.1") -> str | None:
    """A CVSS v3 vector with its `CVSS:3.x/` prefix (some tools leave it out)."""
    if not vector:
        return None
    vector = vector.strip().strip("()")
    if vector.upper().startswith("CVSS:"):
        return vector
    return f"CVSS:{version}/{vector}" if "AV:" in vector else None


@dataclass
class Draft:
    """What the file says about one check, gathered before its Weakness is made."""

    fields: dict[str, Any]
    severity: Severity
    fixes: dict[str, str] = field(default_factory=dict)


@dataclass
class Sighting:
    """One weakness at one location of one asset, merged over the file's repeated entries."""

    vuln_id: str
    path: str | None
    status: FindingStatus
    evidence: list[str] = field(default_factory=list)


class Collector:
    """Findings of one asset by identity (check and location), so that one identity is one
    finding: an open result wins over a passing one, evidence lines are kept together. A record
    of the asset that could not be read, or that had to take a fallback identity (a package the
    file does not name, a check id taken from elsewhere), makes it `incomplete`: the file then
    gives the asset no coverage, so that nothing on it is closed by its absence (the finding
    such a record normally has is not in the file under its own identity)."""

    def __init__(self) -> None:
        self.sightings: dict[tuple[str, str | None], Sighting] = {}
        self.incomplete = False
        self.why = NO_COVERAGE
        """The warning on the asset when it is `incomplete` and would otherwise be covered."""

    def skip(self, ctx: ParseContext, record: str, problem: str) -> None:
        """Leave out a record of this asset that cannot be read (`ctx.skip`), and give the asset
        no coverage from this file."""
        ctx.skip(record, problem)
        self.incomplete = True
        self.why = NO_COVERAGE

    def fallback(self, ctx: ParseContext, record: str, problem: str) -> None:
        """Warn of a record kept under a fallback identity (`problem` says which), and give the
        asset no coverage from this file: the finding the record normally has is not closed
        by its absence."""
        self.withhold(ctx, record, f"{problem}; {FALLBACK_NOTE}", FALLBACK_COVERAGE)

    def withhold(self, ctx: ParseContext, record: str, problem: str, why: str) -> None:
        """Warn of a record that shows the file did not check all of the asset (`problem`), and
        give the asset no coverage from this file; `why` is the asset's warning (unless a
        record left out or an earlier gap already gave it one)."""
        ctx.warn(record, problem)
        if not self.incomplete:
            self.why = why
        self.incomplete = True

    def absorb(self, other: Collector) -> None:
        """Take another collector's gaps of the same asset (not its findings)."""
        if other.incomplete:
            if not self.incomplete or other.why == NO_COVERAGE:
                self.why = other.why
            self.incomplete = True

    def add(self, vuln_id: str, path: str | None, status: FindingStatus, evidence: str | None) -> Sighting:
        """Add a record to its finding: an open record wins, then a set-aside one, then a fixed
        one (a set-aside record of a finding another record shows fixed keeps it as it was)."""
        key = (vuln_id, path)
        seen = self.sightings.get(key)
        if seen is None:
            seen = self.sightings[key] = Sighting(vuln_id, path, status)
        elif status is FindingStatus.OPEN:
            seen.status = FindingStatus.OPEN
        elif status is FindingStatus.SET_ASIDE and seen.status is FindingStatus.FIXED:
            seen.status = FindingStatus.SET_ASIDE
        if evidence:
            seen.evidence.append(evidence)
        return seen


class Dating:
    """The time of one report of a file: its own, else (asked only when a record needs it)
    `ctx.fallback_time()`: `--scan-date`, else the file's modification time."""

    def __init__(self, ctx: ParseContext, own: dt.datetime | None) -> None:
        self.ctx = ctx
        self.own = own
        self.fallback: dt.datetime | None = None

    def time(self) -> dt.datetime:
        """The report's time, for a record that needs one."""
        if self.own is not None:
            return self.own
        if self.fallback is None:
            self.fallback = self.ctx.fallback_time()
        return self.fallback

    @property
    def used(self) -> dt.datetime | None:
        """The report's own time, or the fallback when a record took it; None otherwise."""
        return self.own or self.fallback


def own_time(ctx: common.Warner, record: str, what: str, value: object) -> dt.datetime | None:
    """A report's own time from the file; None when absent, and when unreadable with a warning
    (the report is then dated as an undated one)."""
    when = common.parse_time(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else None
    if when is None and value is not None and value != "":
        shown = repr(str(value)[:40])
        ctx.warn(record, f"{what} {shown} is not a date; dated by --scan-date, else the file's modification time")
    return when


def window(datings: list[Dating]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The scan window of a file of one or several reports: their earliest and latest time
    (own or taken); (None, None) when none has one."""
    times = [d.used for d in datings if d.used is not None]
    return (min(times), max(times)) if times else (None, None)


def label(names: list[str | None], what: str) -> str | None:
    """The name of a file's scan: the one name its reports share, else `N <what>`."""
    distinct = list(dict.fromkeys(n for n in names if n))
    if len(names) <= 1 or len(distinct) <= 1:
        return distinct[0] if distinct else None
    return f"{len(names)} {what}"
