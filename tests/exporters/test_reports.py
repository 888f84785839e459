"""The human-readable reports: charts (SVG with the series asked for, deterministic), the HTML
(autoescaped), the PDF (written, read back with pypdf), nothing fetched while rendering, the
inventory workbook (the template's headers, no formulas), and a clear line without the extra."""

from __future__ import annotations

import datetime as dt
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import openpyxl
import pytest
from lxml import etree
from pypdf import PdfReader
from sqlalchemy import Engine

from poam.errors import UsageError
from poam.exporters.reports import charts, executive, inventory_workbook, render
from poam.services import reporting, systems
from poam.services.importer import import_file
from tests.builders import Host, Item, write_nessus
from tests.conftest import reference_file

SVG = "{http://www.w3.org/2000/svg}"
NOW = dt.datetime(2026, 12, 15, 12, 0, tzinfo=dt.UTC)
HOSTILE_SYSTEM = 'cso <img src=x onerror=alert(1)> "\\'
HOSTILE_WEAKNESS = "<script>alert('x')</script> & </style>"


def ids(svg: str) -> list[str]:
    return [str(e.get("id")) for e in etree.fromstring(svg.encode()).iter() if e.get("id")]


def test_bucket_edges_follow_the_stated_ranges() -> None:
    assert charts.BUCKETS == ("0-30", "31-90", "91-180", "181+")
    ages = {-3: 0, 0: 0, 30: 0, 31: 1, 90: 1, 91: 2, 180: 2, 181: 3, 4000: 3}
    assert {age: charts.bucket(age) for age in ages} == ages


def test_open_over_time_has_one_line_per_series_with_a_point_per_day() -> None:
    days = [dt.date(2026, m, 28) for m in range(1, 7)]
    svg = charts.open_over_time(days, {"High": [1, 2, 3, 3, 2, 1], "Low": [0, 0, 1, 1, 1, 4]})
    assert svg.startswith("<svg") and "<?xml" not in svg and "DOCTYPE" not in svg
    tree = etree.fromstring(svg.encode())
    series = {e.get("id"): e for e in tree.iter(f"{SVG}g") if (e.get("id") or "").startswith("series-")}
    assert sorted(series) == ["series-High", "series-Low"]
    path = next(series["series-High"].iter(f"{SVG}path"))
    assert len(re.findall(r"[ML]", path.get("d") or "")) == 6  # one vertex a day
    assert "2026-01-28" in svg and "2026-06-28" in svg  # the days as tick labels (text stays text)


def test_ageing_stacks_each_rating_per_bucket_and_labels_totals() -> None:
    svg = charts.ageing({"High": [1, 2, 0, 4], "Low": [3, 0, 0, 1]})
    found = ids(svg)
    for rating in ("High", "Low"):
        assert [f"series-{rating}-{b}" for b in charts.BUCKETS] == [
            i for i in found if i.startswith(f"series-{rating}")
        ]
    tree = etree.fromstring(svg.encode())
    totals = {
        str(g.get("id")): "".join(g.itertext()).strip()
        for g in tree.iter(f"{SVG}g")
        if (g.get("id") or "").startswith("bucket-")
    }
    assert totals == {"bucket-0-30": "4", "bucket-31-90": "2", "bucket-91-180": "0", "bucket-181+": "5"}


def test_burn_down_has_the_four_steps_with_signed_labels() -> None:
    svg = charts.burn_down(10, 3, 5, 8)
    assert [i for i in ids(svg) if i.startswith("step-")] == ["step-start", "step-new", "step-closed", "step-end"]
    texts = {t.strip() for t in etree.fromstring(svg.encode()).itertext()}
    assert {"10", "+3", "-5", "8", "open at start", "open at end"} <= texts


def test_charts_are_deterministic_and_undated_and_ids_do_not_collide() -> None:
    a = charts.burn_down(4, 1, 2, 3)
    assert a == charts.burn_down(4, 1, 2, 3)
    assert "dc:date" not in a and str(dt.date.today().year) + "-" not in a
    b = charts.ageing({"High": [1, 0, 0, 0]})
    c = charts.open_over_time([dt.date(2026, 1, 1)], {"High": [1]})
    together = ids(a) + ids(b) + ids(c)
    assert len(together) == len(set(together))  # three charts inline on one page


def test_css_string_filter_cannot_end_the_string_or_the_style() -> None:
    html = render.html("base.html", {"title": "t", "footer": 'a"b\\c</style><b>'})
    style = html[html.index("<style>") : html.index("</style>")]
    assert 'content: "a\\000022b\\00005cc\\00003c/style\\00003e\\00003cb\\00003e"' in style


