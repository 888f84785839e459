"""The CSV reader shared by every CSV format: the end of a file cut short, and encodings."""

from __future__ import annotations

import io

import pytest

from poam.errors import InputError
from poam.parsers import csvio
from poam.parsers.base import ParseContext

HEADER = b"Plugin ID,Host,Name,Plugin Output\n"


def is_header(names: list[str]) -> bool:
    return {"plugin_id", "host", "name"} <= set(names)


def read(data: bytes, where: str | ParseContext | None = None) -> list[dict[str, str]]:
    ctx = where if where is not None else ParseContext("t.csv")
    return list(csvio.rows(io.BytesIO(data), ctx, is_header))


def read_ctx(data: bytes) -> tuple[list[dict[str, str]], ParseContext]:
    ctx = ParseContext("t.csv")
    return read(data, ctx), ctx


# --- the end of the file -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "tail",
    [
        b"2,h2,Second",  # three of four fields, no line break
        b"2,h2",
        b"2,",
        b"2",
    ],
)
def test_a_last_row_with_fewer_fields_and_no_line_break_is_refused(tail: bytes) -> None:
    fields = tail.count(b",") + 1
    expected = (
        f"ends in the middle of a row: its last row \\(line 3\\) has {fields} of the header's 4 fields and no line"
    )
    with pytest.raises(InputError, match=expected + r" break \(truncated\?\)$"):
        read(HEADER + b"1,h1,First,out\n" + tail)


@pytest.mark.parametrize(
    "tail",
    [
        b'2,h2,Second,"plugin output, line one',  # cut inside a quoted value
        b'2,h2,Second,"plugin output\nline two\n',  # cut just after a line break inside it
        b'2,h2,Second,"say ""hi',  # inside, after an escaped quote
        b'2,h2,Second,"',
    ],
)
def test_a_last_row_inside_a_quoted_value_is_refused(tail: bytes) -> None:
    with pytest.raises(InputError, match=r"a quoted value of the row on line 3 never closes \(truncated\?\)"):
        read(HEADER + b"1,h1,First,out\n" + tail)


def test_a_quote_never_closed_in_the_middle_is_refused_naming_its_row() -> None:
    data = HEADER + b'1,h1,First,"unclosed\n2,h2,Second,out\n3,h3,Third,out\n'
    with pytest.raises(InputError, match="row on line 2 never closes"):
        read(data)


@pytest.mark.parametrize(
    "data",
    [
        HEADER + b'1,h1,First,out\n2,h2,Second,"multi\nline"\n',
        (HEADER + b'1,h1,First,out\n2,h2,Second,"multi\nline"\n').replace(b"\n", b"\r\n"),
        (HEADER + b'1,h1,First,out\n2,h2,Second,"multi\nline"\n').replace(b"\n", b"\r"),
        HEADER + b'1,h1,First,out\n2,h2,Second,"multi\nline"\n\n\n',
        HEADER + b'1,h1,First,out\n2,h2,Second,"multi\nline"\n,,,\n"",,,\n',
    ],
)
def test_a_file_ending_with_a_line_break_after_a_complete_row_is_read(data: bytes) -> None:
    found, ctx = read_ctx(data)
    assert [r["plugin_id"] for r in found] == ["1", "2"]
    assert found[1]["plugin_output"] in ("multi\nline", "multi\r\nline", "multi\rline")
    assert ctx.report.warnings == [] and not ctx.report.cut_short


def test_a_short_row_followed_by_a_line_break_is_read_as_before() -> None:
    # rows may leave out trailing empty fields; only a row the file ends in is suspect
    found, ctx = read_ctx(HEADER + b"1,h1\n2,h2,Second\n")
    assert found == [
        {"plugin_id": "1", "host": "h1", "name": "", "plugin_output": ""},
        {"plugin_id": "2", "host": "h2", "name": "Second", "plugin_output": ""},
    ]
    assert not ctx.report.cut_short


@pytest.mark.parametrize("tail", [b"2,h2,Second,out", b'2,h2,Second,"out"', b"2,h2,Second,", b"2,h2,Second,out,extra"])
def test_a_complete_last_row_without_a_line_break_is_read_but_may_be_cut(tail: bytes) -> None:
    found, ctx = read_ctx(HEADER + b"1,h1,First,out\n" + tail)
    assert [r["plugin_id"] for r in found] == ["1", "2"]
    assert ctx.report.cut_short
    assert ctx.report.warnings == [
        "file: the file does not end with a line break: it may have been cut short (the end of its last value, "
        "or rows after it, lost); it closes nothing by absence"
    ]


def test_without_a_context_a_possible_cut_is_refused() -> None:
    # a plugin that passes only the file name cannot carry the warning: the file is refused
    with pytest.raises(InputError, match=r"does not end with a line break \(truncated\?\)"):
        read(HEADER + b"1,h1,First,out", "t.csv")
    assert len(read(HEADER + b"1,h1,First,out\n", "t.csv")) == 1


def test_a_header_only_file_without_a_line_break_is_empty_and_may_be_cut() -> None:
    found, ctx = read_ctx(HEADER.rstrip(b"\n"))
    assert found == [] and ctx.report.cut_short
    assert ctx.report.warnings == [
        "file: the file does not end with a line break: it may have been cut short (rows after its header "
        "lost); it closes nothing by absence"
    ]
    found, ctx = read_ctx(HEADER)
    assert found == [] and not ctx.report.cut_short


