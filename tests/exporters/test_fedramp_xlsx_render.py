"""The workbook rendered headless by LibreOffice (`soffice --convert-to pdf`) and read back with
pypdf: no wrapped text is cut off by a row too small for it. Two checks, each shown to fail on a
control workbook whose rows are deliberately too small:

- every word of every long cell is in the PDF (a line that falls wholly below its row is not drawn);
- the lines of each long cell fit in its row: from the first baseline to the last, plus one line,
  is no taller than the row (a line cut in half is drawn, so only its position shows it).

Runs wherever `soffice` is (scripts/ensure-libreoffice.sh installs it for `make test`); with CI set
it must run; elsewhere it skips and says why."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pypdf
import pytest

from poam.domain.models import AffectedAsset, ItemStatus, PoamItem
from poam.exporters import fedramp_template, fedramp_xlsx, fedramp_xlsx_style
from tests.conftest import reference_file
from tests.exporters.test_fedramp_xlsx import HEADER, make_item

OPEN, CLOSED, CONFIG = "Open POA&M Items", "Closed POA&M Items", "Configuration Findings"


def _soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("soffice is not installed but CI is set: scripts/ensure-libreoffice.sh should have installed it")
    pytest.skip("soffice (LibreOffice) is not installed: run scripts/ensure-libreoffice.sh as root")


@dataclass
class Rendered:
    text: str
    baselines: dict[str, tuple[int, float]]  # word -> (page, y of its baseline in points), first seen


def _render(workbook: Path, tmp_path: Path) -> Rendered:
    """The PDF LibreOffice makes of the workbook (a private profile for each run), read back."""
    soffice = _soffice()
    outdir = tmp_path / f"pdf-{workbook.stem}"
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(outdir),
            str(workbook),
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    reader = pypdf.PdfReader(outdir / (workbook.stem + ".pdf"))
    baselines: dict[str, tuple[int, float]] = {}
    texts = []
    for number, page in enumerate(reader.pages):

        def seen(text: str, cm: list[float], tm: list[float], font: object, size: object, n: int = number) -> None:
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            for word in text.split():
                baselines.setdefault(word, (n, y))

        texts.append(page.extract_text(visitor_text=seen))
    return Rendered("\n".join(texts), baselines)


def _words(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(n)]


HOSTS = [f"host{i:03d}.example.com" for i in range(9)]
# the long cells: their words, and the sheet and row they are on
CELLS = {
    "description": (_words("desc", 40), OPEN, 8),
    "plan": (_words("plan", 24), OPEN, 8),
    "comments": (_words("line", 14), OPEN, 8),
    "assets": (HOSTS, OPEN, 9),
    "closed": (_words("closed", 30), CLOSED, 6),
    "config": (_words("config", 30), CONFIG, 6),
}


def _items() -> list[PoamItem]:
    """Long cells of several kinds: long wrapped prose, many short lines, a long asset list."""
    return [
        make_item(
            "V-1",
            weakness_description=" ".join(CELLS["description"][0]),
            remediation_plan=" ".join(CELLS["plan"][0]),
            comments="\n".join(CELLS["comments"][0]),
        ),
        make_item("V-2", assets=tuple(AffectedAsset(h, "443/tcp") for h in HOSTS)),
        make_item("V-3", ItemStatus.CLOSED, weakness_description=" ".join(CELLS["closed"][0])),
        make_item("V-4", is_config=True, weakness_description=" ".join(CELLS["config"][0])),
    ]


def _missing(rendered: Rendered, expected: list[str] | None = None) -> list[str]:
    """The expected words not in the rendered text (a word broken over two lines at a hyphen or a
    slash counts as there: the text is compared with its white space removed)."""
    joined = "".join(rendered.text.split())
    words = [w for words, _, _ in CELLS.values() for w in words] if expected is None else expected
    return [w for w in words if w not in joined]


def _pitch(rendered: Rendered) -> float:
    """The distance between two lines of text, measured in the PDF (the comments cell has a word a line)."""
    ys = [rendered.baselines[w][1] for w in CELLS["comments"][0] if w in rendered.baselines]
    return min(a - b for a, b in zip(ys, ys[1:], strict=False))


def _needs(rendered: Rendered, cell: str) -> float:
    """The height (points) the cell's lines take on the page: first baseline to last, plus a line."""
    found = [rendered.baselines[w] for w in CELLS[cell][0] if w in rendered.baselines]
    assert len({page for page, _ in found}) == 1, cell  # a row is never split over two pages
    ys = [y for _, y in found]
    return max(ys) - min(ys) + _pitch(rendered)


