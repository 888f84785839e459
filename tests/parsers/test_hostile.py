"""Hostile JSON and XML, generated here: refused with one line (exit 2) before any parser holds more
than a bounded amount of memory, and never a crash. Whatever could crash or exhaust the old code
runs in a child process with an address-space limit, so that a regression fails the test instead
of taking the test run (or the machine) down."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from poam.errors import InputError
from poam.parsers import jsonio, registry, xmlsafe
from poam.parsers.base import ParseContext
from tests.conftest import corpus_dir

ROOT = Path(__file__).resolve().parents[2]
NESTED = f"refused: JSON nested more than {jsonio.MAX_DEPTH} levels deep"
LONG = f"refused: a JSON number with more than {jsonio.MAX_DIGITS} digits"
ENTITIES = "XML entity declarations are not accepted"

_PRELUDE = """
import resource, sys
limit = {limit} << 20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
"""
# The peak of this process's own memory (VmHWM): ru_maxrss would report the parent's size when it
# is larger, as Linux keeps it across fork and exec.
_REPORT = """
with open("/proc/self/status") as status:
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print("PEAK", hwm // 1024)
"""


def isolated(code: str, *, memory_mb: int = 1024, timeout: float = 120) -> tuple[int, str, int]:
    """Run `code` in a child Python limited to `memory_mb` of address space: its exit status,
    output and peak resident memory in MiB (-1 when it died before saying)."""
    script = _PRELUDE.format(limit=memory_mb) + textwrap.dedent(code) + _REPORT
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, env=env)
    peak = re.search(r"^PEAK (\d+)$", done.stdout, re.MULTILINE)
    return done.returncode, done.stdout + done.stderr, int(peak.group(1)) if peak else -1


def _load(data: bytes) -> object:
    return jsonio.load(io.BytesIO(data), "f.json")


def _documents(data: bytes) -> object:
    return list(jsonio.documents(io.BytesIO(data), "f.json"))


def _items(data: bytes) -> object:
    return list(jsonio.items(io.BytesIO(data), "f.json", "Results.item"))


def _headers(data: bytes) -> object:
    return jsonio.headers(io.BytesIO(data), "f.json", "Results")


def _records(data: bytes) -> object:
    return list(jsonio.records(io.BytesIO(data), "f.json", ("Results",), lambda _doc: True, "a report"))


def _detect(data: bytes) -> object:
    return registry.detect(io.BytesIO(data), "f.json")


READERS: dict[str, Callable[[bytes], object]] = {
    "load": _load,
    "documents": _documents,
    "items": _items,
    "headers": _headers,
    "records": _records,
    "detect": _detect,
}


# --- JSON -----------------------------------------------------------------------------------


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize(
    "data",
    [
        b"[" * 100_000,
        b'{"Results": [' + b'{"a": ' * 30_000 + b"1" + b"}" * 30_000 + b"]}",
        b'{"Results": [' + b"[" * (jsonio.MAX_DEPTH - 1) + b"]" * (jsonio.MAX_DEPTH - 1) + b"]}",
    ],
    ids=["arrays", "objects", "one-too-deep"],
)
def test_deep_nesting_is_refused_by_every_reader_and_by_detection(reader: str, data: bytes) -> None:
    with pytest.raises(InputError) as refused:
        READERS[reader](data)
    assert str(refused.value) == f"f.json: {NESTED}"


@pytest.mark.parametrize("reader", list(READERS))
def test_nesting_up_to_the_limit_is_read(reader: str) -> None:
    n = jsonio.MAX_DEPTH - 2  # the document and its Results array are two levels
    data = b'{"Results": [' + b"[" * n + b"]" * n + b"]}"
    if reader == "detect":
        with pytest.raises(InputError, match="unrecognised"):  # read, not refused: no format has this shape
            READERS[reader](data)
    else:
        assert READERS[reader](data)


def _each_reader(data: bytes) -> None:
    """Run every reader on `data`, one line each: `reader: REFUSED message` or `reader: ACCEPTED`."""
    for name, reader in READERS.items():
        try:
            reader(data)
            print(f"{name}: ACCEPTED")
        except InputError as exc:
            print(f"{name}: REFUSED {exc}")


@pytest.mark.parametrize(
    "number",
    [b"9" * 5000, b"-" + b"1" * 5000, b"1." + b"0" * 5000, b"1e" + b"5" * 5000, b"7" * (jsonio.MAX_DIGITS + 1)],
    ids=["integer", "negative", "fraction", "exponent", "one-too-long"],
)
def test_a_number_too_long_is_refused_by_every_reader_without_crashing(number: bytes) -> None:
    """ijson's C backend crashed the process (a segfault) on an integer of more than 4,300 digits:
    the readers run in a child, so the old crash fails this test rather than the run."""
    data = b'{"Results": [1, ' + number + b", 2]}"
    status, out, _peak = isolated(
        f"""
        from tests.parsers.test_hostile import _each_reader
        _each_reader({data!r})
        """
    )
    assert status == 0, out[-500:]
    for name in READERS:
        assert f"{name}: REFUSED f.json: {LONG}\n" in out, out[-500:]


def test_digits_brackets_and_escaped_quotes_inside_strings_are_text() -> None:
    text = "9" * 5000 + "[" * 5000 + '\\"' + "{" * 3000 + "\\\\"
    data = json.dumps({"Results": [text, {"k" + "[" * 2000: "]" * 9000}]}).encode()
    for name, reader in READERS.items():
        if name != "detect":
            assert reader(data), name
    assert _items(data)[0] == text
    assert _headers(data) == [({}, 2)]
    digits = b"1" * jsonio.MAX_DIGITS  # as long as a number may be
    assert _documents(b'{"Results": [' + digits + b"]}") == [{"Results": [int(digits)]}]
    assert _items(b'{"Results": [0.' + digits + b"]}") == [float(b"0." + digits)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 4096])
def test_the_guard_sees_the_same_in_any_chunking(size: int) -> None:
    """A string, an escape or a number cut by the reads: the streamed readers feed the guard what
    ijson asks for, in pieces of any size."""
    ok = b'{"Results": ["a\\\\", "\\"[[[", 0.' + b"1" * jsonio.MAX_DIGITS + b', "x\\\\\\"]]]"]}'
    too_long = b'{"Results": ["a\\\\", ' + b"2" * (jsonio.MAX_DIGITS + 1) + b"]}"
    n = jsonio.MAX_DEPTH
    too_deep = b'{"Results": ["\\\\", "\\"]]", ' + b"[" * n + b'"]]]"' + b"]" * n + b"]}"
    assert _items_in_pieces(ok, size) == ["a\\", '"[[[', float("0." + "1" * jsonio.MAX_DIGITS), 'x\\"]]]']
    with pytest.raises(InputError, match=re.escape(LONG)):
        _items_in_pieces(too_long, size)
    with pytest.raises(InputError, match=re.escape(NESTED)):
        _items_in_pieces(too_deep, size)


class _Pieces(io.RawIOBase):
    """A stream that never gives more than `size` bytes at a time."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data, self._size, self._pos = data, size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        piece = self._data[self._pos : self._pos + min(len(buffer), self._size)]
        buffer[: len(piece)] = piece
        self._pos += len(piece)
        return len(piece)


def _items_in_pieces(data: bytes, size: int) -> list[Any]:
    return list(jsonio.items(io.BufferedReader(_Pieces(data, size), 1), "f.json", "Results.item"))


def test_the_guard_agrees_with_a_character_by_character_reading_on_random_json() -> None:
    """Nesting depth and digit runs outside strings, as a plain tokenizer counts them, on random
    documents full of escapes, brackets in strings and numbers, fed in random pieces."""
    import random

    rng = random.Random(7)

    def string() -> str:
        marks = ['\\"', "\\\\", "\\n", "[", "]", "{", "}", "7", "x", "\\u005b"]
        return '"' + "".join(rng.choices(marks, k=rng.randrange(8))) + '"'

    def value(depth: int, out: list[str]) -> None:
        kind = rng.randrange(5 if depth < 9 else 3)
        if kind == 0:
            out.append(string())
        elif kind == 1:
            out.append("-" * rng.randrange(2) + "8" * rng.randrange(1, 9) + rng.choice(["", ".5", "e12"]))
        elif kind == 2:
            out.append(rng.choice(["true", "null", "0"]))
        elif kind == 3:
            out.append("[")
            for i in range(rng.randrange(4)):
                out.append(", " if i else "")
                value(depth + 1, out)
            out.append("]")
        else:
            out.append("{")
            for i in range(rng.randrange(4)):
                out.append((", " if i else "") + string() + ": ")
                value(depth + 1, out)
            out.append("}")

    for _ in range(400):
        out: list[str] = []
        value(0, out)
        data = "".join(out).encode()
        depth, digits = _reference(data)
        max_depth, max_digits = rng.randrange(1, 8), rng.randrange(1, 8)
        guard = jsonio._Guard("f.json", max_depth, max_digits)
        pos, refused = 0, None
        try:
            while pos < len(data):
                step = rng.choice([1, 2, 3, 5, 16, 1000])
                guard.feed(data[pos : pos + step])
                pos += step
        except InputError as exc:
            refused = exc.problem
        expected = (
            f"refused: a JSON number with more than {max_digits} digits"
            if digits > max_digits
            else f"refused: JSON nested more than {max_depth} levels deep"
            if depth > max_depth
            else None
        )
        if refused is not None and expected is not None and refused != expected:
            # both limits are passed: which one is seen first depends on where
            assert digits > max_digits and depth > max_depth, data
        else:
            assert refused == expected, data


def _reference(data: bytes) -> tuple[int, int]:
    """The deepest nesting and the longest digit run outside strings, one byte at a time."""
    depth = deepest = run = longest = 0
    in_string = escaped = False
    for byte in data:
        char = chr(byte)
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        run = run + 1 if char.isdigit() else 0
        longest = max(longest, run)
        if char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest, longest


def test_long_keys_at_depth_cost_no_memory_in_the_streamed_readers() -> None:
    """Prefix-tracking parsers held every key of the path once per level (400 levels of 10 KB keys:
    about 800 MB for a 4 MB file); the streamed readers hold each key once."""
    status, out, peak = isolated(
        """
        from tests.parsers.test_hostile import _items, _headers, _records
        key = b'"' + b"k" * 10_000 + b'"'
        data = b'{"Results": [1], "x": ' + (b"{" + key + b": ") * 400 + b"1" + b"}" * 400 + b"}"
        print("items", _items(data))
        print("headers", len(_headers(data)))
        print("records", len(_records(data)))
        """,
        memory_mb=768,
    )
    assert status == 0, out[-500:]
    assert "items [1]\nheaders 1\nrecords 1\n" in out
    assert 0 < peak < 200, out[-500:]


def test_detection_of_a_deep_head_is_quick_and_flat() -> None:
    """The start of a file (64 KiB) nested 30,000 deep took 31 s and 8.9 GB to sniff."""
    status, out, peak = isolated(
        """
        import io
        from poam.parsers import registry
        from poam.errors import InputError
        head = b'{"Findings": ' + b'{"a": ' * 12_000
        try:
            registry.detect(io.BytesIO(head), "f.json")
        except InputError as exc:
            print("REFUSED", exc)
        """,
        memory_mb=1024,
        timeout=60,
    )
    assert status == 0, out[-500:]
    assert f"REFUSED f.json: {NESTED}" in out
    assert 0 < peak < 150


def test_detection_refuses_an_exponent_the_sniffers_cannot_hold() -> None:
    head = b'{"results": [], "errors": [], "version": 1e99999999999999999999}'
    with pytest.raises(InputError, match="exponent of more than 18 digits"):
        registry.detect(io.BytesIO(head), "f.json")


def test_lone_surrogates_do_not_crash_the_readers() -> None:
    """`json` keeps a lone surrogate escape as is (the importer decides what to store); ijson turns a
    lone high one into `?` and cannot decode a lone low one: one line, exit 2."""
    high = b'{"Results": ["a\\ud800"]}'
    low = b'{"Results": ["\\udc00b"]}'
    assert _documents(low) == [{"Results": ["\udc00b"]}]
    assert _load(high) == {"Results": ["a\ud800"]}
    assert _items(high) == ["a?"]
    for reader in (_items, _headers, _records):
        with pytest.raises(
            InputError, match="^f.json: not valid JSON: a string holds invalid UTF-8 or a lone surrogate"
        ):
            reader(low)


def _asff(hostile: bytes) -> bytes:
    """An ASFF page whose second finding, after the first 64 KiB, holds `hostile`: past detection,
    so the streamed reader must refuse it."""
    first = {"SchemaVersion": "2018-10-08", "Id": "f1", "ProductArn": "arn:p", "GeneratorId": "g", "Title": "t"}
    first["Description"] = "d" * 70_000
    return b'{"Findings": [' + json.dumps(first).encode() + b', {"Id": "f2", "Extra": ' + hostile + b"}]}"


@pytest.mark.parametrize(
    ("hostile", "problem"),
    [(b"1" * 5000, LONG), (b"[" * 5000 + b"]" * 5000, NESTED)],
    ids=["number", "nesting"],
)
def test_import_of_hostile_json_exits_2_with_one_line(tmp_path: Path, hostile: bytes, problem: str) -> None:
    path = tmp_path / "findings.json"
    path.write_bytes(_asff(hostile))
    done = subprocess.run(
        [sys.executable, "-m", "poam", "--db", str(tmp_path / "p.db"), "import", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 2, done.stderr[-500:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(f"{path}: {problem}"), lines


def test_a_defender_bundle_member_nested_too_deeply_is_refused(tmp_path: Path) -> None:
    from poam.parsers.defender import DefenderEndpointParser

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("vulnerabilities/1.json", b'{"value": [' + b"[" * 5000 + b"]" * 5000 + b"]}")
    buffer.seek(0)
    with pytest.raises(InputError) as refused:
        list(DefenderEndpointParser().parse(buffer, ParseContext("b.zip")))
    assert str(refused.value) == f"b.zip:vulnerabilities/1.json: {NESTED}"


# --- XML ------------------------------------------------------------------------------------

XML_FOLDERS = [
    "nessus_xml",
    "nmap_xml",
    "burp_xml",
    "zap_xml",
    "stig_ckl",
    "xccdf_results",
    "qualys_vm_xml",
    "qualys_was_xml",
    "openvas_xml",
    "tenable_was",
    "cyclonedx",
    "oscal_assessment_results",
    "dependency_check",
    "rapid7_xml",
    "qualys_vmdr_detection_xml",
    "acunetix_xml",
]


def _xml_sample(folder: str) -> tuple[Path, bytes]:
    """The first corpus file of the folder that is XML and imports."""
    for path in sorted(corpus_dir(folder).iterdir()):
        data = path.read_bytes()
        if xmlsafe.prolog(data[: xmlsafe.PROLOG_LIMIT])[0] is None:
            continue
        try:
            parser = registry.detect(io.BytesIO(data), str(path))
            list(parser.parse(io.BytesIO(data), ParseContext(str(path))))
        except InputError:
            continue
        return path, data
    pytest.skip(f"no XML file of {folder} imports")


def _with_prolog(data: bytes, root: str, prolog: bytes) -> bytes:
    """The document with its prolog (declaration, comments, document type) replaced."""
    m = re.search(rb"<(?:[\w.\-]+:)?" + re.escape(root.encode()) + rb"[\s>/]", data)
    assert m is not None
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + prolog + data[m.start() :]


@pytest.mark.parametrize("folder", XML_FOLDERS)
def test_a_comment_holding_a_fake_root_does_not_hide_entity_declarations(folder: str) -> None:
    """`<!-->` opens a comment (it does not close one): the old prolog scan took the root inside
    it for the document's, and never saw the document type that came after."""
    path, data = _xml_sample(folder)
    root = xmlsafe._scan(data).root
    assert root is not None
    hostile = _with_prolog(
        data, root, b"<!--> <" + root.encode() + b"> -->\n<!DOCTYPE " + root.encode() + b' [<!ENTITY x "expanded">]>\n'
    )
    assert xmlsafe.prolog(hostile) == (root, True)
    parser = registry.detect(io.BytesIO(data), str(path))
    with pytest.raises(InputError, match=ENTITIES):  # as with --format: detection may not even see it
        list(parser.parse(io.BytesIO(hostile), ParseContext(str(path))))


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE r [<!-- ] --> <!ENTITY x "y">]>',
        b'<!DOCTYPE r [<!ATTLIST r a CDATA "]>"> <!ENTITY x "y">]>',
        b"<!DOCTYPE r [<?pi ]> ?> <!ENTITY % p 'y'>]>",
        b'<!--->--> <!DOCTYPE r [<!ENTITY x "y">]>',
        b'<?pi <r> ?><!DOCTYPE r [<!ENTITY x "y">]>',
    ],
)
def test_a_document_type_is_read_as_xml_reads_it(doctype: bytes) -> None:
    assert xmlsafe.prolog(doctype + b"<r>&x;</r>") == ("r", True)


def test_what_the_parser_recorded_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the prolog scan ever wrong, the DTD the parser read refuses the file at its first event."""
    monkeypatch.setattr(xmlsafe, "check_prolog", lambda _stream, _source: None)
    doc = b'<!DOCTYPE r [<!ENTITY x "y">]><r><a>&x;</a></r>'
    with pytest.raises(InputError, match=ENTITIES):
        list(xmlsafe.iterparse(io.BytesIO(doc), "f.xml", ["a"]))
    with pytest.raises(InputError, match=ENTITIES):  # no event at all: checked at the end
        list(xmlsafe.iterparse(io.BytesIO(doc), "f.xml", ["none"]))


HEADER = (
    b'<?xml version="1.0"?>\n<NessusClientData_v2><Report name="r"><ReportHost name="10.0.0.1">'
    b"<HostProperties></HostProperties></ReportHost>"
)


class _Endless(io.RawIOBase):
    """A file that starts with `head`, then repeats `fill` for ever (a crash-zeroed disk, or
    junk): what a reader holds of it is what it buffers."""

    def __init__(self, head: bytes, fill: bytes) -> None:
        self._head, self._fill, self._pos = head, fill, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        assert whence == 0
        self._pos = offset
        return offset

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        out = self._head[self._pos : self._pos + size]
        if len(out) < size:
            start = max(self._pos - len(self._head), 0) % len(self._fill)
            need = size - len(out)
            out += (self._fill * (need // len(self._fill) + 2))[start : start + need]
        buffer[:size] = out
        self._pos += size
        return size


@pytest.mark.parametrize(
    ("opening", "fill", "problem"),
    [
        (b"", b"\x00" * 4096, "refused: NUL bytes in the XML (a damaged or zero-filled file?)"),
        (b"<!--", b"\x00" * 4096, "refused: NUL bytes in the XML"),
        (b"<!--", b"a<b>" * 1024, "refused: an XML comment longer than 16 MiB"),
        (b"<![CDATA[", b"a<b>" * 1024, "refused: an XML CDATA section longer than 16 MiB"),
        (b"<?pi ", b"a<b>" * 1024, "refused: an XML processing instruction longer than 16 MiB"),
        (b'<x a="', b"a>b" * 1024, "refused: more than 16 MiB of XML without markup"),
        (b"<x", b"a" * 4096, "refused: more than 16 MiB of XML without markup"),
    ],
    ids=["zeros", "zeros-in-comment", "comment", "cdata", "pi", "attribute", "name"],
)
def test_endless_junk_after_a_valid_start_is_refused_with_flat_memory(
    opening: bytes, fill: bytes, problem: str
) -> None:
    """libxml2 holds a tag, comment, processing instruction or CDATA section whole until it ends:
    a file that never ends it was buffered whole (gigabytes); now refused within MAX_TOKEN."""
    status, out, peak = isolated(
        f"""
        from tests.parsers.test_hostile import HEADER, _Endless
        from poam.parsers import xmlsafe
        from poam.errors import InputError
        stream = _Endless(HEADER + {opening!r}, {fill!r})
        try:
            for _event, element in xmlsafe.iterparse(stream, "f.nessus", ["ReportHost"]):
                xmlsafe.release(element)
            print("ACCEPTED")
        except InputError as exc:
            print("REFUSED", exc)
        """,
        memory_mb=1024,
        timeout=120,
    )
    assert status == 0, out[-500:]
    assert f"REFUSED f.nessus: {problem}" in out
    assert 0 < peak < 150, out[-300:]


def test_large_text_comments_and_cdata_under_the_limits_still_parse() -> None:
    body = b"x" * (4 << 20)
    doc = (
        HEADER.replace(b"</ReportHost>", b"<!--" + body + b"--><![CDATA[" + body + b"]]>" + body + b"</ReportHost>")
        + b"</Report></NessusClientData_v2>"
    )
    got = [el.get("name") for _e, el in xmlsafe.iterparse(io.BytesIO(doc), "f.nessus", ["ReportHost"])]
    assert got == ["10.0.0.1"]


# --- XML in an encoding that hides markup from byte checks ----------------------------------------

UTF7_ENTITY = (
    b'<?xml version="1.0" encoding="UTF-7"?>\n+ADwAIQ-DOCTYPE r +AFsAPAAh-ENTITY x \'y\'+AD4AXQA+-\n<r>&x;</r>'
)


def test_xml_in_utf7_is_refused_before_its_bytes_are_trusted() -> None:
    # `<!ENTITY` spelled in UTF-7 passes a check on bytes; the declaration is refused instead
    with pytest.raises(InputError, match=r"f.xml: refused: XML in the encoding 'UTF-7' \(only UTF-8 and ASCII-based\)"):
        list(xmlsafe.iterparse(io.BytesIO(UTF7_ENTITY), "f.xml", ["r"]))


@pytest.mark.parametrize("encoding", [b"UTF-8", b"utf-8", b"ISO-8859-1", b"windows-1252", b"US-ASCII"])
def test_ascii_based_encodings_are_read(encoding: bytes) -> None:
    doc = b'<?xml version="1.0" encoding="' + encoding + b'"?><r><a>x</a></r>'
    assert [e.text for _ev, e in xmlsafe.iterparse(io.BytesIO(doc), "f.xml", ["a"])] == ["x"]


def _workbook_with_part(tmp_path: Path, part: bytes) -> Path:
    """A real inventory workbook whose first worksheet is replaced by `part`."""
    from tests.services.test_inventory import workbook

    plain = workbook(tmp_path / "plain.xlsx", [{"UNIQUE ASSET IDENTIFIER": "a1"}])
    hostile = tmp_path / "hostile.xlsx"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(hostile, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            out.writestr(info, part if info.filename == "xl/worksheets/sheet1.xml" else data)
    return hostile


@pytest.mark.parametrize(
    ("part", "problem"),
    [
        # before: only the first 64 KiB of each part was looked at
        (
            b'<?xml version="1.0"?>\n<!--' + b"x" * 70_000 + b'-->\n<!DOCTYPE w [<!ENTITY a "b">]><worksheet/>',
            "XML entity or document type declarations are not accepted in a workbook",
        ),
        (UTF7_ENTITY, "refused: XML in the encoding 'UTF-7'"),
    ],
    ids=["after-64-KiB", "utf-7"],
)
def test_a_workbook_part_hiding_a_declaration_is_refused(tmp_path: Path, part: bytes, problem: str) -> None:
    from poam.parsers.inventory_xlsx import entries

    with pytest.raises(InputError, match=re.escape(problem)):
        list(entries(_workbook_with_part(tmp_path, part)))
