"""CISA Vulnrichment records (the three real ones in the reference folder): the CISA-ADP SSVC
decision, matched case-insensitively, from a record, a folder, a zip or a tar."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from poam.errors import InputError
from poam.intel import vulnrichment
from poam.intel.vulnrichment import Ssvc
from poam.parsers.base import ParseContext
from tests.conftest import reference_file

NAMES = ["CVE-2024-25522.json", "CVE-2024-3400.json", "CVE-2026-0009.json"]
# Written out by hand from the records' CISA-ADP "ssvc" metric blocks.
EXPECTED = {
    "CVE-2024-3400": Ssvc("CVE-2024-3400", "active", "yes", "total", dt.datetime(2024, 4, 17, 4, 0, 13, 543064)),
    "CVE-2024-25522": Ssvc("CVE-2024-25522", "poc", "yes", "total", dt.datetime(2024, 5, 24, 15, 1, 21, 328734)),
    "CVE-2026-0009": Ssvc("CVE-2026-0009", "none", "no", "partial", dt.datetime(2026, 6, 2, 14, 44, 12, 872324)),
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "vulnrichment" / "2024"
    out.mkdir(parents=True)
    for name in NAMES:
        shutil.copy(reference_file(f"fedramp-2026/cisa-vulnrichment/{name}"), out / name)
    return tmp_path / "vulnrichment"


def read(path: Path) -> dict[str, Ssvc | None]:
    ctx = ParseContext(str(path))
    return {d.cve: d for d in vulnrichment.decisions(path, ctx) if d is not None}


def test_a_folder_gives_every_decision(folder: Path) -> None:
    assert read(folder) == EXPECTED


def test_a_zip_and_a_tar_give_the_same(folder: Path, tmp_path: Path) -> None:
    z = tmp_path / "v.zip"
    with zipfile.ZipFile(z, "w") as out:
        for file in folder.rglob("*.json"):
            out.write(file, f"2024/{file.name}")
    t = tmp_path / "v.tar.gz"
    with tarfile.open(t, "w:gz") as out:
        out.add(folder, arcname="vulnrichment")
    assert read(z) == EXPECTED
    assert read(t) == EXPECTED
    assert vulnrichment.is_archive(z) and vulnrichment.is_archive(t) and vulnrichment.is_archive(folder)


def test_one_record_is_read() -> None:
    assert read(reference_file("fedramp-2026/cisa-vulnrichment/CVE-2024-3400.json")) == {
        "CVE-2024-3400": EXPECTED["CVE-2024-3400"]
    }


def test_an_unknown_value_is_left_empty_with_a_warning(tmp_path: Path) -> None:
    doc = json.loads(reference_file("fedramp-2026/cisa-vulnrichment/CVE-2026-0009.json").read_text(encoding="utf-8"))
    for adp in doc["containers"]["adp"]:
        for metric in adp.get("metrics", []):
            if metric.get("other", {}).get("type") == "ssvc":
                metric["other"]["content"]["options"][0] = {"Exploitation": "Rampant"}
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    ctx = ParseContext(str(path))
    (found,) = list(vulnrichment.decisions(path, ctx))
    assert found is not None and (found.exploitation, found.automatable) == (None, "no")
    assert ctx.report.warnings == ["odd.json (CVE-2026-0009): SSVC Exploitation 'Rampant' not recognised; left empty"]


def test_a_file_that_is_not_a_cve_record_is_refused(tmp_path: Path) -> None:
    z = tmp_path / "v.zip"
    with zipfile.ZipFile(z, "w") as out:
        out.writestr("2024/x.json", json.dumps({"hello": 1}))
    with pytest.raises(InputError, match=r"2024/x.json: not a CVE JSON 5 record"):
        read(z)


def test_links_in_a_tar_are_never_followed(folder: Path, tmp_path: Path) -> None:
    t = tmp_path / "v.tar"
    with tarfile.open(t, "w") as out:
        out.add(folder / "2024" / "CVE-2024-3400.json", arcname="a/CVE-2024-3400.json")
        link = tarfile.TarInfo("a/evil.json")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        out.addfile(link)
        data = b"{" * 100_000
        deep = tarfile.TarInfo("a/deep.json")
        deep.size = len(data)
        out.addfile(deep, io.BytesIO(data))
    with pytest.raises(InputError, match="nested more than 512 levels deep"):
        read(t)
