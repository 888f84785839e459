"""Original risk rating: CVSS v3 base score, else CVSS v2, else the scanner's own rating.

FedRAMP's Vulnerability Scanning Requirements set that order. The score bands are NVD's:
v3 Low < 4.0 <= Moderate < 7.0 <= High < 9.0 <= Critical; v2 has no Critical band.
"""

from __future__ import annotations

from poam.domain.models import Level, Severity

_SEVERITY_LEVEL = {
    Severity.CRITICAL: Level.CRITICAL,
    Severity.HIGH: Level.HIGH,
    Severity.MEDIUM: Level.MODERATE,
    Severity.LOW: Level.LOW,
    Severity.INFO: Level.LOW,
}


def level_from_cvss3(score: float) -> Level:
    """NVD's CVSS v3 bands (also used for v4)."""
    if score >= 9.0:
        return Level.CRITICAL
    if score >= 7.0:
        return Level.HIGH
    if score >= 4.0:
        return Level.MODERATE
    return Level.LOW


def level_from_cvss2(score: float) -> Level:
    """NVD's CVSS v2 bands: Low, Medium (Moderate), High."""
    if score >= 7.0:
        return Level.HIGH
    if score >= 4.0:
        return Level.MODERATE
    return Level.LOW


def level_from_severity(severity: Severity) -> Level:
    """The scanner's own rating on the POA&M scale."""
    return _SEVERITY_LEVEL[severity]


def original_rating(cvss3: float | None, cvss2: float | None, severity: Severity) -> Level:
    """The Original Risk Rating: CVSS v3 base score, else v2, else the scanner's rating."""
    if cvss3 is not None:
        return level_from_cvss3(cvss3)
    if cvss2 is not None:
        return level_from_cvss2(cvss2)
    return level_from_severity(severity)


def rating_source(cvss3: float | None, cvss2: float | None) -> str:
    """Which input decided the rating, for reports: `CVSS v3`, `CVSS v2` or `scanner`."""
    if cvss3 is not None:
        return "CVSS v3"
    if cvss2 is not None:
        return "CVSS v2"
    return "scanner"