@pytest.fixture
def month(sqlite_engine: Engine, tmp_path: Path) -> reporting.Month:
    systems.add_system(sqlite_engine, HOSTILE_SYSTEM, "t")
    oct_scan = [Item("100", severity=3, name=HOSTILE_WEAKNESS), Item("200", severity=2), Item("300", severity=1)]
    nov_scan = [Item("200", severity=2), Item("400", severity=3)]
    for name, when, found in (
        ("oct", dt.datetime(2026, 10, 5, 9), oct_scan),
        ("nov", dt.datetime(2026, 11, 9, 9), nov_scan),
    ):
        import_file(
            sqlite_engine,
            write_nessus(tmp_path / f"{name}.nessus", [Host("web01", ip="10.0.0.1", start=when, items=found)]),
        )
    return reporting.month(sqlite_engine, None, "2026-11", NOW)


def test_month_counts_follow_the_definitions(month: reporting.Month) -> None:
    # October: V-1 High, V-2 Moderate, V-3 Low detected. November's scan: V-2 still there, V-4 High
    # new, V-1 and V-3 closed on 2026-11-09.
    assert (month.open_start, month.open_end) == (3, 2)
    assert month.new == {"Critical": 0, "High": 1, "Moderate": 0, "Low": 0}
    assert month.closed == {"Critical": 0, "High": 1, "Moderate": 0, "Low": 1}
    assert month.open_by_rating == {"Critical": 0, "High": 1, "Moderate": 1, "Low": 0}
    # V-1 (High, 30 days under fedramp-rev5) was due 2026-11-04 and closed 2026-11-09: closed late.
    assert [(r.poam_id, r.deadline, r.days_over) for r in month.late_items] == [("V-1", "remediation", 5)]
    assert month.overdue == dict.fromkeys(reporting.RATINGS, 0)
    assert month.ageing["Moderate"] == [0, 1, 0, 0] and month.ageing["High"] == [1, 0, 0, 0]  # 56 and 21 days
    assert month.history_days[-1] == dt.date(2026, 11, 30)
    assert month.history["High"][-3:] == [0, 1, 1] and month.history["Low"][-3:] == [0, 1, 0]


def test_html_escapes_hostile_text(month: reporting.Month) -> None:
    text = executive.html(month)
    assert "<script>" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;/style&gt;" in text
    assert "cso &lt;img src=x onerror=alert(1)&gt;" in text
    page = lxml.html.fromstring(text)
    assert page.xpath("//script | //img | //*[@onerror]") == []
    assert HOSTILE_WEAKNESS in page.xpath("//td/text()")


def test_pdf_is_written_and_reads_back(month: reporting.Month, tmp_path: Path) -> None:
    out = tmp_path / "summary.pdf"
    executive.pdf(executive.html(month), out)
    pages = PdfReader(out).pages
    texts = [p.extract_text() for p in pages]
    whole = "\n".join(texts)
    assert "cso <img src=x onerror=alert(1)>" in whole
    assert "Open at the start of the month: 3; open at the end: 2." in whole
    assert re.search(r"New 0 1 0 0 1\b", whole) and re.search(r"Closed late 0 1 0 0 1\b", whole)
    assert HOSTILE_WEAKNESS in whole.replace("\n", " ")
    assert len(pages) >= 2
    for n, t in enumerate(texts, start=1):  # the footer counts the pages the file has
        assert f"Page {n} of {len(pages)}" in t


def test_pdf_page_count_follows_page_breaks(tmp_path: Path) -> None:
    body = "".join(f'<h2 style="break-before: page">Part {n}</h2>' for n in range(1, 4))
    text = render.html("base.html", {"title": "t", "footer": "f"}).replace("<body>", "<body>" + body)
    render.pdf(text, tmp_path / "three.pdf")
    pages = PdfReader(tmp_path / "three.pdf").pages
    assert [p.extract_text().split("\n")[0] for p in pages] == ["Part 1", "Part 2", "Part 3"]


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _Counter.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Counter.hits.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_rendering_fetches_nothing(server: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.css"
    secret.write_text("h1 { color: red }", encoding="utf-8")
    body = (
        f'<img src="{server}/a.png"><link rel="stylesheet" href="{server}/b.css">'
        f'<img src="{secret.as_uri()}"><div style="background: url({server}/c.png)">x</div>'
        '<img src="data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22 width=%221%22 height=%221%22/%3E">'
    )
    text = render.html("base.html", {"title": "t", "footer": "f"}).replace("<body>", "<body>" + body)
    render.pdf(text, tmp_path / "x.pdf")
    assert _Counter.hits == []
    fetch = render._fetcher()
    with pytest.raises(ValueError, match="fetches nothing"):
        fetch(secret.as_uri())
    assert fetch("data:text/plain,hello").read() == b"hello"


def test_without_the_extra_one_line_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "weasyprint" else real(name, *a))
    with pytest.raises(UsageError) as caught:
        render.require()
    assert str(caught.value) == (
        "HTML and PDF reports need the reports extra (weasyprint is missing): pip install 'poam[reports]'"
    )


