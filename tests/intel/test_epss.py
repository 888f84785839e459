"""FIRST EPSS files: the `#model_version` line, the header, gzip, and rows read leniently."""

from __future__ import annotations

import datetime as dt
import gzip
import io

import pytest

from poam.errors import InputError
from poam.intel import epss
from poam.parsers.base import ParseContext

# The shape FIRST publishes (epss_scores-2025-03-15.csv.gz), values written by hand.
FILE = (
    b"#model_version:v2025.03.14,score_date:2025-03-15T12:55:00.000+0000\n"
    b"cve,epss,percentile\n"
    b"CVE-1999-0001,0.01297,0.79275\n"
    b"CVE-2024-3094,0.84302,0.99290\n"
)


def read(data: bytes) -> tuple[list[epss.Score], ParseContext]:
    ctx = ParseContext("scores.csv")
    return list(epss.scores(epss.opened(io.BytesIO(data)), ctx)), ctx


def test_scores_are_read_as_published() -> None:
    found, ctx = read(FILE)
    assert found == [epss.Score("CVE-1999-0001", 0.01297, 0.79275), epss.Score("CVE-2024-3094", 0.84302, 0.99290)]
    assert ctx.report.warnings == []


def test_the_model_line_gives_the_version_and_the_score_date_in_utc() -> None:
    assert epss.header("#model_version:v2025.03.14,score_date:2025-03-15T12:55:00.000+0000") == epss.Header(
        "v2025.03.14", dt.datetime(2025, 3, 15, 12, 55)
    )
    assert epss.header("#model_version:v2023.03.01,score_date:2024-01-02T00:00:00Z") == epss.Header(
        "v2023.03.01", dt.datetime(2024, 1, 2)
    )
    assert epss.header("cve,epss,percentile") == epss.Header(None, None)


def test_gzip_is_read_as_published() -> None:
    found, _ctx = read(gzip.compress(FILE))
    assert [s.cve for s in found] == ["CVE-1999-0001", "CVE-2024-3094"]
    assert epss.looks_like(epss.opened(io.BytesIO(gzip.compress(FILE))).read(200))


def test_a_file_without_the_model_line_is_read() -> None:
    found, _ctx = read(FILE.split(b"\n", 1)[1])
    assert len(found) == 2


def test_odd_rows_are_left_out_with_a_warning() -> None:
    data = FILE + b"CVE-2024-XXXX,0.1,0.2\nCVE-2024-0002,high,0.2\nCVE-2024-0003,1.5,0.2\nCVE-2024-0004,0.5,0.5\n"
    found, ctx = read(data)
    assert [s.cve for s in found] == ["CVE-1999-0001", "CVE-2024-3094", "CVE-2024-0004"]
    assert ctx.report.warnings == [
        "row 3: CVE 'CVE-2024-XXXX' not recognised; left out",
        "row 4 (CVE-2024-0002): score or percentile is not a number; left out",
        "row 5 (CVE-2024-0003): score or percentile outside 0-1; left out",
    ]


def test_a_file_without_the_header_is_refused() -> None:
    with pytest.raises(InputError, match="no header row"):
        read(b"#model_version:v1,score_date:2025-03-15T00:00:00Z\nCVE-1999-0001,0.1,0.2\n")


def test_a_truncated_gzip_is_refused() -> None:
    data = gzip.compress(FILE * 50)
    with pytest.raises(InputError, match="not a readable gzip file"):
        read(data[: len(data) // 2])


def test_a_gzip_bomb_is_refused_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(epss, "MAX_UNCOMPRESSED", 100_000)
    bomb = gzip.compress(FILE + b"CVE-2024-0001,0.1,0.2\n" * 20_000)  # 440 KB of rows from 2 KB
    with pytest.raises(InputError, match="more than 512 MiB once decompressed"):
        read(bomb)
