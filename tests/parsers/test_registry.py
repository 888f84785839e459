from __future__ import annotations

import io
from pathlib import Path

import pytest

from poam.errors import InputError
from poam.parsers.registry import detect, parsers


def sniff(data: bytes, name: str = "f") -> str:
    return detect(io.BytesIO(data), name).id


def test_detects_by_content_not_extension() -> None:
    assert (
        sniff(b'<?xml version="1.0" ?>\n<NessusClientData_v2><Report/></NessusClientData_v2>', "scan.csv") == "nessus"
    )
    assert sniff(b"\xef\xbb\xbfDetector,Weakness ID,Weakness Name,Asset,Detected\n", "x.xml") == "poam-csv"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"   \n", "empty file"),
        (b"<report><x/></report>", "unrecognised XML format"),
        (b"hello world", "unrecognised file format"),
    ],
)
def test_unknown_or_empty_input(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        sniff(data)


def test_format_override_and_unknown_format() -> None:
    assert detect(io.BytesIO(b"anything"), "f", "nessus").id == "nessus"
    with pytest.raises(InputError, match="unknown format 'nope'"):
        detect(io.BytesIO(b"x"), "f", "nope")


def test_registry_lists_builtin_parsers() -> None:
    found = parsers()
    assert {"nessus", "poam-csv"} <= set(found)
    assert all(p.name and p.maps_to for p in found.values())


def test_third_party_parser_through_the_hook(tmp_path: Path) -> None:
    from poam.hookspecs import hookimpl
    from poam.parsers.registry import plugin_manager

    class Custom:
        id, name, maps_to, closes_by_coverage = "custom", "Custom", "rows", False

        def sniff(self, head):  # type: ignore[no-untyped-def]
            return head.text.startswith("CUSTOM")

        def parse(self, stream, ctx):  # type: ignore[no-untyped-def]
            return iter(())

    class Plugin:
        @hookimpl
        def poam_parsers(self):  # type: ignore[no-untyped-def]
            return [Custom()]

    pm = plugin_manager()
    plugin = Plugin()
    pm.register(plugin)
    try:
        assert detect(io.BytesIO(b"CUSTOM data"), "f").id == "custom"
    finally:
        pm.unregister(plugin)
    assert "custom" not in parsers()


@pytest.mark.parametrize(
    ("data", "hint"),
    [
        (b'{"title": "KEV", "catalogVersion": "2025.08.25", "vulnerabilities": []}', "poam kev load"),
        (
            b"cveID,vendorProject,product,vulnerabilityName,dateAdded,shortDescription,requiredAction,dueDate\n",
            "poam kev load",
        ),
        (b'<?xml version="1.0"?><cci_list xmlns="http://iase.disa.mil/cci"/>', "poam cci load"),
        (b'{"plan-of-action-and-milestones": {"uuid": "x"}}', "import it from a file"),
        (b"[ ]\n", "empty JSON list"),
        (b"{}", "empty JSON object"),
    ],
)
def test_files_read_another_way_get_a_hint(data: bytes, hint: str) -> None:
    with pytest.raises(InputError, match=hint):
        sniff(data)
