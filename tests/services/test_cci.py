from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from poam.errors import InputError
from poam.services import cci
from poam.services.importer import import_file
from tests.builders import write_csv
from tests.conftest import reference_file
from tests.services.test_import import items_of

NEWER = """<?xml version="1.0" encoding="utf-8"?>
<cci_list xmlns="http://iase.disa.mil/cci"><metadata><version>2024-01-01</version></metadata><cci_items>
<cci_item id="CCI-000366"><references>
<reference creator="NIST" title="NIST SP 800-53 Revision 4" version="4" index="CM-6 b" />
<reference creator="NIST" title="NIST SP 800-53 Revision 5" version="5" index="CM-6 (1)" />
</references></cci_item></cci_items></cci_list>"""


def test_the_bundled_list_is_disa_s() -> None:
    with reference_file("cci/U_CCI_List.xml").open("rb") as f:
        official = cci.read(f, "U_CCI_List.xml")
    assert cci.bundled().controls == official.controls
    assert official.controls["CCI-000366"] == ("CM-6", 4)
    assert official.controls["CCI-000015"][0] == "AC-2(1)"


def test_configuration_findings_take_their_cci_controls(engine: Engine, tmp_path: Path) -> None:
    header = ["detector", "weakness_id", "weakness_name", "severity", "asset", "detected", "cci"]
    rows = [
        {
            "detector": "Manual STIG review",
            "weakness_id": "V-1",
            "weakness_name": "Lockout",
            "severity": "high",
            "asset": "h.example.com",
            "detected": "2026-01-05",
            "cci": "CCI-000044 CCI-000366",
        },
        {
            "detector": "Manual STIG review",
            "weakness_id": "V-2",
            "weakness_name": "Other",
            "severity": "low",
            "asset": "h.example.com",
            "detected": "2026-01-05",
            "cci": "CCI-999999",
        },
    ]
    import_file(engine, write_csv(tmp_path / "m.csv", rows, header))
    items = items_of(engine)
    assert items["V-1"].controls == ("AC-7", "CM-6") and items["V-1"].is_config  # type: ignore[attr-defined]
    assert items["V-2"].controls == ("CM-6",)  # an unknown CCI: CM-6 by default  # type: ignore[attr-defined]
    p = tmp_path / "newer.xml"
    p.write_text(NEWER)
    loaded = cci.load(engine, p, "t")
    assert (loaded.version, loaded.controls) == ("2024-01-01", {"CCI-000366": ("CM-6(1)", 5)})
    with engine.begin() as conn:
        assert cci.controls(conn, ["cci-000366", "CCI-000044"]) == ("CM-6(1)",)
        assert cci.version(conn) == "2024-01-01"


def test_not_a_cci_list(tmp_path: Path) -> None:
    p = tmp_path / "x.xml"
    p.write_text("<other/>")
    with p.open("rb") as f, pytest.raises(InputError, match="not a DISA CCI list"):
        cci.read(f, str(p))


def test_an_absurd_revision_number_is_ignored(tmp_path: Path) -> None:
    p = tmp_path / "cci.xml"
    p.write_text(
        '<?xml version="1.0"?><cci_list xmlns="http://iase.disa.mil/cci"><metadata><version>x</version></metadata>'
        '<cci_items><cci_item id="CCI-000001"><references>'
        '<reference creator="NIST" title="NIST SP 800-53 Revision 5" version="5" index="AC-1 a 1"/>'
        '<reference creator="NIST" title="NIST SP 800-53" version="1e400" index="AC-2"/>'
        "</references></cci_item></cci_items></cci_list>"
    )
    with p.open("rb") as f:
        assert cci.read(f, str(p)).controls == {"CCI-000001": ("AC-1", 5)}
