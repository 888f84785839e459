"""Hostile XML: external entities and entity expansion are refused, never resolved."""

from __future__ import annotations

from pathlib import Path

import pytest

from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.nessus import NessusParser
from poam.parsers.xmlsafe import prolog

XXE = """<?xml version="1.0"?>
<!DOCTYPE NessusClientData_v2 [<!ENTITY xxe SYSTEM "file://{secret}">]>
<NessusClientData_v2><Report name="r"><ReportHost name="10.0.0.1"><HostProperties>
<tag name="HOST_START">Mon Jan  5 10:00:00 2026</tag></HostProperties>
<ReportItem port="1" protocol="tcp" severity="3" pluginID="1" pluginName="x" pluginFamily="f">
<plugin_output>&xxe;</plugin_output></ReportItem></ReportHost></Report></NessusClientData_v2>
"""

BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<NessusClientData_v2><Report name="&lol3;"/></NessusClientData_v2>
"""


def run(path: Path) -> list[object]:
    with path.open("rb") as f:
        return list(NessusParser().parse(f, ParseContext(str(path))))


def test_external_entity_is_refused_and_the_file_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    p = tmp_path / "xxe.nessus"
    p.write_text(XXE.format(secret=secret))
    with pytest.raises(InputError, match="entity declarations are not accepted") as exc:
        run(p)
    assert "TOP-SECRET" not in str(exc.value)


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "bomb.nessus"
    p.write_text(BOMB)
    with pytest.raises(InputError, match="entity"):
        run(p)


def test_undeclared_entity_reference_is_an_error_not_a_lookup(tmp_path: Path) -> None:
    p = tmp_path / "u.nessus"
    p.write_text('<NessusClientData_v2><Report name="&passwd;"/></NessusClientData_v2>')
    with pytest.raises(InputError, match="not well-formed"):
        run(p)


def test_external_dtd_is_not_loaded(tmp_path: Path) -> None:
    p = tmp_path / "dtd.nessus"
    p.write_text(
        '<?xml version="1.0"?><!DOCTYPE NessusClientData_v2 SYSTEM "http://198.51.100.1/x.dtd">'
        '<NessusClientData_v2><Report name="r"/></NessusClientData_v2>'
    )
    records = run(p)  # no network access attempted: parses with the DTD ignored
    assert len(records) == 1


def test_declarations_hidden_past_the_sniffed_prolog_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "late.nessus"
    p.write_text("<!--" + "x" * (1 << 20) + "-->" + BOMB.split("\n", 1)[1])
    with pytest.raises(InputError, match="no XML root element"):
        run(p)


def test_prolog_finds_root_after_comments_and_doctype() -> None:
    assert prolog(b"\xef\xbb\xbf<!-- c --><?xml version='1.0'?><!DOCTYPE nmaprun><nmaprun>") == ("nmaprun", False)
    assert prolog(b"<?xml version='1.0'?><!DOCTYPE a [<!ENTITY x 'y'>]><a/>") == ("a", True)
    assert prolog(b"Plugin ID,CVE\n") == (None, False)
    assert prolog(b"<ns:root xmlns:ns='u'/>") == ("root", False)


def test_a_huge_text_node_is_refused_not_loaded(tmp_path: Path) -> None:
    p = tmp_path / "huge.nessus"
    with p.open("w") as f:
        f.write(
            '<NessusClientData_v2><Report name="r"><ReportHost name="10.0.0.1"><HostProperties>'
            '<tag name="HOST_START">Mon Jan  5 10:00:00 2026</tag></HostProperties>'
            '<ReportItem port="1" protocol="tcp" severity="3" pluginID="1" pluginName="x" pluginFamily="f">'
            "<plugin_output>"
        )
        for _ in range(12):
            f.write("A" * 1_000_000)
        f.write("</plugin_output></ReportItem></ReportHost></Report></NessusClientData_v2>")
    with pytest.raises(InputError, match="refused: the XML exceeds a safety limit .Text node too long"):
        run(p)


def test_a_comment_before_the_xml_declaration_is_skipped(tmp_path: Path) -> None:
    p = tmp_path / "c.nessus"
    p.write_text(
        '<!-- written by a wrapper script -->\n<?xml version="1.0"?>\n'
        '<NessusClientData_v2><Report name="r"/></NessusClientData_v2>'
    )
    assert len(run(p)) == 1
