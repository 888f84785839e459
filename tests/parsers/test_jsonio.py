"""Reading JSON files: every document of a file, streamed items and headers across documents."""

from __future__ import annotations

import io

import pytest

from poam.errors import InputError
from poam.parsers import jsonio

BOM = b"\xef\xbb\xbf"


def test_documents_one_after_another_as_json_lines_and_with_a_bom_each() -> None:
    data = BOM + b'{"a": 1}\n' + BOM + b'{"b": [2]}  [3]\r\n\n{"c":\n 4}\n'
    assert list(jsonio.documents(io.BytesIO(data), "f.json")) == [{"a": 1}, {"b": [2]}, [3], {"c": 4}]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b" \n\t", "empty file"),
        (b'{"a": 1}\n{"b": ', r"JSON value 2 is not valid: Expecting value \(line 2, column 7\)"),
        (b'{"a" 1}', r"not valid JSON: Expecting ':' delimiter \(line 1, column 6\)"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_documents_name_what_is_broken(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        list(jsonio.documents(io.BytesIO(data), "f.json"))


def test_documents_are_capped() -> None:
    with pytest.raises(InputError, match="JSON larger than"):
        list(jsonio.documents(io.BytesIO(b"[" + b" " * 2000 + b"]"), "f.json", limit=1000))


def test_items_stream_through_every_document() -> None:
    data = b'{"Results": [1, 2]}\n{"Results": [3]}{"Other": 1}'
    assert list(jsonio.items(io.BytesIO(data), "f.json", "Results.item")) == [1, 2, 3]


def test_headers_of_each_document_without_building_the_big_array() -> None:
    data = b'{"Name": "a", "Results": [{"x": 1}, {"x": 2}], "After": true}\n{"Name": "b"}'
    assert jsonio.headers(io.BytesIO(data), "f.json", "Results") == [
        ({"Name": "a", "After": True}, 2),
        ({"Name": "b"}, 0),
    ]
    assert jsonio.headers(io.BytesIO(b"[1]"), "f.json", "Results") is None
    with pytest.raises(InputError, match="Results is a dict, not a list"):
        jsonio.headers(io.BytesIO(b'{"Results": {}}'), "f.json", "Results")


def test_records_of_pages_arrays_and_bare_records_in_any_mix() -> None:
    data = (
        b'{"Findings": [{"Id": 1}, {"Id": 2, "R": [{"x": {}}]}], "NextToken": "t"}\n'
        b'[{"Id": 3}]\n'
        b'{"Id": 4, "findings": 5}\n'  # a bare record whose member is not an array of records
        b'{"findings": [{"Id": 5}]}'
        b'{"Findings": []}'
        b"7"
    )
    got = list(jsonio.records(io.BytesIO(data[:-1]), "f.json", ("Findings", "findings"), _has_id, "a finding"))
    assert got == [{"Id": 1}, {"Id": 2, "R": [{"x": {}}]}, {"Id": 3}, {"Id": 4, "findings": 5}, {"Id": 5}]


def _has_id(doc: dict[str, object]) -> bool:
    return "Id" in doc


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"Findings": [{"Id": 1}, {"Id"', "truncated"),
        (b'{"Other": []}', "f.json: not a finding$"),
        (b'[{"Id": 1}]\n{"Other": 1}', "f.json: document 2: not a finding$"),
        (b'{"Id": 1} 7', r"document 2: not a finding \(a JSON int\)"),
    ],
)
def test_records_of_a_broken_or_foreign_file_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        list(jsonio.records(io.BytesIO(data), "f.json", ("Findings",), _has_id, "a finding"))


def _reference(documents: list[object], envelopes: tuple[str, ...]) -> list[object]:
    """What `records` must give, from documents already parsed."""
    out: list[object] = []
    for doc in documents:
        if isinstance(doc, list):
            out += doc
        elif isinstance(doc, dict) and any(isinstance(doc.get(k), list) for k in envelopes):
            for k in envelopes:
                if isinstance(doc.get(k), list):
                    out += doc[k]
        else:
            out.append(doc)
    return out


def test_records_match_a_whole_document_reading_on_random_files() -> None:
    import json
    import random

    rng = random.Random(6)

    def value(depth: int) -> object:
        kind = rng.randrange(7 if depth < 3 else 4)
        if kind == 0:
            return rng.randrange(-5, 1000)
        if kind == 1:
            return rng.choice(["", "x", "Findings", 'q"uote', "\u00e9\n"])
        if kind == 2:
            return rng.choice([None, True, False, 1.5])
        if kind == 3:
            return rng.randrange(3)
        if kind == 4:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return {rng.choice(["a", "b", "Findings", "Id"]): value(depth + 1) for _ in range(rng.randrange(4))}

    def record() -> dict[str, object]:
        return {"Id": rng.randrange(100), **{k: value(1) for k in rng.sample(["x", "y", "z"], rng.randrange(3))}}

    def document() -> object:
        kind = rng.randrange(3)
        if kind == 0:
            return [record() for _ in range(rng.randrange(4))]
        if kind == 1:
            page: dict[str, object] = {"Findings": [record() for _ in range(rng.randrange(4))]}
            if rng.random() < 0.5:
                page["NextToken"] = value(1)
            return page
        return record()

    for _ in range(300):
        docs = [document() for _ in range(rng.randrange(1, 5))]
        joiner = rng.choice(["", "\n", "\r\n", " \n\n"])
        text = joiner.join(json.dumps(d, indent=rng.choice([None, 2])) for d in docs)
        got = list(jsonio.records(io.BytesIO(text.encode()), "f.json", ("Findings",), _has_id, "a finding"))
        assert got == _reference(docs, ("Findings",)), text


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 64, -1])
def test_byte_order_marks_of_joined_files_are_dropped_in_any_chunking(size: int) -> None:
    bom = jsonio._NoBom(io.BytesIO(BOM + b'{"a": 1}\n' + BOM + b'{"b": "x' + BOM + b'y"}' + b"\xef\xbb"))
    out = b""
    while chunk := bom.read(size):
        out += chunk
    assert out == b'{"a": 1}\n{"b": "xy"}\xef\xbb'  # a cut mark at the very end is data, kept


