"""Values a file gives that no database can store exactly (issue 7, item 6): lone surrogates from
JSON escapes. Where such a value identifies something the file is refused (exit 2, one line, the
database unchanged); in descriptive text it is stored as U+FFFD with a warning. Before: exit 3
(UnicodeEncodeError) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from poam.cli import cli
from poam.errors import InputError
from poam.services import audit
from poam.services.importer import import_file
from poam.store.tables import audit_events, findings, scans, weaknesses


def bandit(tmp_path: Path, filename: str = "app/one.py", text: str = "Use of assert detected.") -> Path:
    """A Bandit report of one result; `json.dumps` writes a lone surrogate as its `\\ud800` escape."""
    doc: dict[str, Any] = {
        "errors": [],
        "generated_at": "2026-01-05T10:00:00Z",
        "metrics": {"_totals": {"loc": 2}},
        "results": [
            {
                "code": "1 x\n",
                "filename": filename,
                "issue_confidence": "HIGH",
                "issue_severity": "LOW",
                "issue_text": text,
                "line_number": 2,
                "line_range": [2],
                "more_info": "https://bandit.readthedocs.io/",
                "test_id": "B101",
                "test_name": "assert_used",
            }
        ],
    }
    path = tmp_path / "bandit.json"
    path.write_text(json.dumps(doc), encoding="ascii")
    return path


def count(engine: Engine) -> int:
    with engine.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(scans)).scalar_one())


def test_a_lone_surrogate_in_a_path_refuses_the_file(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"bandit\.json: path 'app/one\\ud800\.py' holds a lone surrogate"):
        import_file(engine, bandit(tmp_path, filename="app/one\ud800.py"), asset="repo")
    assert count(engine) == 0


def test_a_lone_surrogate_in_an_asset_name_refuses_the_file(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"asset name 'repo\\udc00' holds a lone surrogate"):
        import_file(engine, bandit(tmp_path, text="x \udc00"), asset="repo\udc00")
    assert count(engine) == 0


def test_a_lone_surrogate_in_descriptive_text_is_stored_as_a_replacement_with_a_warning(
    engine: Engine, tmp_path: Path
) -> None:
    r = import_file(engine, bandit(tmp_path, text="Use of \udc00 assert \ud800"), asset="repo")
    assert r.items_opened == 1
    assert r.warning_lines == ["Bandit B101: text holding lone surrogates (\\ud800...): stored as U+FFFD"]
    with engine.begin() as conn:
        description = conn.execute(select(weaknesses.c.description)).scalar_one()
        assert conn.execute(select(func.count()).select_from(findings)).scalar_one() == 1
    assert "Use of \ufffd assert \ufffd" in description


def test_the_command_line_exits_2_with_one_line(db_url: str, tmp_path: Path) -> None:
    r = CliRunner().invoke(
        cli, ["--db", db_url, "import", str(bandit(tmp_path, filename="a\ud800.py")), "--asset", "r"]
    )
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("poam: error: ") and "lone surrogate" in lines[0], lines


def test_a_file_name_that_is_not_utf8_is_imported_and_audited(engine: Engine, tmp_path: Path) -> None:
    # before: UnicodeEncodeError in the audit log's hash (exit 3); Python reads the byte 0xFF of a
    # file name as the lone surrogate U+DCFF
    name = os.fsdecode(b"scan-\xff.json")
    path = bandit(tmp_path).rename(tmp_path / name)
    r = import_file(engine, path, asset="repo")
    assert r.items_opened == 1
    with engine.begin() as conn:
        assert audit.verify(conn) == (conn.execute(select(func.count()).select_from(audit_events)).scalar_one(), None)
        detail = conn.execute(select(audit_events.c.detail).where(audit_events.c.action == "scan.import")).scalar_one()
    assert "scan-\\udcff.json" in detail
