"""Charts for the human-readable reports: matplotlib (Agg), SVG text to inline in the HTML.

Each function takes plain numbers and returns one `<svg>` element as a string (no XML
declaration or DOCTYPE), ready for `render.svg(...)` in a template. Output is deterministic:
`svg.hashsalt` is fixed (per chart, so ids do not collide when several charts share a page), the
SVG metadata carries no date, and text stays text (`svg.fonttype = none`). Every data series is
an element whose id names it (a line `series-High`; a bar `series-High-0-30` and its
bucket's total `bucket-0-30`; a waterfall step `step-new`), so a test or a reader can
find it.

    open_over_time(days, {"High": [...], "Moderate": [...], "Low": [...]})
    ageing({"High": [n0_30, n31_90, n91_180, n181_], ...})     # BUCKETS are the columns
    burn_down(open_at_start, new, closed, open_at_end)
    bucket(age_in_days) -> index into BUCKETS

matplotlib is imported when a chart is drawn (the `reports` extra).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

BUCKETS = ("0-30", "31-90", "91-180", "181+")
"""Age of an open item in days, from its detection (original detection date) to the report day."""

_LIMITS = (30, 90, 180)
COLOURS = {"Critical": "#7b1fa2", "High": "#c62828", "Moderate": "#ef6c00", "Low": "#f9a825", "None": "#78909c"}
_OTHER = "#546e7a"
_WIDTH, _HEIGHT = 6.4, 2.8


def bucket(age_days: int) -> int:
    """The index in BUCKETS of an age in days (a negative age counts as 0)."""
    for i, limit in enumerate(_LIMITS):
        if age_days <= limit:
            return i
    return len(_LIMITS)


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(_WIDTH, _HEIGHT), dpi=72)
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", linewidth=0.4, alpha=0.5)
    ax.set_axisbelow(True)
    return fig, ax


_PROLOGUE = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)


def _svg(fig: Any, name: str) -> str:
    import matplotlib

    fig.tight_layout()
    out = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"poam-{name}", "svg.fonttype": "none", "svg.id": None}):
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": "poam", "Title": name})
    return _own_ids(_PROLOGUE.sub("", out.getvalue(), count=1), name)


_ID = re.compile(r'\bid="([^"]+)"')
_OURS = ("series-", "bucket-", "step-")


def _own_ids(svg: str, name: str) -> str:
    """matplotlib's ids (`figure_1`, `patch_2`, clip paths) prefixed with the chart's name, so that
    several charts inline in one page never repeat an id; references to them follow."""
    ids = {i for i in _ID.findall(svg) if not i.startswith(_OURS)}
    if not ids:
        return svg

    def rename(found: re.Match[str]) -> str:
        old = found.group(2)
        return f"{found.group(1)}{name}-{old}" if old in ids else found.group(0)

    return re.sub(r'(\bid="|url\(#|href="#)([^")]+)', rename, svg)


def open_over_time(days: Sequence[dt.date], series: Mapping[str, Sequence[int]]) -> str:
    """Open items on each day, one line per rating (a series for each key, in order)."""
    fig, ax = _figure()
    x = list(range(len(days)))
    for name, counts in series.items():
        (line,) = ax.plot(x, list(counts), label=name, color=COLOURS.get(name, _OTHER), linewidth=1.6, marker=".")
        line.set_gid(f"series-{name}")
    step = max(1, len(days) // 8)
    ax.set_xticks(x[::step], [d.isoformat() for d in days][::step], fontsize=7, rotation=30, ha="right")
    ax.set_ylim(bottom=0)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("open items", fontsize=8)
    ax.set_title("Open items over time by rating", fontsize=9)
    if series:
        ax.legend(fontsize=7, frameon=False, loc="upper left")
    return _svg(fig, "open-over-time")


def ageing(by_rating: Mapping[str, Sequence[int]]) -> str:
    """Open items by age bucket (BUCKETS), stacked by rating."""
    fig, ax = _figure()
    x = list(range(len(BUCKETS)))
    base = [0] * len(BUCKETS)
    for name, counts in by_rating.items():
        values = list(counts)
        bars = ax.bar(x, values, bottom=base, label=name, color=COLOURS.get(name, _OTHER), width=0.6)
        for patch, label in zip(bars.patches, BUCKETS, strict=True):
            patch.set_gid(f"series-{name}-{label}")
        base = [b + v for b, v in zip(base, values, strict=True)]
    for i, total in enumerate(base):
        ax.annotate(str(total), (i, total), ha="center", va="bottom", fontsize=7).set_gid(f"bucket-{BUCKETS[i]}")
    ax.set_xticks(x, [f"{b} days" for b in BUCKETS], fontsize=8)
    ax.set_ylim(0, max([*base, 1]) * 1.15)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("open items", fontsize=8)
    ax.set_title("Ageing of open items", fontsize=9)
    if by_rating:
        ax.legend(fontsize=7, frameon=False)
    return _svg(fig, "ageing")


def burn_down(open_at_start: int, new: int, closed: int, open_at_end: int) -> str:
    """The month as a waterfall: open at start, + new, - closed, open at end."""
    fig, ax = _figure()
    steps = [
        ("start", "open at start", 0, open_at_start, "#546e7a"),
        ("new", "new", open_at_start, new, "#c62828"),
        ("closed", "closed", open_at_start + new - closed, closed, "#2e7d32"),
        ("end", "open at end", 0, open_at_end, "#37474f"),
    ]
    for i, (key, _label, bottom, height, colour) in enumerate(steps):
        bars = ax.bar([i], [height], bottom=[bottom], color=colour, width=0.6)
        bars.patches[0].set_gid(f"step-{key}")
        sign = "+" if key == "new" else "-" if key == "closed" else ""
        ax.annotate(f"{sign}{height}", (i, bottom + height), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(steps)), [s[1] for s in steps], fontsize=8)
    top = max(open_at_start + new, open_at_end, 1)
    ax.set_ylim(0, top * 1.15)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("items", fontsize=8)
    ax.set_title("Burn-down of the month", fontsize=9)
    return _svg(fig, "burn-down")
