"""The README's "A month with poam" block and its two monthly routines, run command by command as a
user would type them."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from poam.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def walkthrough(marker: str = "walkthrough") -> list[tuple[dict[str, str], list[str], str | None]]:
    """Each command of the block after `<!-- marker -->`: (environment it sets, arguments after
    `poam`, stdout redirect)."""
    block = README.split(f"<!-- {marker} -->\n```sh\n", 1)[1].split("```", 1)[0]
    steps = []
    env: dict[str, str] = {}
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] == "export":
            env.update(w.split("=", 1) for w in words[1:])  # type: ignore[misc]
            continue
        local = dict(env)
        while "=" in words[0]:
            key, value = words.pop(0).split("=", 1)
            local[key] = value
        assert words[0] == "poam", line
        out = None
        if ">" in words:
            out = words[words.index(">") + 1]
            words = words[: words.index(">")]
        steps.append((local, words[1:], out))
    return steps


def test_the_month_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    monkeypatch.chdir(tmp_path)
    for key in ("POAM_DB", "POAM_USER", "POAM_SYSTEM"):
        monkeypatch.delenv(key, raising=False)
    steps = walkthrough()
    assert len(steps) >= 20
    runner = CliRunner()
    for env, args, out in steps:
        result = runner.invoke(cli, args, env=env, catch_exceptions=False)
        assert result.exit_code == 0, f"poam {' '.join(args)}: {result.output}"
        if out:
            Path(out).write_text(result.stdout, encoding="utf-8")
    env = steps[-1][0]
    assert os.path.exists(env["POAM_DB"]) and (tmp_path / "poam-2026-12.xlsx").is_file()

    def show(poam_id: str) -> dict:  # type: ignore[type-arg]
        r = runner.invoke(cli, ["item", "show", poam_id, "--json"], env=env, catch_exceptions=False)
        return json.loads(r.stdout)  # type: ignore[no-any-return]

    v10 = show("V-10")
    assert [(m["number"], m["status"], m["placeholder"]) for m in v10["milestones"]] == [
        (1, "complete", False),
        (2, "open", False),
    ]
    assert v10["ready"] is True and v10["point_of_contact"] == "Sam Lee" and v10["team"] == "Platform"
    assert [(c["kind"], c["by"]) for c in v10["milestone_changes"]] == [("Complete", "jane.doe")]
    v2 = show("V-2")
    assert (v2["adjusted_risk"], v2["risk_adjustment"]) == ("Low", "Yes")
    assert [(d["type"], d["status"], d["approver"]) for d in v2["deviations"]] == [
        ("risk-adjustment", "approved", "alex.ao")
    ]
    review = json.loads((tmp_path / "review.json").read_text(encoding="utf-8"))
    assert review["rule_set"] == "fedramp-cr26" and "V-5" not in review["awaiting_evaluation"]
    history = runner.invoke(cli, ["item", "history", "V-10", "--json"], env=env).stdout
    actions = [e["action"] for e in json.loads(history)]
    assert {"item.set", "milestone.add", "item.ready", "submission.record", "milestone.complete"} <= set(actions)
    text = runner.invoke(cli, ["item", "show", "V-10"], env=env).stdout
    assert "owner: Sam Lee; team Platform; 8 staff hours; ready for the monthly submission" in text
    assert "(2) 2026-12-22 open: Patched build in production; rescan" in text
    assert "Complete" in text and "[by jane.doe]" in text
    text = runner.invoke(cli, ["item", "show", "V-2"], env=env).stdout
    assert "deviation: risk-adjustment asked by jane.doe" in text and "approved by alex.ao" in text


def run_block(marker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[CliRunner, dict[str, str]]:
    """Run a README block in a fresh folder holding `samples/`; every command must exit 0."""
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    monkeypatch.chdir(tmp_path)
    for key in ("POAM_DB", "POAM_USER", "POAM_SYSTEM"):
        monkeypatch.delenv(key, raising=False)
    runner = CliRunner()
    steps = walkthrough(marker)
    for env, args, out in steps:
        result = runner.invoke(cli, args, env=env, catch_exceptions=False)
        assert result.exit_code == 0, f"poam {' '.join(args)}: {result.output}"
        if out:
            Path(out).write_text(result.stdout, encoding="utf-8")
    return runner, steps[-1][0]


def test_the_cr26_providers_monthly_routine_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner, env = run_block("routine: fedramp-cr26", tmp_path, monkeypatch)
    vdr = json.loads((tmp_path / "vdr-2026-12.json").read_text(encoding="utf-8"))
    avi = json.loads((tmp_path / "avi-2026-12.json").read_text(encoding="utf-8"))
    assert vdr["certificationPackageOverviewUri"] == "https://trust.example.com/ecs/cpo"
    assert "V-9" not in {v["providerTrackingId"] for v in vdr["vulnerabilities"]}
    assert [v["vulnerabilityDetail"]["providerTrackingId"] for v in avi["acceptedVulnerabilities"]] == ["V-9"]
    for name in ("avi-2026-12.json", "ver-history.json"):
        assert runner.invoke(cli, ["validate", name]).exit_code == 0, name
    package = {p.name for p in (tmp_path / "package-2026-12").iterdir()}
    assert {"Example-Cloud-Service-2026-12-vdr.json", "Example-Cloud-Service-2026-12-vdr-activity.pdf"} <= package
    diff = json.loads(runner.invoke(cli, ["report", "diff", "2026-11", "2026-12", "--json"], env=env).stdout)
    assert "V-10" in {i["poam_id"] for i in diff["new"]}  # found by the October scan, after November's freeze


def test_the_agencys_monthly_routine_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import openpyxl

    runner, env = run_block("routine: agency", tmp_path, monkeypatch)
    emass = openpyxl.load_workbook(tmp_path / "emass-2026-12.xlsx").worksheets[0]
    rows = [[c.value for c in row] for row in emass.iter_rows(min_row=8)]
    v10 = [r for r in rows if r[1] == "V-10"]  # one row per milestone: the automatic one replaced by jane's
    assert [r[10] for r in v10] == ["Patched build staged in the test enclave"]
    dr = openpyxl.load_workbook(tmp_path / "dr-2026-12.xlsx")["DR Sheet"]
    assert dr["B12"].value == "V-2"  # the pending risk adjustment
    package = {p.name for p in (tmp_path / "package-2026-12").iterdir()}
    assert {"HR-Portal-2026-12-poam.xlsx", "HR-Portal-2026-12-poam-oscal.json"} <= package
    assert runner.invoke(cli, ["validate", "poam-2026-12.json"], env=env).exit_code == 0
