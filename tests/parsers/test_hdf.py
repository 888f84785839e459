"""The MITRE Heimdall Data Format (HDF) parser on hand-written documents and on the real files of
the corpus (InSpec runs and SAF converter output)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import (
    AssetKind,
    Checks,
    Coverage,
    Finding,
    FindingStatus,
    ItemStatus,
    Scan,
    Severity,
)
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.hdf import HdfParser
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import corpus_dir
from tests.parsers.test_stig_ckl import assert_sniff_claims_exactly

FOLDER = "hdf_json"
FILE_TIME = dt.datetime(2026, 2, 1, 8, 30)
JAN = "2026-01-05T10:00:00-05:00"
JAN_UTC = dt.datetime(2026, 1, 5, 15, 0)


# --- hand-written documents -------------------------------------------------------------------


def result(status: str = "failed", desc: str = "File /etc/x mode should cmp == 0644", **extra: Any) -> dict[str, Any]:
    return {"status": status, "code_desc": desc, "run_time": 0.01, "start_time": JAN, **extra}


def control(cid: str = "V-1", results: list[Any] | None = None, impact: Any = 0.5, **extra: Any) -> dict[str, Any]:
    tags = {"nist": ["CM-6 b", "Rev_4"], "cci": ["CCI-000366"], "gid": cid, "rid": f"S{cid}r1_rule"}
    base = {
        "id": cid,
        "title": f"Title of\n  {cid}",
        "desc": f"Why {cid} matters.",
        "impact": impact,
        "refs": [],
        "tags": tags,
        "code": "control ...",
        "source_location": {"line": 1, "ref": "controls/x.rb"},
        "results": [result()] if results is None else results,
    }
    base.update(extra)
    return base


def profile(name: str = "rhel-stig", controls: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "title": f"{name} title",
        "version": "1.0.0",
        "sha256": "0" * 64,
        "supports": [],
        "attributes": [],
        "groups": [],
        "status": "loaded",
        "controls": [control()] if controls is None else controls,
        **extra,
    }


def hdf(
    profiles: list[Any] | None = None,
    target: str | None = "web01.example.com",
    platform: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    plat = platform if platform is not None else {"name": "redhat", "release": "8.9"}
    if target is not None:
        plat = {**plat, "target_id": target}
    return {
        "platform": plat,
        "profiles": [profile()] if profiles is None else profiles,
        "statistics": {"duration": 1.5},
        "version": "5.22.3",
        **extra,
    }


def write(tmp_path: Path, doc: Any, name: str = "results.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def parse_ctx(path: Path, **ctx: Any) -> tuple[list[Any], ParseContext]:
    context = ParseContext(str(path), file_time=FILE_TIME, **ctx)
    with path.open("rb") as f:
        return list(HdfParser().parse(f, context)), context


def parse(path: Path, **ctx: Any) -> list[Any]:
    return parse_ctx(path, **ctx)[0]


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def by_id(records: list[Any]) -> dict[str, Finding]:
    return {f.weakness.vuln_id: f for f in findings(records)}


def one(tmp_path: Path, ctl: dict[str, Any], **ctx: Any) -> tuple[Finding | None, ParseContext]:
    records, context = parse_ctx(write(tmp_path, hdf([profile(controls=[ctl])])), **ctx)
    found = findings(records)
    assert len(found) <= 1
    return (found[0] if found else None), context


def test_a_stig_profile_run_maps_controls_to_configuration_findings(tmp_path: Path) -> None:
    ctl = control(
        "V-230221",
        [result("failed", message="expected 0644\n     got 0777")],
        impact=0.7,
        tags={
            "gid": "V-230221",
            "rid": "SV-230221r858734_rule",
            "stig_id": "RHEL-08-010000",
            "cci": ["CCI-000366", "cci-001230"],
            "nist": ["CM-6 b", "SI-2 (2)", "Rev_4", "UM-1"],
            "check": "Verify the version.",
            "fix": "Upgrade.",
            "severity": "high",
        },
        refs=[{"ref": "DISA", "url": "https://public.cyber.mil/stigs/"}],
    )
    records = parse(write(tmp_path, hdf([profile("redhat-enterprise-linux-8-stig-baseline", [ctl])])))
    (finding,) = findings(records)
    w = finding.weakness
    assert (w.tool, w.vuln_id, w.name, w.severity) == ("InSpec", "V-230221", "Title of V-230221", Severity.HIGH)
    assert w.is_config and w.ccis == ("CCI-000366", "CCI-001230") and w.controls == ("CM-6", "SI-2(2)")
    assert w.synopsis == "Rule ID SV-230221r858734_rule; STIG ID RHEL-08-010000"
    assert w.description == "Why V-230221 matters.\n\nCheck: Verify the version." and w.solution == "Upgrade."
    assert (
        w.see_also == "https://public.cyber.mil/stigs/" and w.family == "redhat-enterprise-linux-8-stig-baseline title"
    )
    assert finding.status is FindingStatus.OPEN and finding.observed_at == JAN_UTC and finding.path is None
    assert finding.evidence == "FAILED: File /etc/x mode should cmp == 0644\nexpected 0644\n     got 0777"
    asset = finding.asset
    assert (asset.kind, asset.fqdn, asset.os) == (AssetKind.HOST, "web01.example.com", "redhat 8.9")
    (cov,) = [r for r in records if isinstance(r, Coverage)]
    assert (cov.asset, cov.started_at, cov.ended_at, cov.checks, cov.tool) == (
        asset,
        JAN_UTC,
        JAN_UTC,
        Checks.CONFIGURATION,
        "InSpec",
    )
    scan = records[-1]
    assert isinstance(scan, Scan)
    assert (scan.tool, scan.tool_version, scan.name) == (
        "InSpec",
        "5.22.3",
        "redhat-enterprise-linux-8-stig-baseline title",
    )
    assert not HdfParser.closes_by_coverage


@pytest.mark.parametrize(
    ("impact", "tags", "expected"),
    [
        (1.0, {}, Severity.CRITICAL),
        (0.9, {}, Severity.CRITICAL),
        (0.89, {}, Severity.HIGH),
        (0.7, {}, Severity.HIGH),
        (0.69, {}, Severity.MEDIUM),
        (0.4, {}, Severity.MEDIUM),
        (0.39, {}, Severity.LOW),
        (0.01, {}, Severity.LOW),
        (0.005, {}, Severity.LOW),  # InSpec names < 0.01 "none", but a failing control with an impact is a weakness
        (1, {}, Severity.CRITICAL),
        ("0.5", {}, Severity.MEDIUM),
        ("high", {}, Severity.HIGH),  # InSpec's impact names
        (0.3, {"severity": "high"}, Severity.LOW),  # the impact decides; Heimdall prefers the tag
        (None, {"severity": "high"}, Severity.HIGH),
        (0.3, {"severityoverride": "High", "severityjustification": "exposed"}, Severity.HIGH),
    ],
)
def test_severity_from_impact_in_inspec_and_heimdall_bands(
    tmp_path: Path, impact: Any, tags: dict[str, Any], expected: Severity
) -> None:
    finding, ctx = one(tmp_path, control("V-1", impact=impact, tags=tags))
    assert finding is not None and finding.weakness.severity is expected
    assert ctx.report.warning_count == 0


def test_severity_override_is_shown_and_odd_impacts_are_warned(tmp_path: Path) -> None:
    tags = {"severityoverride": "low", "severityjustification": "mitigated by the firewall"}
    finding, _ctx = one(tmp_path, control("V-1", impact=0.7, tags=tags))
    assert finding is not None and finding.weakness.severity is Severity.LOW
    assert finding.evidence is not None and finding.evidence.endswith(
        "Severity override: high -> low (mitigated by the firewall)"
    )
    for impact, tag in ((None, None), (1.5, None), (-0.2, None), ("urgent", None), (True, None), (2, "low")):
        tags = {"severity": tag} if tag else {}
        finding, ctx = one(tmp_path, control("V-1", impact=impact, tags=tags))
        assert finding is not None and finding.status is FindingStatus.OPEN
        assert finding.weakness.severity is (Severity.LOW if tag else Severity.MEDIUM), impact
        assert ctx.report.warning_count >= 1, impact
    finding, ctx = one(tmp_path, control("V-1", tags={"severityoverride": "sometimes"}))
    assert finding is not None and finding.weakness.severity is Severity.MEDIUM
    assert ctx.report.warnings == ["control V-1: severity override 'sometimes' not recognised; the impact kept"]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["failed"], FindingStatus.OPEN),
        (["passed", "failed", "skipped"], FindingStatus.OPEN),
        (["error", "failed"], FindingStatus.OPEN),  # a failing test is evidence whatever else errored
        (["passed"], FindingStatus.FIXED),
        (["passed", "passed"], FindingStatus.FIXED),
        (["passed", "skipped"], None),  # Heimdall says Passed; part of the control was not checked
        (["passed", "error"], None),
        (["skipped"], None),  # Heimdall: Not Reviewed
        (["error"], None),  # Heimdall: Profile Error
        ([], None),  # not run
        (["ignored"], FindingStatus.SET_ASIDE),
        (["weird"], FindingStatus.OPEN),
        (["PASSED"], FindingStatus.FIXED),
    ],
)
def test_control_status_from_its_results(tmp_path: Path, statuses: list[str], expected: FindingStatus | None) -> None:
    finding, ctx = one(tmp_path, control("V-1", [result(s) for s in statuses]))
    assert (finding.status if finding else None) is expected
    warned = "error" in statuses and expected is None or "ignored" in statuses or "weird" in statuses
    assert bool(ctx.report.warnings) is warned, ctx.report.warnings


def test_not_applicable_waived_and_broken_results(tmp_path: Path) -> None:
    # impact 0: not applicable, whatever the results (the overlay author set it aside)
    finding, _ctx = one(tmp_path, control("V-1", [result("failed")], impact=0, tags={"severity": "high"}))
    assert finding is not None and finding.status is FindingStatus.SET_ASIDE
    assert finding.weakness.severity is Severity.HIGH and "Not applicable: impact 0" in (finding.evidence or "")
    finding, _ctx = one(tmp_path, control("V-1", [], impact=0.0, tags={}))
    assert (
        finding is not None
        and finding.status is FindingStatus.SET_ASIDE
        and finding.weakness.severity is Severity.MEDIUM
    )
    # an InSpec waiver that skipped the control
    waiver = {"justification": "accepted by the AO", "run": False, "skipped_due_to_waiver": True, "message": ""}
    skipped = [result("skipped", skip_message="waived")]
    finding, _ctx = one(tmp_path, control("V-1", skipped, waiver_data=waiver))
    assert finding is not None and finding.status is FindingStatus.SET_ASIDE
    assert "Waived, not run: accepted by the AO" in (finding.evidence or "")
    # a waiver with run: true: a failure is waived, a pass still closes
    ran = {"justification": "compensating control", "run": True, "skipped_due_to_waiver": False, "message": ""}
    finding, _ctx = one(tmp_path, control("V-1", [result("failed")], waiver_data=ran))
    assert finding is not None and finding.status is FindingStatus.SET_ASIDE
    finding, _ctx = one(tmp_path, control("V-1", [result("passed")], waiver_data=ran))
    assert finding is not None and finding.status is FindingStatus.FIXED
    # an expired waiver: InSpec runs the control normally
    expired = {**ran, "message": "Waiver expired on 2025-12-31, evaluating control normally"}
    for waiver in (expired, {**ran, "expiration_date": "2025-12-31"}):
        finding, _ctx = one(tmp_path, control("V-1", [result("failed")], waiver_data=waiver))
        assert finding is not None and finding.status is FindingStatus.OPEN
    # a result with a backtrace is an error (as Heimdall reads it): no verdict, warned
    crashed = result("failed", exception="NoMethodError", backtrace=["x.rb:1"])
    finding, ctx = one(tmp_path, control("V-1", [result("passed"), crashed]))
    assert finding is None and ctx.report.warnings == [
        "control V-1: a result is an error (the test did not complete): no verdict"
    ]
    # a result that is not an object: the control cannot be read as passed
    finding, ctx = one(tmp_path, control("V-1", [result("passed"), "oops"]))
    assert finding is None and ctx.report.warning_count == 1
    finding, ctx = one(tmp_path, control("V-1", [result("failed"), 7]))
    assert finding is not None and finding.status is FindingStatus.OPEN
    # results that are not a list are none: not run
    finding, ctx = one(tmp_path, control("V-1", results="passed"))  # type: ignore[arg-type]
    assert finding is None and "results is a string, not a list" in ctx.report.warnings[0]


def test_overlays_merge_as_inspec_runs_them(tmp_path: Path) -> None:
    """A wrapper (overlay) lists the controls it includes without results and overrides some
    values; InSpec reports the results on the baseline, which names the wrapper as its parent."""
    wrapper = profile(
        "cms-ars-overlay",
        [
            control("V-1", [], impact=0.7, title="Overlay title", tags={"nist": ["AC-2"]}),
            control("V-2", [], impact=0.0),  # the overlay marks it not applicable
            control("V-3", []),
        ],
        depends=[{"name": "rhel-baseline", "status": "loaded"}],
    )
    baseline = profile(
        "rhel-baseline",
        [
            control("V-1", [result("failed")], impact=0.5, title="Baseline title"),
            control("V-2", [result("failed")], impact=0.5),
            control("V-3", [result("passed")]),
            control("V-4", [result("failed")]),  # not included by the overlay's list, but run
        ],
        parent_profile="cms-ars-overlay",
    )
    records, _ctx = parse_ctx(write(tmp_path, hdf([baseline, wrapper])))  # order in the file does not matter
    found = by_id(records)
    assert {k: f.status for k, f in found.items()} == {
        "V-1": FindingStatus.OPEN,
        "V-2": FindingStatus.SET_ASIDE,
        "V-3": FindingStatus.FIXED,
        "V-4": FindingStatus.OPEN,
    }
    v1 = found["V-1"].weakness
    assert (v1.name, v1.severity, v1.controls, v1.ccis) == ("Overlay title", Severity.HIGH, ("AC-2",), ("CCI-000366",))
    assert v1.family == "cms-ars-overlay title"
    # Heimdall's checklist conversion of several STIGs: a parent profile holds copies of every control
    twin = profile("RHEL_9_STIG", [control("V-9", [result("failed")])], parent_profile="Parent Profile")
    parent = profile("Parent Profile", [control("V-9", [result("failed")])], depends=[{"name": "RHEL_9_STIG"}])
    (finding,) = findings(parse(write(tmp_path, hdf([parent, twin]))))
    assert finding.evidence is not None and finding.evidence.count("FAILED") == 1
    # unlinked profiles that share a control id: their results are joined
    a = profile("a", [control("C-1", [result("passed")])])
    b = profile("b", [control("C-1", [result("failed", desc="other check")])])
    (finding,) = findings(parse(write(tmp_path, hdf([a, b]))))
    assert finding.status is FindingStatus.OPEN and finding.evidence is not None and "PASSED" in finding.evidence
    # a parent_profile cycle or a missing parent is no overlay
    x = profile("x", [control("C-2", [result("passed")])], parent_profile="y")
    y = profile("y", [control("C-2", [result("passed")])], parent_profile="x")
    z = profile("z", [control("C-3", [result("failed")])], parent_profile="missing")
    assert {f.weakness.vuln_id: f.status for f in findings(parse(write(tmp_path, hdf([x, y, z]))))} == {
        "C-2": FindingStatus.FIXED,
        "C-3": FindingStatus.OPEN,
    }


@pytest.mark.parametrize(
    ("target", "kind", "field", "value"),
    [
        ("web01.example.com", AssetKind.HOST, "fqdn", "web01.example.com"),
        ("web01", AssetKind.HOST, "netbios", "web01"),
        ("10.1.2.3", AssetKind.HOST, "ip", "10.1.2.3"),
        ("ssh://ec2-user@10.1.2.3:22", AssetKind.HOST, "ip", "10.1.2.3"),
        ("winrm://Administrator@win01.example.com", AssetKind.HOST, "fqdn", "win01.example.com"),
        ("https://app.example.com/login", AssetKind.WEB_APP, "name", "https://app.example.com/login"),
        ("docker://user@3f2a1b", AssetKind.OTHER, "name", "docker://3f2a1b"),
        ("AWS account 111122223333", AssetKind.OTHER, "name", "AWS account 111122223333"),
    ],
)
def test_the_target_id_names_the_asset(tmp_path: Path, target: str, kind: AssetKind, field: str, value: str) -> None:
    records = parse(write(tmp_path, hdf([profile(controls=[control("V-1", [result("passed")])])], target=target)))
    (finding,) = findings(records)
    assert finding.status is FindingStatus.FIXED  # a named target: passes close
    assert finding.asset.kind is kind and getattr(finding.asset, field) == value
    assert [r.asset for r in records if isinstance(r, Coverage)] == [finding.asset]


def test_checklist_host_then_target_id_then_asset_option_then_fallback(tmp_path: Path) -> None:
    ctl = [control("V-1", [result("failed")]), control("V-2", [result("passed")])]
    checklist = {
        "checklist": {
            "asset": {
                "hostname": "db01",
                "hostip": "10.0.0.7",
                "hostfqdn": "db01.example.com",
                "hostmac": "00:11:22:33:44:55",
                "assettype": "Computing",
                "webordatabase": True,
                "webdbsite": "orders",
                "webdbinstance": "prod",
            },
            "stigs": [],
        }
    }
    converted = {"name": "Heimdall Tools", "release": "2.10.8"}
    doc = hdf(
        [profile("PostgreSQL_STIG", ctl)], target="ignored.example.com", platform=converted, passthrough=checklist
    )
    records = parse(write(tmp_path, doc), asset_name="not-used")
    found = by_id(records)
    asset = found["V-1"].asset
    assert (asset.ip, asset.fqdn, asset.netbios, asset.mac) == (
        "10.0.0.7",
        "db01.example.com",
        "db01",
        "00:11:22:33:44:55",
    )
    assert found["V-1"].path == "orders/prod" and found["V-1"].weakness.tool == "DISA STIG Viewer"
    assert found["V-2"].status is FindingStatus.FIXED
    # the target id wins over --asset, which names a target the file does not
    assert findings(parse(write(tmp_path, hdf(profiles=[profile(controls=ctl)])), asset_name="x"))[0].asset.fqdn == (
        "web01.example.com"
    )
    records, ctx = parse_ctx(write(tmp_path, hdf([profile(controls=ctl)], target=None)), asset_name="app01.example.com")
    assert {f.asset.fqdn for f in findings(records)} == {"app01.example.com"} and len(findings(records)) == 2
    assert [r.asset.fqdn for r in records if isinstance(r, Coverage)] == ["app01.example.com"]
    assert not ctx.report.warnings
    # nothing names the target: a fallback per tool and platform; passes close nothing there
    records, ctx = parse_ctx(write(tmp_path, hdf([profile(controls=ctl)], target="")))
    (finding,) = findings(records)
    assert finding.status is FindingStatus.OPEN
    assert (finding.asset.kind, finding.asset.name) == (AssetKind.OTHER, "InSpec target (redhat 8.9)")
    assert not [r for r in records if isinstance(r, Coverage)]
    assert ctx.report.warnings == [
        "target: the file names no target (no platform.target_id or host in passthrough): its findings are on "
        "'InSpec target (redhat 8.9)' and its 1 passed control(s) close nothing; name the target with --asset"
    ]
    empty_host = {"checklist": {"asset": {"hostname": "", "hostip": ""}}}
    doc = hdf([profile("RHEL_9_STIG", ctl)], target=None, platform=converted, passthrough=empty_host)
    assert {f.asset.name for f in findings(parse(write(tmp_path, doc)))} == {"DISA STIG Viewer target"}


def test_converter_output_names_its_tool_and_is_not_configuration(tmp_path: Path) -> None:
    converted = {"name": "Heimdall Tools", "release": "2.10.8", "target_id": "git.example.com/acme/api"}
    gosec = control(
        "G304",
        [result("failed", desc="Rule G304 violation detected at:\nFile: a.go\nLine: 3", start_time="")],
        tags={"nist": ["SI-10"], "cwe": {"id": "22", "url": "https://cwe.mitre.org/data/definitions/22.html"}},
        desc="",
    )
    doc = hdf([profile("gosec Scan", [gosec], version="2.18.2")], target=None, platform=converted)
    records, ctx = parse_ctx(write(tmp_path, doc))
    (finding,) = findings(records)
    w = finding.weakness
    assert (w.tool, w.cwes, w.controls, w.is_config, w.description) == ("gosec", ("22",), ("SI-10",), False, None)
    assert w.see_also == "https://cwe.mitre.org/data/definitions/22.html"
    assert (finding.asset.kind, finding.asset.name) == (AssetKind.OTHER, "git.example.com/acme/api")
    assert finding.observed_at == FILE_TIME and ctx.report.used_file_time  # converters often give no times
    scan = records[-1]
    assert (scan.tool, scan.tool_version) == ("gosec", "2.18.2")
    (cov,) = [r for r in records if isinstance(r, Coverage)]
    assert cov.checks is Checks.VULNERABILITY and cov.tool == "gosec"
    # a converted profile not named "<tool> Scan" names the tool itself; CVE tags are kept
    nessus = control("CVE-2024-3094", [result("failed")], tags={"cve": ["CVE-2024-3094"], "nist": ["RA-5"]})
    doc = hdf([profile("Nessus", [nessus])], target="h1.example.com", platform=converted)
    (finding,) = findings(parse(write(tmp_path, doc)))
    assert (finding.weakness.tool, finding.weakness.cves, finding.weakness.is_config) == (
        "Nessus",
        ("CVE-2024-3094",),
        False,
    )
    # an InSpec patch-level baseline (tagged RA-5/SI-2 alone) is a vulnerability finding
    patches = control("cve-scan", [result("failed")], tags={"nist": ["SI-2", "RA-5", "Rev_4"]})
    (finding,) = findings(parse(write(tmp_path, hdf([profile(controls=[patches])]))))
    assert finding.weakness.is_config is False and finding.weakness.tool == "InSpec"


def test_descriptions_html_cci_strings_and_evidence_limits(tmp_path: Path) -> None:
    html = "<p>Seeds should not be <code>predictable</code>.</p>"
    many = [result("passed", desc=f"check {n}") for n in range(25)] + [result("failed", desc="the bad one")]
    ctl = control(
        "squid:S4347",
        many,
        desc=None,
        descriptions=[
            {"label": "default", "data": html},
            {"label": "check", "data": "Look at it."},
            {"label": "fix", "data": "Do not seed."},
        ],
        tags={"cci": "['CCI-000048', 'CCI-001384']", "nist": "AC-8 a"},
    )
    (finding,) = findings(parse(write(tmp_path, hdf([profile(controls=[ctl])]))))
    w = finding.weakness
    assert w.description == "Seeds should not be predictable.\n\nCheck: Look at it." and w.solution == "Do not seed."
    assert w.ccis == ("CCI-000048", "CCI-001384") and w.controls == ("AC-8",) and w.is_config
    assert finding.evidence is not None and finding.evidence.count("PASSED") == 20
    assert finding.evidence.endswith("... and 6 more results")
    # a profile's JSON writes descriptions as an object
    ctl = control("V-5", desc=None, descriptions={"default": "Plain text.", "fix": "Fix it."})
    (finding,) = findings(parse(write(tmp_path, hdf([profile(controls=[ctl])]))))
    assert (finding.weakness.description, finding.weakness.solution) == ("Plain text.", "Fix it.")


def test_dates_from_results_in_every_form_inspec_and_converters_write(tmp_path: Path) -> None:
    ctls = [
        control(
            "V-1", [result(start_time="2017-09-22 14:12:44 -0400"), result(start_time="2017-09-22 14:13:00 -0400")]
        ),
        control("V-2", [result(start_time="Thu,26 Sep 2019 10:56:37")]),
        control("V-3", [result(start_time="yesterday")]),
        control("V-4", [result(start_time=None)]),
    ]
    records, ctx = parse_ctx(write(tmp_path, hdf([profile(controls=ctls)])))
    when = {k: f.observed_at for k, f in by_id(records).items()}
    assert when == {
        "V-1": dt.datetime(2017, 9, 22, 18, 13),
        "V-2": dt.datetime(2019, 9, 26, 10, 56, 37),
        "V-3": dt.datetime(2019, 9, 26, 10, 56, 37),  # unreadable: the document's newest time
        "V-4": dt.datetime(2019, 9, 26, 10, 56, 37),
    }
    assert ctx.report.warnings == [
        "control V-3: start_time 'yesterday' is not a date; dated by the file's other results"
    ]
    assert not ctx.report.used_file_time
    scan = records[-1]
    assert (scan.started_at, scan.ended_at) == (dt.datetime(2017, 9, 22, 18, 13), dt.datetime(2019, 9, 26, 10, 56, 37))
    records, ctx = parse_ctx(write(tmp_path, hdf([profile(controls=[control("V-1", [result(start_time="")])])])))
    assert findings(records)[0].observed_at == FILE_TIME and ctx.report.used_file_time
    scan_date = dt.datetime(2026, 3, 1)
    records, ctx = parse_ctx(
        write(tmp_path, hdf([profile(controls=[control("V-1", [{"status": "failed"}])])])), scan_date=scan_date
    )
    assert findings(records)[0].observed_at == scan_date and not ctx.report.used_file_time


def test_broken_structure_is_refused_odd_records_are_left_out(tmp_path: Path) -> None:
    refusals = {
        "[1, 2]": "not HDF: the document is a list, not an object",
        '{"controls": [{"id": "x", "status": "passed", "code_desc": "y"}], "version": "4"}': "InSpec JSON-MIN output",
        '{"platform": {}, "statistics": {}}': "not HDF: no profiles list",
        '{"platform": {}, "profiles": {"a": 1}}': "profiles is an object, not a list",
        json.dumps(hdf([profile(controls={"V-1": {}})])): "controls is an object, not a list",  # type: ignore[arg-type]
        json.dumps(hdf()) + "\n[]": "document 2: not HDF",
        "{not json": "not valid JSON",
        "": "empty file",
    }
    for body, message in refusals.items():
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse(write(tmp_path, body))
    ctls = ["nope", control(None), control("x" * 201), control("V-7")]  # type: ignore[arg-type]
    records, ctx = parse_ctx(write(tmp_path, hdf([profile(controls=ctls), "not a profile"])))
    assert [f.weakness.vuln_id for f in findings(records)] == ["V-7"]
    assert ctx.report.skipped == 4 and set(ctx.report.warnings) == {
        "profile 2: not an object; left out",
        "control 1 of profile 'rhel-stig': not an object; left out",
        "control 2 of profile 'rhel-stig': no id; left out",
        f"control 3 of profile 'rhel-stig': id longer than 200 characters ({'x' * 40!r}...); left out",
    }
    with pytest.raises(
        InputError, match=r"no control could be read \(2 left out, first: control 1 of profile 'p': no id\)"
    ):
        parse(write(tmp_path, hdf([profile("p", [{"title": "no id"}, 7])])))
    failed = profile("broken", [control("V-8", [])], status="failed", status_message="cannot load")
    records, ctx = parse_ctx(write(tmp_path, hdf([failed])))
    assert ctx.report.warnings == ["profile 'broken': status failed: its controls did not run (cannot load)"]
    # odd values elsewhere are read past: a platform or tags that are not objects
    doc = hdf([profile(controls=[control("V-9", tags=["x"])])], target=None)
    doc["platform"] = "linux"
    (finding,) = findings(parse(write(tmp_path, doc), asset_name="h9.example.com"))
    assert finding.asset.fqdn == "h9.example.com" and finding.weakness.ccis == ()


def test_several_documents_one_after_another_and_json_lines(tmp_path: Path) -> None:
    a = hdf([profile(controls=[control("V-1")])], target="a.example.com")
    b = hdf([profile("gosec Scan", [control("G101")])], target="b.example.com", platform={"name": "Heimdall Tools"})
    for body in (json.dumps(a, indent=2) + "\n" + json.dumps(b, indent=2), json.dumps(a) + "\n" + json.dumps(b) + "\n"):
        path = write(tmp_path, body)
        with path.open("rb") as f:
            assert HdfParser().sniff(read_head(f))
        records = parse(path)
        assert {(f.weakness.tool, f.asset.fqdn) for f in findings(records)} == {
            ("InSpec", "a.example.com"),
            ("gosec", "b.example.com"),
        }
        assert [(c.tool, c.asset.fqdn) for c in records if isinstance(c, Coverage)] == [
            ("InSpec", "a.example.com"),
            ("gosec", "b.example.com"),
        ]
        assert records[-1].tool == "InSpec, gosec"


def test_sniff_takes_hdf_and_the_inspec_1_layout_only(tmp_path: Path) -> None:
    def sniff(body: str) -> bool:
        with write(tmp_path, body).open("rb") as f:
            return HdfParser().sniff(read_head(f))

    assert sniff(json.dumps(hdf()))
    assert sniff(json.dumps({"profiles": [], "statistics": {}}))
    flat = [{"status": "passed", "code_desc": "x" * 200, "run_time": 0.1, "start_time": JAN}] * 400
    assert sniff(json.dumps({"version": "1.37.6", "controls": flat, "profiles": [], "platform": {}}))
    assert not sniff(json.dumps({"profiles": []}))
    assert not sniff(json.dumps({"name": "p", "controls": [{"id": "x", "impact": 0.5}], "version": "1"}))  # inspec json
    assert not sniff(json.dumps([hdf()]))


# --- the corpus -------------------------------------------------------------------------------


def _expected(path: Path) -> dict[str, str | None]:
    """Each control's verdict by a plain reading of the file (no file of the corpus has overlays):
    impact 0 set aside; a failed result open; every result passed fixed; else nothing."""
    doc = json.loads(path.read_text())
    verdict: dict[str, str | None] = {}
    for p in doc["profiles"]:
        for c in p["controls"]:
            statuses = {r["status"] for r in c["results"]}
            if c["impact"] == 0:
                verdict[c["id"]] = "set-aside"
            elif "failed" in statuses:
                verdict[c["id"]] = "open"
            elif statuses == {"passed"}:
                verdict[c["id"]] = "fixed"
            else:
                verdict[c["id"]] = None
    return verdict


# file: (open by severity, set aside, fixed with --asset, no verdict, tool, fallback asset), counted by hand
CORPUS_COUNTS: dict[str, tuple[dict[Severity, int], int, int, int, str, str]] = {
    "heimdall2__71859-71861-71863.json": ({Severity.MEDIUM: 3}, 0, 0, 0, "InSpec", "InSpec target (centos 7.4.1708)"),
    "heimdall2__good_nginxresults.json": ({}, 1, 36, 4, "InSpec", "InSpec target (centos 7.4.1708)"),
    "heimdall2__grype-gosec-hdf.json": ({Severity.MEDIUM: 3}, 0, 0, 0, "gosec", "gosec target"),
    "heimdall2__rhel_cve_vulnerability_scan_baseline_with_failures.json": (
        {Severity.MEDIUM: 1},
        0,
        0,
        0,
        "InSpec",
        "InSpec target (redhat 7.5)",
    ),
    "heimdall2__sample-results.json": ({Severity.HIGH: 2}, 0, 0, 0, "InSpec", "InSpec target (aws aws-sdk-v2.11.88)"),
    "heimdall2__small_overrides_hdf.json": (
        {Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 1},
        1,
        2,
        4,
        "DISA STIG Viewer",
        "DISA STIG Viewer target",
    ),
    "heimdall2__sonarqube_java_sample.json": (
        {Severity.HIGH: 1, Severity.LOW: 2},
        0,
        0,
        0,
        "SonarQube",
        "SonarQube target",
    ),
}


@pytest.mark.corpus
def test_every_corpus_file_with_hand_checked_counts() -> None:
    folder = corpus_dir(FOLDER)
    files = sorted(p.name for p in folder.iterdir())
    assert files == sorted(CORPUS_COUNTS)
    for name, (opened, set_aside, fixed, nothing, tool, fallback) in CORPUS_COUNTS.items():
        path = folder / name
        expected = _expected(path)
        # without --asset: on the fallback asset, and passes close nothing
        records, ctx = parse_ctx(path)
        found = findings(records)
        assert {f.asset.name for f in found} == {fallback}, name
        assert not [r for r in records if isinstance(r, Coverage)], name
        open_ = [f for f in found if f.status is FindingStatus.OPEN]
        assert {s: sum(1 for f in open_ if f.weakness.severity is s) for s in opened} == opened, name
        assert len(open_) == sum(opened.values()), name
        assert sum(1 for f in found if f.status is FindingStatus.SET_ASIDE) == set_aside, name
        assert not [f for f in found if f.status is FindingStatus.FIXED], name
        assert bool(ctx.report.warnings) is bool(fixed), name  # the one warning: passes dropped
        # with --asset: the passes close
        records = parse(path, asset_name="target.example.com")
        found = findings(records)
        assert {f.weakness.vuln_id: f.status.value for f in found} == {k: v for k, v in expected.items() if v}, name
        assert sum(1 for f in found if f.status is FindingStatus.FIXED) == fixed, name
        assert sum(1 for v in expected.values() if v is None) == nothing, name
        assert {f.weakness.tool for f in found} == {tool} and records[-1].tool == tool, name
        assert [r.asset.fqdn for r in records if isinstance(r, Coverage)] == ["target.example.com"], name


@pytest.mark.corpus
def test_corpus_values_match_heimdall_where_it_is_right() -> None:
    folder = corpus_dir(FOLDER)
    overrides = by_id(parse(folder / "heimdall2__small_overrides_hdf.json"))
    # Heimdall rates by severityoverride first: V-257778 low, V-257779 high (its impact 1 says critical)
    assert overrides["V-257778"].weakness.severity is Severity.LOW
    assert overrides["V-257779"].weakness.severity is Severity.HIGH
    assert overrides["V-257779"].weakness.ccis[:2] == ("CCI-000048", "CCI-001384")  # a list written as a string
    assert overrides["V-257777"].status is FindingStatus.SET_ASIDE  # Not Applicable in the checklist
    stig = by_id(parse(folder / "heimdall2__71859-71861-71863.json"))
    w = stig["V-71861"].weakness
    assert (w.ccis, w.controls, w.is_config, w.synopsis) == (
        ("CCI-000048",),
        ("AC-8",),
        True,
        "Rule ID SV-86485r3_rule; STIG ID RHEL-07-010040",
    )
    assert stig["V-71863"].evidence is not None and stig["V-71863"].evidence.count("FAILED") == 2
    sonar = by_id(parse(folder / "heimdall2__sonarqube_java_sample.json"))
    assert sonar["squid:S4347"].observed_at == dt.datetime(2019, 9, 26, 10, 56, 37)
    assert "<pre>" not in (sonar["squid:S4347"].evidence or "") and not sonar["squid:S4347"].weakness.is_config
    rhel = by_id(parse(folder / "heimdall2__rhel_cve_vulnerability_scan_baseline_with_failures.json"))
    assert rhel["cve-scan"].weakness.is_config is False and rhel["cve-scan"].weakness.controls == ("SI-2", "RA-5")
    nginx = parse(folder / "heimdall2__good_nginxresults.json", asset_name="nginx01.example.com")
    assert by_id(nginx)["V-13613"].observed_at == dt.datetime(2017, 9, 22, 18, 12, 44)
    assert "V-2256" not in by_id(nginx)  # 18 passes beside 2 skipped checks: Heimdall's Passed, poam's no verdict


@pytest.mark.corpus
def test_sniff_claims_exactly_its_folder() -> None:
    assert_sniff_claims_exactly(HdfParser(), FOLDER)


# --- end to end -------------------------------------------------------------------------------


def items_of(engine: Engine, system: str | None = None) -> list[Any]:
    with engine.begin() as conn:
        return load(conn, systems.resolve(conn, system, "t").id, "all")


def test_a_later_run_closes_what_now_passes_and_nothing_it_did_not_run(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(HdfParser())

    def run(month: str, statuses: dict[str, list[str]], target: str = "web01.example.com") -> dict[str, Any]:
        start = f"2026-{month}-05T10:00:00Z"
        ctls = [control(cid, [result(s, start_time=start) for s in st]) for cid, st in statuses.items()]
        return hdf([profile(controls=ctls)], target=target)

    jan = run("01", {"V-1": ["failed"], "V-2": ["failed"], "V-3": ["failed"], "V-4": ["failed"]})
    r = import_file(engine, write(tmp_path, jan, "jan.json"))
    assert (r.format, r.tool, r.items_opened, r.assets_covered) == ("hdf", "InSpec", 4, 1)
    items = {i.source_identifier: i for i in items_of(engine)}
    assert [a.text for a in items["V-1"].assets] == ["web01.example.com"] and items["V-1"].is_config
    # February: V-1 passes, V-2 is not in the file (another profile selection), V-3 only skipped, V-4 errors
    feb = run("02", {"V-1": ["passed"], "V-3": ["skipped"], "V-4": ["error"]})
    r = import_file(engine, write(tmp_path, feb, "feb.json"))
    assert (r.fixed_findings, r.items_closed, r.warnings) == (1, 1, 1)
    status = {i.source_identifier: i.status for i in items_of(engine)}
    assert status == {"V-1": ItemStatus.CLOSED, "V-2": ItemStatus.OPEN, "V-3": ItemStatus.OPEN, "V-4": ItemStatus.OPEN}
    # another host passing everything closes nothing on web01; a file naming no target neither
    other = run("03", {k: ["passed"] for k in ("V-2", "V-3", "V-4")}, target="web02.example.com")
    r = import_file(engine, write(tmp_path, other, "other.json"))
    assert (r.fixed_findings, r.items_closed, r.items_opened) == (0, 0, 0)
    unnamed = run("03", {k: ["passed"] for k in ("V-2", "V-3", "V-4")}, target="")
    r = import_file(engine, write(tmp_path, unnamed, "unnamed.json"))
    assert (r.fixed_findings, r.items_closed, r.assets_covered, r.warnings) == (0, 0, 0, 1)
    # April: V-1 fails again: its item closed, so a new item refers to the old one; V-2 passes now
    apr = run("04", {"V-1": ["failed"], "V-2": ["passed", "passed"]})
    r = import_file(engine, write(tmp_path, apr, "apr.json"))
    assert (r.items_opened, r.items_closed) == (1, 1)
    v1 = [i for i in items_of(engine) if i.source_identifier == "V-1"]
    assert [i.status for i in v1] == [ItemStatus.CLOSED, ItemStatus.OPEN] and v1[1].previous_poam_id == v1[0].poam_id
    assert {i.source_identifier for i in items_of(engine) if i.status is ItemStatus.OPEN} == {"V-1", "V-3", "V-4"}


def test_not_applicable_and_waived_controls_keep_an_open_item_open(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(HdfParser())
    jan = hdf([profile(controls=[control("V-1", [result("failed")]), control("V-2", [result("failed")])])])
    import_file(engine, write(tmp_path, jan, "jan.json"))
    later = [result("failed", start_time="2026-02-05T10:00:00Z")]
    waiver = {"justification": "risk accepted", "run": True, "skipped_due_to_waiver": False}
    feb = hdf([profile(controls=[control("V-1", later, impact=0), control("V-2", later, waiver_data=waiver)])])
    r = import_file(engine, write(tmp_path, feb, "feb.json"))
    assert (r.set_aside, r.fixed_findings, r.items_closed, r.items_opened) == (2, 0, 0, 0)
    assert {i.status for i in items_of(engine)} == {ItemStatus.OPEN}


@pytest.mark.corpus
def test_corpus_file_imports_end_to_end(engine: Engine, register_parser: Any) -> None:
    register_parser(HdfParser())
    path = corpus_dir(FOLDER) / "heimdall2__small_overrides_hdf.json"
    r = import_file(engine, path, asset="rhel9.example.com")
    assert (r.format, r.tool, r.items_opened, r.set_aside, r.assets_covered) == ("hdf", "DISA STIG Viewer", 4, 1, 1)
    items = {i.source_identifier: i for i in items_of(engine)}
    assert set(items) == {"V-257778", "V-257779", "V-257780", "V-257781"}
    assert all(i.is_config and [a.text for a in i.assets] == ["rhel9.example.com"] for i in items.values())


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


def test_any_value_missing_or_odd_is_read_or_refused(tmp_path: Path) -> None:
    """Every value of a rich document replaced by another JSON type, or removed: the file is read
    (odd records warned) or refused with an InputError, never a crash."""
    waiver = {"justification": "ok", "run": True, "skipped_due_to_waiver": False, "expiration_date": "2030-01-01"}
    wrapper = profile("overlay", [control("V-1", [], impact=0.7, waiver_data=waiver)], depends=[{"name": "base"}])
    base = profile(
        "base",
        [
            control(
                "V-1",
                [result("failed", backtrace=None), result("passed")],
                tags={"cci": ["CCI-000366"], "cwe": [{"id": 1}]},
            ),
            control(
                "V-2", [result("skipped", skip_message="n/a")], impact=0, descriptions=[{"label": "fix", "data": "x"}]
            ),
        ],
        parent_profile="overlay",
    )
    passthrough = {"checklist": {"asset": {"hostname": "h1", "hostip": "10.0.0.1", "webordatabase": "true"}}}
    doc = hdf([wrapper, base], platform={"name": "Heimdall Tools", "release": "2"}, passthrough=passthrough)
    for path in _paths(doc):
        for odd in (None, [], {}, "", "x", 7, 1e300, True, "DELETE"):
            changed = json.loads(json.dumps(doc))
            parent = changed
            for key in path[:-1]:
                parent = parent[key]
            if odd == "DELETE":
                del parent[path[-1]]
            else:
                parent[path[-1]] = odd
            with contextlib.suppress(InputError):
                parse(write(tmp_path, changed), asset_name="fallback.example.com")
