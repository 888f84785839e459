"""The monthly executive summary (HTML and PDF with charts) from `services.reporting.Month`.

    text = executive.html(month)      # the HTML page
    executive.pdf(text, path)         # the PDF (render.pdf)

The definitions of new, closed, late, overdue and accepted are those of `services.reporting`, and
the page states them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from poam.exporters.reports import charts, render
from poam.services.reporting import RATINGS, Month

TEMPLATE = "executive.html"


def context(m: Month) -> dict[str, Any]:
    """The template's context: the month, its charts and the table of counts by rating."""
    counts = [
        (label, [values.get(r, 0) for r in RATINGS], sum(values.values()))
        for label, values in (
            ("New", m.new),
            ("Closed", m.closed),
            ("Closed late", m.late),
            ("Overdue (open)", m.overdue),
            ("Open at end", m.open_by_rating),
        )
    ]
    shown = [r for r in RATINGS if r != "Critical" or any(m.history["Critical"]) or m.open_by_rating["Critical"]]
    return {
        "title": f"POA&M executive summary: {m.system.name}, {m.period.month}",
        "footer": f"{m.system.name} - {m.period.month} - poam",
        "m": m,
        "ratings": RATINGS,
        "counts": counts,
        "charts": {
            "history": render.svg(charts.open_over_time(m.history_days, {r: m.history[r] for r in shown})),
            "ageing": render.svg(charts.ageing({r: m.ageing[r] for r in shown})),
            "burn_down": render.svg(
                charts.burn_down(m.open_start, sum(m.new.values()), sum(m.closed.values()), m.open_end)
            ),
        },
        "buckets": charts.BUCKETS,
    }


def html(m: Month) -> str:
    """The executive summary as one HTML page."""
    return render.html(TEMPLATE, context(m))


def pdf(html_text: str, path: Path) -> None:
    """The executive summary as a PDF file."""
    render.pdf(html_text, path)
