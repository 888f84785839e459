"""An item of a POA&M kept elsewhere (a FedRAMP workbook, an OSCAL POA&M), as a reader gives it
to the POA&M import service. Standard library only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from poam.domain.models import PoamItem


@dataclass(frozen=True, slots=True)
class ImportedItem:
    """One item read from a POA&M document.

    `item` carries every column the document gave (ids, dates, ratings, deviations, vendor data,
    milestones and milestone changes parsed from their grammar, comments). `asset_text` is the
    Asset Identifier cell exactly as written (kept so the export writes it back unchanged);
    `extra` holds what has no column of its own and must survive a round trip (OSCAL uuids and
    props, free milestone text outside the grammar), JSON-serialisable; `where` names the place
    in the document for messages ("Open POA&M Items row 12", "risks[3]")."""

    item: PoamItem
    where: str
    asset_text: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
