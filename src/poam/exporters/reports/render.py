"""HTML and PDF rendering for the human-readable reports (the `reports` extra).

The API, for any report module:

    from poam.exporters.reports import render

    render.require()                          # UsageError naming `pip install 'poam[reports]'` if missing
    text = render.html("executive.html", {"title": ..., ...})   # str, autoescaped
    render.pdf(text, path)                    # writes the PDF to path (give it Deliverable.temp)

Templates are Jinja2 files in `poam/exporters/reports/templates/`; a new report adds its own file
there and may extend `base.html` (page setup, fonts, tables; blocks `title` and `body`). Autoescape
is on for every template: text from scanners or users is escaped. Chart SVG from `charts` is the
one trusted markup: pass it through `render.svg(text)` (or `|safe` in the template).
Filters: `date` (ISO 8601 day of a date or datetime, '' for None), `num` (thousands separator),
`css_string` (text for a CSS string, as the page footer in `base.html`: context key `footer`).

The PDF is made by WeasyPrint with a URL fetcher that refuses every URL except `data:` URIs, so
rendering fetches nothing (no network, no local files named by the HTML). Jinja2 and WeasyPrint
are imported only when a report is rendered, so poam works without the extra.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import warnings
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from poam.errors import UsageError

TEMPLATES = Path(__file__).resolve().parent / "templates"
INSTALL_HINT = "pip install 'poam[reports]'"
_NEEDED = ("jinja2", "matplotlib", "weasyprint")


class ReportsUnavailable(UsageError):
    """The `reports` extra is not installed (exit status 1, one line)."""

    def __init__(self, missing: str) -> None:
        super().__init__(f"HTML and PDF reports need the reports extra ({missing} is missing): {INSTALL_HINT}")


def require() -> None:
    """Raise `ReportsUnavailable` unless Jinja2, matplotlib and WeasyPrint can be imported."""
    for name in _NEEDED:
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            found = None
        if found is None:
            raise ReportsUnavailable(name)
    try:
        with warnings.catch_warnings():  # a note that a future WeasyPrint will need HarfBuzz-Subset
            warnings.simplefilter("ignore", DeprecationWarning)
            import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:  # the Python package without its Pango libraries
        raise ReportsUnavailable(f"weasyprint ({type(exc).__name__})") from None


def _date(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _css_string(value: object) -> Any:
    """Text for a double-quoted CSS string (the page footer): letters, digits and a few marks as
    they are, every other character as a CSS escape (so no quote, backslash or `<` can end the
    string or the style element); control characters dropped."""
    from markupsafe import Markup

    kept = " -_.,:;()/#+'"
    text = "".join(
        ch if ch.isalnum() and ch.isascii() or ch in kept else f"\\{ord(ch):06x}"
        for ch in str(value)
        if ch.isprintable()
    )
    return Markup(text)  # noqa: S704 - only letters, digits, the marks above and CSS escapes


def _num(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


@cache
def _environment() -> Any:
    require()
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date"] = _date
    env.filters["num"] = _num
    env.filters["css_string"] = _css_string
    return env


def svg(text: str) -> Any:
    """Mark chart SVG made by `charts` as trusted markup for a template (never user text)."""
    require()
    from markupsafe import Markup

    return Markup(text)  # noqa: S704 - SVG written by matplotlib from numbers and fixed labels


def html(template: str, context: Mapping[str, Any]) -> str:
    """Render a template from `templates/` with the context; the result is a whole HTML page."""
    text: str = _environment().get_template(template).render(**context)
    return text


def _fetcher() -> Any:
    from weasyprint.urls import URLFetcher

    class _DataOnly(URLFetcher):  # type: ignore[misc]
        """Fetch `data:` URIs (decoded locally); refuse everything else."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url.lower().startswith("data:"):
                raise ValueError("poam fetches nothing while rendering a report")
            return super().fetch(url, headers)

    return _DataOnly(allowed_protocols=("data",), allow_redirects=False)


def pdf(html_text: str, path: Path) -> None:
    """Render the HTML page to a PDF file at `path` (fetching nothing)."""
    require()
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # refused URLs are warnings, not output
    HTML(string=html_text, base_url="about:blank", url_fetcher=_fetcher()).write_pdf(target=str(path))