def test_two_readings_of_one_file_warn_once() -> None:
    ctx = ParseContext("t.csv")
    stream = io.BytesIO(HEADER + b"1,h1,First,out")
    for _ in range(2):
        stream.seek(0)
        assert len(list(csvio.rows(stream, ctx, is_header))) == 1
    assert ctx.report.warning_count == 1


def test_table_checks_the_end_against_its_first_line() -> None:
    assert list(csvio.table(io.BytesIO(b"a,b,c\n1,2,3\n"), "t.csv")) == [["a", "b", "c"], ["1", "2", "3"]]
    with pytest.raises(InputError, match="has 2 of the header's 3 fields"):
        list(csvio.table(io.BytesIO(b"a,b,c\n1,2,3\n4,5"), "t.csv"))


# --- encodings -----------------------------------------------------------------------------------


def test_utf8_with_a_byte_order_mark_is_read() -> None:
    found, ctx = read_ctx(b"\xef\xbb\xbf" + HEADER + "1,h1,Caf\u00e9 \u2013 \u00fcber,out\n".encode())
    assert found[0]["name"] == "Caf\u00e9 \u2013 \u00fcber" and ctx.report.warnings == []


def test_a_windows_1252_file_is_read_as_such_and_said() -> None:
    data = HEADER + b"1,h1,First,ok\n2,h2,Caf\xe9 \x96 \x93quoted\x94,out\n"
    found, ctx = read_ctx(data)
    assert found[1]["name"] == "Caf\u00e9 \u2013 \u201cquoted\u201d"
    assert ctx.report.warnings == ["file: not UTF-8 text (byte 0xE9 at offset 56, line 3): read as Windows-1252"]


def test_invalid_utf8_after_the_first_mebibyte_is_refused_with_its_place() -> None:
    # before: the first MiB decided UTF-8 and later bytes became replacement characters
    row = "1,h1,Caf\u00e9,out\n".encode()
    body = row * (1100 * 1024 // len(row))
    data = HEADER + body + b"2,h2,Caf\xe9,out\n"
    offset = len(HEADER) + len(body) + 8
    line = 2 + body.count(b"\n")
    with pytest.raises(InputError, match=f"byte 0xE9 at offset {offset} \\(line {line}\\) follows UTF-8 text; save"):
        read(data)


def test_one_windows_1252_byte_before_utf8_text_is_refused_not_mojibake() -> None:
    # before: the whole file was read as Windows-1252, every UTF-8 character as two or three
    data = HEADER + b"1,h1,Caf\xe9,out\n" + "2,h2,\u00fcber \u2013 na\u00efve,out\n".encode()
    with pytest.raises(
        InputError,
        match=r"mixes encodings: UTF-8 text at offset \d+ \(line 3\) after byte 0xE9 at offset 42 \(line 2\)",
    ):
        read(data)


def test_windows_1252_text_that_happens_to_form_utf8_bytes_is_read() -> None:
    # `„Fuß“` and `Ö”` are DF 93 and D6 94 in Windows-1252: well-formed UTF-8 sequences, but no
    # UTF-8 text a Western file holds (before: refused as a mixture)
    text = "1,h1,\u201eFu\u00df\u201c \u00d6\u201d,out\n"
    found, ctx = read_ctx(HEADER + text.encode("cp1252"))
    assert found[0]["name"] == "\u201eFu\u00df\u201c \u00d6\u201d"
    assert ctx.report.warnings == ["file: not UTF-8 text (byte 0x84 at offset 39, line 2): read as Windows-1252"]


def test_a_byte_order_mark_says_utf8_and_a_legacy_byte_after_it_is_refused() -> None:
    with pytest.raises(InputError, match="byte 0xE9 at offset 45 \\(line 2\\) follows UTF-8 text"):
        read(b"\xef\xbb\xbf" + HEADER + b"1,h1,Caf\xe9,out\n")


def test_a_file_cut_inside_a_utf8_character_is_refused() -> None:
    with pytest.raises(InputError, match=r"ends in the middle of a UTF-8 character \(truncated\?\)"):
        read(HEADER + "1,h1,Caf\u00e9,out\n2,h2,\u2013".encode()[:-1])


def test_bytes_that_are_no_text_are_refused() -> None:
    with pytest.raises(InputError, match=r"byte 0x81 at offset 42 \(line 2\) is neither UTF-8 nor Windows-1252"):
        read(HEADER + b"1,h1,Caf\x81,out\n")
    with pytest.raises(InputError, match="UTF-16 text: save the CSV as UTF-8"):
        read(b"\xff\xfe" + HEADER.decode().encode("utf-16-le"))


def test_characters_split_between_two_chunks_are_read_and_checked() -> None:
    pad = csvio.CHUNK - len(HEADER) - 1  # the next character straddles the first chunk's end
    data = HEADER + b"1,h1," + b"x" * (pad - 5) + "\u2013 done,out\n".encode()
    found = read(data)
    assert found[0]["name"].endswith("\u2013 done")
    legacy = HEADER + b"1,h1,\xe9," + b"x" * (pad - 7) + "\u2013,out\n".encode()
    with pytest.raises(InputError, match=f"mixes encodings: UTF-8 text at offset {csvio.CHUNK - 1} "):
        read(legacy)


def test_head_text_decodes_as_the_reader_does() -> None:
    stream = io.BytesIO(b"\xef\xbb\xbfQualys \xe2\x80\x93 report\n")
    assert csvio.head_text(stream) == "Qualys \u2013 report\n" and stream.tell() == 0
    assert csvio.head_text(io.BytesIO(b"Caf\xe9\n")) == "Caf\u00e9\n"
