"""What a scan proves it looked at: per tool, per family, per check, with or without credentials."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from poam.domain.models import ItemStatus
from poam.errors import InputError
from poam.services.importer import import_file
from poam.store.tables import findings, scan_assets
from tests.builders import Host, Item, nessus, write_nessus
from tests.services.test_import import FEB, JAN, items_of

REPO1 = "https://git.example.com/acme/repo1"
REPO2 = "https://git.example.com/acme/repo2"

Run = tuple[str, str, list[tuple[str, str]]]


def sarif(path: Path, runs: list[Run], start: str) -> Path:
    """A SARIF log with one run per (tool, repository, [(rule, file)])."""
    doc: dict[str, object] = {"version": "2.1.0", "runs": []}
    for tool, repo, results in runs:
        doc["runs"].append(  # type: ignore[attr-defined]
            {
                "tool": {"driver": {"name": tool, "rules": [{"id": r} for r, _ in results]}},
                "versionControlProvenance": [{"repositoryUri": repo}],
                "invocations": [{"executionSuccessful": True, "startTimeUtc": start}],
                "results": [
                    {
                        "ruleId": r,
                        "level": "error",
                        "message": {"text": "m"},
                        "locations": [{"physicalLocation": {"artifactLocation": {"uri": f}}}],
                    }
                    for r, f in results
                ],
            }
        )
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def finding_rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.begin() as conn:
        rows = conn.execute(select(findings.c.tool, findings.c.path, findings.c.status).order_by(findings.c.id))
        return [tuple(r) for r in rows]


def test_one_tool_s_clean_run_does_not_close_another_tool_s_finding(engine: Engine, tmp_path: Path) -> None:
    jan = sarif(tmp_path / "jan.sarif", [("ToolA", REPO2, [("RULE-1", "app.py")])], "2026-01-05T10:00:00Z")
    import_file(engine, jan)
    # February: ToolA looked at repo1 only, ToolB at repo2; nobody ran ToolA's rules on repo2.
    feb = sarif(tmp_path / "feb.sarif", [("ToolA", REPO1, []), ("ToolB", REPO2, [])], "2026-02-05T10:00:00Z")
    r = import_file(engine, feb)
    assert (r.fixed_findings, r.closed_ids) == (0, [])
    assert finding_rows(engine) == [("ToolA", "app.py", "open")]
    with engine.begin() as conn:
        tools = sorted(conn.execute(select(scan_assets.c.tool).where(scan_assets.c.scan_id == 2)).scalars())
    assert tools == ["ToolA", "ToolB"]
    # March: ToolA itself scans repo2 clean, which proves the fix.
    mar = sarif(tmp_path / "mar.sarif", [("ToolA", REPO2, [])], "2026-03-05T10:00:00Z")
    assert import_file(engine, mar).closed_ids == ["V-1"]


def test_late_older_multi_tool_log_stays_history_under_a_newer_clean_one(engine: Engine, tmp_path: Path) -> None:
    new = sarif(tmp_path / "new.sarif", [("ToolA", REPO1, []), ("ToolB", REPO1, [])], "2026-02-05T10:00:00Z")
    import_file(engine, new)
    old = [("ToolA", REPO1, [("RULE-1", "app.py")]), ("ToolB", REPO1, [])]
    r = import_file(engine, sarif(tmp_path / "old.sarif", old, "2026-01-05T10:00:00Z"))
    assert (r.opened_ids, r.closed_ids) == (["V-1"], ["V-1"])  # history: open in January, gone by February
    assert finding_rows(engine) == [("ToolA", "app.py", "fixed")]
    assert items_of(engine)["V-1"].status is ItemStatus.CLOSED  # type: ignore[attr-defined]


def test_late_older_log_stays_open_when_the_newer_run_was_another_tool(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, sarif(tmp_path / "new.sarif", [("ToolB", REPO1, [])], "2026-02-05T10:00:00Z"))
    old = sarif(tmp_path / "old.sarif", [("ToolA", REPO1, [("RULE-1", "app.py")])], "2026-01-05T10:00:00Z")
    assert import_file(engine, old).items_opened == 1
    assert finding_rows(engine) == [("ToolA", "app.py", "open")]


FAMILIES = (
    "<Preferences/><FamilySelection>"
    "<FamilyItem><FamilyName>Web Servers</FamilyName><Status>disabled</Status></FamilyItem>"
    "<FamilyItem><FamilyName>General</FamilyName><Status>enabled</Status></FamilyItem></FamilySelection>"
)


def web_servers_off(path: Path, host: Host) -> Path:
    """A Nessus file whose policy disabled the "Web Servers" family."""
    path.write_text(nessus([host]).replace("</policyName>", "</policyName>" + FAMILIES), encoding="utf-8")
    return path


def test_a_disabled_family_never_closes_its_findings_in_either_import_order(engine: Engine, tmp_path: Path) -> None:
    found = Host("web01", ip="10.0.0.5", start=JAN, items=[Item("100", severity=3, family="Web Servers")])
    clean = Host("web01", ip="10.0.0.5", start=FEB)
    jan, feb = web_servers_off(tmp_path / "jan.nessus", found), web_servers_off(tmp_path / "feb.nessus", clean)
    import_file(engine, jan)
    assert import_file(engine, feb).fixed_findings == 0
    assert finding_rows(engine) == [("Nessus", None, "open")]


def test_a_late_finding_of_a_family_the_newer_scan_skipped_stays_open(engine: Engine, tmp_path: Path) -> None:
    found = Host("web01", ip="10.0.0.5", start=JAN, items=[Item("100", severity=3, family="Web Servers")])
    clean = Host("web01", ip="10.0.0.5", start=FEB)
    import_file(engine, web_servers_off(tmp_path / "feb.nessus", clean))
    assert import_file(engine, web_servers_off(tmp_path / "jan.nessus", found)).items_opened == 1
    assert finding_rows(engine) == [("Nessus", None, "open")]
    # A newer scan of another family is still proof for the families it ran.
    general = Host("web01", ip="10.0.0.5", start=JAN, items=[Item("200", severity=3, family="General")])
    import_file(engine, web_servers_off(tmp_path / "jan-general.nessus", general))
    assert [s for (_, _, s) in finding_rows(engine)] == ["open", "fixed"]


def zap(path: Path, pages: list[str], count: int, generated: str) -> Path:
    """A ZAP XML report with one alert whose instance list may be cut short (count > instances)."""
    inst = "".join(f"<instance><uri>https://app.example.com{p}</uri><method>GET</method></instance>" for p in pages)
    path.write_text(
        f'<?xml version="1.0"?><OWASPZAPReport programName="ZAP" version="2.14.0" generated="{generated}">'
        '<site name="https://app.example.com" host="app.example.com" port="443" ssl="true"><alerts>'
        "<alertitem><pluginid>10020</pluginid><alertRef>10020</alertRef><alert>A</alert><name>A</name>"
        "<riskcode>2</riskcode><confidence>2</confidence><riskdesc>Medium</riskdesc><desc>d</desc>"
        f"<instances>{inst}</instances><count>{count}</count><solution>s</solution></alertitem>"
        "</alerts></site></OWASPZAPReport>",
        encoding="utf-8",
    )
    return path


def test_a_cut_instance_list_does_not_close_other_pages_in_either_order(engine: Engine, tmp_path: Path) -> None:
    feb = zap(tmp_path / "feb.xml", ["/a"], 5, "2026-02-06T10:00:00")  # five instances, one listed
    jan = zap(tmp_path / "jan.xml", ["/b"], 1, "2026-01-06T10:00:00")
    import_file(engine, feb)
    import_file(engine, jan)  # late: /b is not proven fixed by February's partial list
    assert sorted((p, s) for (_, p, s) in finding_rows(engine)) == [("/a", "open"), ("/b", "open")]


@pytest.mark.parametrize("first", [False, None])
def test_a_host_scanned_twice_in_one_file_counts_as_credentialed_if_any_pass_was(
    engine: Engine, tmp_path: Path, first: bool | None
) -> None:
    web01 = {"ip": "10.0.0.5", "fqdn": "web01.example.com"}
    local = Item("100", severity=3, port=0)
    later = JAN + dt.timedelta(hours=1)
    jan = [
        Host("10.0.0.5", start=JAN, credentialed=first, **web01),
        Host("web01.example.com", start=later, credentialed=True, items=[local], **web01),
    ]
    import_file(engine, write_nessus(tmp_path / "jan.nessus", jan))
    with engine.begin() as conn:
        assert conn.execute(select(scan_assets.c.authenticated)).scalars().all() == [True]
    feb = write_nessus(tmp_path / "feb.nessus", [Host("10.0.0.5", start=FEB, credentialed=False, **web01)])
    assert import_file(engine, feb).closed_ids == []
    assert items_of(engine)["V-1"].status is ItemStatus.OPEN  # type: ignore[attr-defined]


def test_a_tool_name_too_long_to_store_is_refused_even_without_results(engine: Engine, tmp_path: Path) -> None:
    long_tool = "T" * 250
    path = sarif(tmp_path / "long.sarif", [(long_tool, REPO1, [])], "2026-01-05T10:00:00Z")
    with pytest.raises(InputError, match="tool longer than 200 characters"):
        import_file(engine, path)
    with engine.begin() as conn:
        assert conn.execute(select(scan_assets)).all() == []
