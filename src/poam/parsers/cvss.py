"""CVSS helpers for parsers: clean vectors and fill a missing base score from its vector."""

from __future__ import annotations

from functools import lru_cache

from cvss import CVSS2, CVSS3, CVSS4
from cvss.exceptions import CVSSError


def clean_v2(vector: str | None) -> str | None:
    """A CVSS v2 vector without Nessus' `CVSS2#` prefix."""
    if not vector:
        return None
    vector = vector.strip()
    if vector.upper().startswith("CVSS2#"):
        vector = vector[6:]
    return vector or None


def score(text: str | None) -> float | None:
    """A score from text, or None when absent or not a number in 0..10."""
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if 0.0 <= value <= 10.0 else None


@lru_cache(maxsize=4096)
def base_score(version: int, vector: str) -> float | None:
    """The base score computed from a vector, or None if the vector is not valid."""
    try:
        if version == 2:
            return float(CVSS2(vector).base_score)
        if version == 3:
            return float(CVSS3(vector).base_score)
        return float(CVSS4(vector).base_score)
    except (CVSSError, ValueError, KeyError, IndexError):
        return None


def fill(version: int, given: float | None, vector: str | None) -> float | None:
    """The given score, or the one computed from the vector when the file gave none."""
    if given is not None or not vector:
        return given
    return base_score(version, vector)
