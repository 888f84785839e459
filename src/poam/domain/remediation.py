"""An item's Overall Remediation Plan when the detector gave no fix."""

from __future__ import annotations

NO_FIX = frozenset({"", "n/a", "none", "no solution", "no fix", "not available", "no known solution"})
DEFAULT_PLAN = (
    "The detector gave no fix. Analyse the weakness on each affected asset, apply the vendor's fix "
    "once released or a compensating control, and confirm with a follow-up scan."
)
"""The Overall Remediation Plan of a new item whose detector gave no fix (a person replaces it with
`poam item set --plan`)."""


def default_plan(solution: str | None) -> str:
    """The detector's fix as the item's remediation plan, or `DEFAULT_PLAN` when it gave none."""
    text = (solution or "").strip()
    return text if text.lower().rstrip(".") not in NO_FIX else DEFAULT_PLAN
