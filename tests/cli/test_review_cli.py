"""`poam review` and `poam vendor release` as a user types them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_rules_cli import db, run  # noqa: F401  (db is a fixture)


def test_review_text_and_json(db: str) -> None:  # noqa: F811
    r = run("--db", db, "review")
    assert r.exit_code == 0, r.output
    assert "Review of cso (fedramp-cr26)" in r.stdout
    assert "Awaiting evaluation: 3" in r.stdout  # a CR26 system: nothing evaluated yet
    assert "FedRAMP performance triggers" in r.stdout
    data = json.loads(run("--db", db, "review", "--json").stdout)
    assert sorted(data["awaiting_evaluation"]) == ["V-1", "V-2", "V-3"]
    assert data["as_of"].endswith("Z") and isinstance(data["capacity"], list)
    assert [t["threshold"] for t in data["performance"]["triggers"]] == [5, 5, 10, 10]


def test_review_never_creates_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    r = run("--db", str(missing), "review")
    assert r.exit_code != 0 and not missing.exists()


def test_vendor_release_from_the_command_line(db: str) -> None:  # noqa: F811
    r = run("--db", db, "vendor", "release", "V-1", "--date", "2026-01-01")
    assert r.exit_code == 2 and "not vendor-dependent" in r.output
    assert run("--db", db, "vendor", "checkin", "V-1", "--date", "2026-11-01", "--product", "Acme").exit_code == 0
    r = run("--db", db, "vendor", "release", "V-1", "--date", "2026-11-20")
    assert r.exit_code == 0 and "fix released 2026-11-20" in r.stdout
    shown = json.loads(run("--db", db, "item", "show", "V-1", "--json").stdout)
    assert shown["vendor"]["release_date"] == "2026-11-20" and shown["vendor"]["next_checkin"] is None