def test_streamed_readers_take_joined_files_with_a_mark_each() -> None:
    data = BOM + b'{"Findings": [{"Id": 1}]}\n' + BOM + b'[{"Id": 2}]\n' + BOM + b'{"Id": 3}'
    got = list(jsonio.records(io.BytesIO(data), "f.json", ("Findings",), _has_id, "a finding"))
    assert got == [{"Id": 1}, {"Id": 2}, {"Id": 3}]
    assert list(jsonio.items(io.BytesIO(BOM + b'{"R": [1]}' + BOM + b'{"R": [2]}'), "f", "R.item")) == [1, 2]
    assert jsonio.headers(io.BytesIO(BOM + b'{"R": [1]}' + BOM + b'{"R": []}'), "f", "R") == [({}, 1), ({}, 0)]


def test_records_refuse_nesting_deeper_than_any_report() -> None:
    n = jsonio.MAX_DEPTH - 2  # the outer array and the record are two levels
    deep = b'[{"Id": 1, "x": ' + b"[" * (n + 1) + b"]" * (n + 1) + b"}]"
    with pytest.raises(InputError, match=f"^f.json: refused: JSON nested more than {jsonio.MAX_DEPTH} levels deep$"):
        list(jsonio.records(io.BytesIO(deep), "f.json", (), _has_id, "a finding"))
    ok = b'[{"Id": 1, "x": ' + b"[" * n + b"]" * n + b"}]"
    assert len(list(jsonio.records(io.BytesIO(ok), "f.json", (), _has_id, "a finding"))) == 1