def test_inventory_workbook_has_the_template_headers_and_no_formulas(tmp_path: Path) -> None:
    template = openpyxl.load_workbook(
        reference_file("fedramp/SSP-Appendix-M-Integrated-Inventory-Workbook-Template.xlsx")
    )
    published = [c.value for c in template["Inventory"][2]][1:26]  # row 2, columns B to Z
    rows = [{"unique_asset_identifier": '=HYPERLINK("http://x")', "ipv4_or_ipv6_address": "10.0.0.1", "public": "No"}]
    out = tmp_path / "inv.xlsx"
    assert inventory_workbook.write(out, rows) == 1
    sheet = openpyxl.load_workbook(out)["Inventory"]
    assert [c.value for c in sheet[2]] == published
    assert [sheet.cell(1, c).value for c in (1, 6, 15, 18)] == [
        "All Inventories",
        "OS/Infrastructure Inventory",
        "Software and Database Inventories",
        "Any Inventory",
    ]
    cell = sheet["A3"]
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s" and cell.quotePrefix
    assert (sheet["B3"].value, sheet["D3"].value) == ("10.0.0.1", "No")


def test_month_lists_deviations_vendor_dependencies_and_acceptances(sqlite_engine: Engine, tmp_path: Path) -> None:
    from poam.services import deviations, planning

    systems.add_system(sqlite_engine, "cso", "t")
    found = [Item("100", severity=3), Item("200", severity=2), Item("300", severity=1)]
    when = dt.datetime(2026, 10, 5)
    import_file(
        sqlite_engine, write_nessus(tmp_path / "oct.nessus", [Host("web01", ip="10.0.0.1", start=when, items=found)])
    )
    deviations.request(sqlite_engine, None, "V-2", "alice", "or", "The legacy client needs TLS 1.0.")
    deviations.approve(sqlite_engine, None, "V-2", "ao", "or")
    deviations.request(sqlite_engine, None, "V-3", "alice", "fp", "The banner is not the version.")
    planning.vendor_checkin(sqlite_engine, None, "V-1", "alice", dt.date(2026, 11, 20), product="Acme Web 5")
    m = reporting.month(sqlite_engine, None, "2026-11", NOW)
    ((accepted, note),) = [(r.poam_id, r.note or "") for r in m.accepted]
    assert accepted == "V-2" and note.startswith("approved Operational Requirement deviation (")
    assert [(d["poam_id"], d["type"], d["requester"]) for d in m.pending_deviations] == [
        ("V-3", "false-positive", "alice")
    ]
    assert [(v["poam_id"], v["product"], v["last_checkin"], v["next_checkin"]) for v in m.vendor] == [
        ("V-1", "Acme Web 5", dt.date(2026, 11, 20), dt.date(2026, 12, 20))
    ]
    # V-1 High detected 2026-10-05 00:00Z: overdue since its 30-day remediation deadline, 26 days by 2026-11-30
    assert [(r.poam_id, r.deadline, r.due, r.days_over) for r in m.overdue_items] == [
        ("V-1", "remediation", dt.datetime(2026, 11, 4, 0, 0, tzinfo=dt.UTC), 26)
    ]
    # ... but vendor-dependent and checked in within 30 days: not counted by the performance triggers
    assert [t["count"] for t in m.thresholds["triggers"]] == [0, 0, 0, 0]
    text = executive.html(m)
    assert "Acme Web 5" in text and "false-positive" in text and "Operational Requirement" in text


def test_accepted_items_are_not_overdue_and_false_positives_never_closed_late(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    from poam.services import deviations

    systems.add_system(sqlite_engine, "cso", "t")
    found = [Item("100", severity=2), Item("200", severity=3)]
    when = dt.datetime(2026, 6, 5)  # Moderate V-1 due 2026-09-03, High V-2 due 2026-07-05: both past
    import_file(
        sqlite_engine, write_nessus(tmp_path / "oct.nessus", [Host("web01", ip="10.0.0.1", start=when, items=found)])
    )
    deviations.request(sqlite_engine, None, "V-1", "alice", "or", "The legacy client needs TLS 1.0.")
    deviations.approve(sqlite_engine, None, "V-1", "ao", "or")
    deviations.request(sqlite_engine, None, "V-2", "alice", "fp", "The banner is not the version.")
    deviations.approve(sqlite_engine, None, "V-2", "ao", "fp")  # closes V-2 today, after its deadline
    now = dt.datetime.now(dt.UTC)
    m = reporting.month(sqlite_engine, None, now.strftime("%Y-%m"), now)
    assert [r.poam_id for r in m.accepted] == ["V-1"]
    assert m.overdue_items == [] and m.late_items == []
    assert [r.poam_id for r in m.closed_items] == ["V-2"]