def _cut_off(rendered: Rendered, workbook: Path) -> list[str]:
    """The long cells whose lines do not fit in their row."""
    book = openpyxl.load_workbook(workbook)
    found = []
    for cell, (_, sheet, row) in CELLS.items():
        height = book[sheet].row_dimensions[row].height
        if _needs(rendered, cell) + 1 > height:
            found.append(f"{cell}: needs {_needs(rendered, cell):.1f} points, row {row} of {sheet} is {height}")
    return found


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Rendered]:
    folder = tmp_path_factory.mktemp("render")
    out = folder / "poam.xlsx"
    fedramp_xlsx.write(out, HEADER, _items())
    return out, _render(out, folder)


def test_no_text_is_cut_off(exported: tuple[Path, Rendered]) -> None:
    out, rendered = exported
    assert "Weakness Description" in rendered.text and "V-1" in rendered.text  # the sheets rendered
    assert _missing(rendered) == []
    assert _cut_off(rendered, out) == []
    guidance = [w for cell in fedramp_xlsx.DESCRIPTIONS + fedramp_xlsx.FORMAT_HINTS for w in cell.split()]
    assert _missing(rendered, guidance) == []  # the template's guidance rows 6 and 7 at its heights
    headers = [w for h in fedramp_xlsx.HEADERS for w in h.split()]
    assert _missing(rendered, headers) == []


def test_control_rows_one_line_high_lose_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every item row one line high: whole lines are not drawn, and the first check finds it."""
    monkeypatch.setattr(fedramp_xlsx_style, "row_height", lambda cells, minimum: minimum)
    out = tmp_path / "small.xlsx"
    fedramp_xlsx.write(out, HEADER, _items())
    missing = _missing(_render(out, tmp_path))
    assert len(missing) > len([w for words, _, _ in CELLS.values() for w in words]) // 2


def test_control_a_row_half_a_line_short_is_found(
    exported: tuple[Path, Rendered], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The description's row half a line shorter than its text: every word is still drawn (the last
    line is cut through), so only the second check finds it."""
    _, good = exported
    short = _needs(good, "description") - _pitch(good) / 2
    estimate = fedramp_xlsx_style.row_height

    def height(cells: list[tuple[str, int]], minimum: float) -> float:
        return short if any(t.startswith("desc000") for t, _ in cells) else estimate(cells, minimum)

    monkeypatch.setattr(fedramp_xlsx_style, "row_height", height)
    out = tmp_path / "half.xlsx"
    fedramp_xlsx.write(out, HEADER, _items())
    rendered = _render(out, tmp_path)
    assert _missing(rendered) == []
    assert [c.split(":")[0] for c in _cut_off(rendered, out)] == ["description"]


def test_a_filled_template_shows_all_its_text(tmp_path: Path) -> None:
    """`--template`: the official v2.1 file filled; its rows get heights for their text too."""
    out = tmp_path / "filled.xlsx"
    fedramp_template.fill(reference_file("fedramp/FedRAMP-POAM-Template_2024-03-29.xlsx"), out, HEADER, _items())
    rendered = _render(out, tmp_path)
    assert _missing(rendered) == []
    assert _cut_off(rendered, out) == []


def test_without_soffice_skips_or_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        _soffice()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        _soffice()


def _script(tmp_path: Path, uid: str, with_soffice: bool) -> subprocess.CompletedProcess[str]:
    """scripts/ensure-libreoffice.sh with a PATH of stand-ins: `id` says `uid`, apt-get fails."""
    bin_dir = tmp_path / f"bin-{uid}-{with_soffice}"
    bin_dir.mkdir()
    stand_ins = {"id": f"echo {uid}", "apt-get": "exit 100", "mktemp": f"echo {tmp_path}/log"}
    if with_soffice:
        stand_ins["soffice"] = "exit 0"
    for name, body in stand_ins.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    script = Path(__file__).resolve().parents[2] / "scripts" / "ensure-libreoffice.sh"
    # only the stand-ins on the PATH (the script needs nothing else), so a real soffice is not found
    return subprocess.run(
        ["/bin/sh", str(script)], env={"PATH": str(bin_dir)}, capture_output=True, text=True, timeout=60
    )


def test_ensure_libreoffice_never_fails(tmp_path: Path) -> None:
    found = _script(tmp_path, "0", with_soffice=True)
    assert (found.returncode, found.stdout, found.stderr) == (0, "", "")
    not_root = _script(tmp_path, "1000", with_soffice=False)
    assert not_root.returncode == 0 and "cannot be installed here" in not_root.stderr
    failing = _script(tmp_path, "0", with_soffice=False)
    assert failing.returncode == 0 and "could not install libreoffice-calc-nogui" in failing.stderr
