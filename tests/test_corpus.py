"""The corpus walk: every real file either imports with findings through the parser of its
format, or is refused with one clear line about its structure (never about a value in one
record). Exact counts per format are in tests/parsers/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine

from poam.errors import InputError
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import list_items
from poam.store.db import open_db
from tests.conftest import CORPUS, corpus_dir

FORMATS = {
    "acunetix_xml": {"acunetix-xml", "acunetix-360"},
    "nuclei_json": {"nuclei"},
    "github_alerts": {"github-alerts"},
    "gitlab_reports": {"gitlab"},
    "sonarqube_json": {"sonarqube"},
    "checkmarx": {"checkmarx-xml", "checkmarx-json"},
    "fortify_fpr": {"fortify-fpr", "fortify-fvdl", "fortify-xml"},
    "rapid7_xml": {"rapid7-xml"},
    "qualys_vmdr_detection_xml": {"qualys-vmdr-xml"},
    "dependency_check": {"dependency-check-xml", "dependency-check-json"},
    "anchore_enterprise": {"anchore-enterprise"},
    "prisma_cloud": {"prisma-cloud", "prisma-cloud-csv"},
    "asff_json": {"asff"},
    "aws_inspector2_json": {"aws-inspector2"},
    "bandit_json": {"bandit"},
    "burp_xml": {"burp-xml"},
    "cyclonedx": {"cyclonedx"},
    "grype_json": {"grype"},
    "hdf_json": {"hdf"},
    "ms_defender_endpoint": {"defender-endpoint"},
    "ms_defender_for_cloud_csv": {"defender-cloud"},
    "nessus_csv": {"nessus-csv"},
    "nessus_xml": {"nessus"},
    "nmap_xml": {"nmap-xml"},
    "npm_audit_json": {"npm-audit"},
    "openvas_csv": {"openvas-csv"},
    "openvas_xml": {"openvas-xml"},
    "openvex": {"openvex"},
    "oscal_assessment_results": {"oscal-ar"},
    "pip_audit_json": {"pip-audit"},
    "prowler": {"prowler"},
    "qualys_csv": {"qualys-csv"},
    "qualys_vm_xml": {"qualys-vm-xml"},
    "qualys_was_xml": {"qualys-was-xml"},
    "sarif": {"sarif"},
    "semgrep_json": {"semgrep"},
    "snyk_json": {"snyk"},
    "stig_ckl": {"stig-ckl"},
    "stig_cklb": {"stig-cklb"},
    "tenable_sc_io_csv": {"tenable-csv"},
    "tenable_was": {"tenable-was", "tenable-was-csv"},
    "trivy_json": {"trivy"},
    "wiz": {"wiz-csv", "wizcli"},
    "xccdf_results": {"xccdf"},
    "zap_json": {"zap-json"},
    "zap_xml": {"zap-xml"},
}
# Folders of reference data that other commands load.
NOT_SCANS = {"cisa_kev": "kev", "oscal_poam": "OSCAL POA&M|unrecognised"}
# Files refused, and why: the PEER-INVALID ones of SOURCES.md and a few more.
REFUSED = {
    "defectdojo__npm_audit__empty_with_error.json": "npm audit failed",
    "defectdojo__aws_inspector2__empty_with_error.json": "empty JSON object",
    "stig-manager__No-Asset-xml-element.ckl": "no ASSET element",
    "stig-manager__no-Host_Name-xml-element.ckl": "no host name",
    "stig-manager__no-Stigs-xml-element.ckl": "no STIGS element",
    "stig-manager__no-checklist-xml-element.ckl": "not a STIG checklist",
    "stig-manager__NoStigsArray.cklb": "no stigs array",
    "stig-manager__NoTargetHostName.cklb": "no host name",
    "stig-manager__NoTestResult-xccdf.xml": "no TestResult",
    "stig-manager__NoBenchMarkElement.xml": "not XCCDF results",
    # not well-formed XML (mismatched tag at line 255)
    "stig-manager__all-possible-results.ckl": "not well-formed XML",
    # names no host at all: imports with --asset
    "heimdall2__small_ckl_overrides.ckl": "--asset",
    # SBOMs without a vulnerabilities section: nothing to import
    "defectdojo__cyclonedx__cyclonedx_bom.xml": "SBOM without vulnerabilities",
    "defectdojo__cyclonedx__retirejs.latest.xml": "SBOM without vulnerabilities",
    # a 0-byte file and bare `[]` documents: nothing says which tool wrote them (--format works)
    "defectdojo__aws_prowler__no_vuln.json": "empty file",
    "defectdojo__aws_prowler_v3plus__no_vuln.ocsf.json": "empty JSON list",
    "defectdojo__prowler__prowler_zero_vul.json": "empty JSON list",
    "defectdojo__pip_audit__empty.json": "empty JSON list",
}
# Files that hold no weakness, and why (each checked by hand against the file).
NO_FINDINGS = {
    # Acunetix 360: Vulnerabilities is empty
    "defectdojo__acunetix__acunetix360_zero_finding.json",
    # Nuclei: informational results only (favicon-detect)
    "defectdojo__nuclei__issue_9201.json",
    # Nuclei: informational results only (tech-detect)
    "defectdojo__nuclei__multiple_matches.json",
    # Nuclei: informational results only (DNS, SSL and TLS detection)
    "defectdojo__nuclei__multiple_v3.json",
    # GitHub: vulnerabilityAlerts.nodes is empty
    "defectdojo__github_vulnerability__github-0-vuln.json",
    # GitLab: vulnerabilities is empty
    "defectdojo__gitlab_sast__gl-sast-report-0-vuln.json",
    # SonarQube: an empty issue list
    "defectdojo__sonarqube__sonar-no-finding.json",
    # SonarQube: a bug and code smells only (no security weakness)
    "defectdojo__api_sonarqube__issues.json",
    # Checkmarx: a header without queries
    "defectdojo__checkmarx__no_finding.xml",
    # Checkmarx: its one result is Not Exploitable (set aside)
    "defectdojo__checkmarx__single_finding_false_positive.xml",
    # Fortify: its two issues are analysed Not an Issue (set aside)
    "defectdojo__fortify__issue6082.xml",
    # Dependency-Check: no dependencies
    "defectdojo__dependency_check__dc_empty.xml",
    # Dependency-Check: one dependency without vulnerabilities
    "defectdojo__dependency_check__single_dependency_with_related_no_vulnerability.xml",
    # Dependency-Check: no dependencies (project name an unfilled placeholder)
    "qualys-ta-splunk__dependency-check-report.json",
    # Anchore: vulnerabilities is empty
    "defectdojo__anchore_engine__no_vuln.json",
    # Anchore policy evaluation with no rows
    "defectdojo__anchore_enterprise__no_checks.json",
    # Prisma: no vulnerabilities, no compliance results (a scan that found nothing)
    "defectdojo__twistlock__no_vuln.json",
    # Prisma CSV: the header alone
    "defectdojo__twistlock__scan_report_prisma_twistlock_images_no_vuln.csv",
    # HDF: every control passed, was skipped or is not applicable, and the file names no target
    "heimdall2__good_nginxresults.json",
    # scans that found nothing
    "defectdojo__aws_inspector2__aws_inspector2_zero_vul.json",
    "defectdojo__bandit__no_vuln.json",
    "defectdojo__cyclonedx__jake.xml",
    "defectdojo__anchore_grype__no_vuln.json",
    "defectdojo__ms_defender__report_no_vuln.json",
    "defectdojo__npm_audit_7_plus__no_vuln.json",
    "defectdojo__npm_audit__no_vuln.json",
    "defectdojo__openvas__no_vuln.csv",
    "defectdojo__openvas__no_vuln.xml",
    "defectdojo__openvex__openvex_no_vuln.json",
    "defectdojo__pip_audit__zero_vulns.json",
    "defectdojo__pip_audit__zero_vulns_new.json",
    "defectdojo__prowler__prowler_zero_vul.csv",
    "defectdojo__qualys__empty.csv",
    "defectdojo__qualys_vmdr__no_vuln_qid.csv",
    "defectdojo__qualys__empty.xml",
    "defectdojo__qualys_infrascan_webgui__qualys_infrascan_webgui_0.xml",
    "defectdojo__qualys_webapp__qualys_webapp_no_vuln.xml",
    "defectdojo__sarif__no_runs.sarif",
    "defectdojo__semgrep__empty.json",
    "defectdojo__snyk__all-projects_no_vulns.json",
    "defectdojo__snyk__single_project_no_vulns.json",
    "defectdojo__tenable__nessus_was_no_vuln.csv",
    "defectdojo__trivy__legacy_no_vuln.json",
    "defectdojo__trivy__scheme_2_no_vuln.json",
    "defectdojo__trivy__license_scheme.json",
    "defectdojo__wiz__no_findings.csv",
    "defectdojo__wizcli_dir__wizcli_dir_zero_vul.json",
    "defectdojo__wizcli_img__wizcli_img_zero_vul.json",
    "defectdojo__zap__empty_2.9.0.xml",
    # only informational results (Nessus severity 0, ZAP risk 0, Burp Information, Wiz INFORMATIONAL)
    "defectdojo__tenable__nessus_many_vuln.xml",
    "defectdojo__zap__zap_2.16.1_with_req_resp.xml",
    "defectdojo__burp__one_finding_with_cwe.xml",
    "defectdojo__wiz__one_finding.csv",
    # the SARIF specification's examples: every result suppressed (accepted): set aside
    "defectdojo__sarif__appendix_k.sarif",
    "defectdojo__sarif__appendix_k1.sarif",
    # STIG checklists with every rule Not_Reviewed
    "heimdall2__multiple_mac_addresses_metadata.ckl",
    "stig-manager__Asset_a-RHEL_9_TRUNCATED-V1R1-no-reviews.ckl",
    "stig-manager__No-RuleId-Value.ckl",
    "stig-manager__Single-Vuln-Long-CommentDetail.ckl",
    "stig-manager__Single-Vuln-notReviewed-Empty-CommentDetail.ckl",
    "stig-manager__Asset_aaaaaaaaaa-RHEL_9_TRUNCATED-V1R1-no-reviews.cklb",
    "stig-manager__Single-Vuln-Long-CommentDetail.cklb",
    "stig-manager__Single-Vuln-notReviewed-Empty-CommentDetail.cklb",
}


# A refusal must be about the file's structure, never about a value in one record: such messages
# name a single record or an odd value (issue 6).
VALUE_REFUSAL = re.compile(
    r"^(row|line|finding|result|record|match|advisory|statement|vulnerability|dependency|alert|issue|plugin|"
    r"qid|vuln|rule|secret|misconfiguration|host|resource|site) \S+"
    r"|is not a (number|date|severity|plugin number|port number)|not recognised"
    r"|unknown (severity|status|riskcode|state)|longer than \d+ characters",
    re.IGNORECASE,
)


def _folders() -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus folder {CORPUS} is absent (set POAM_CORPUS)")
    return sorted(p for p in CORPUS.iterdir() if p.is_dir())


def test_peer_invalid_files_are_all_expected_to_be_refused() -> None:
    _folders()
    sources = (CORPUS / "SOURCES.md").read_text()
    peer_invalid = {m.group(1) for m in re.finditer(r"^\| (\S+) \|.*PEER-INVALID", sources, re.MULTILINE)}
    assert peer_invalid and peer_invalid <= set(REFUSED)


def test_every_corpus_folder_is_known() -> None:
    assert {p.name for p in _folders()} == set(FORMATS) | set(NOT_SCANS)


@pytest.mark.corpus
@pytest.mark.parametrize("folder", sorted(FORMATS) + sorted(NOT_SCANS))
def test_corpus_walk(folder: str, tmp_path: Path) -> None:
    path = CORPUS / folder
    if not path.is_dir():
        pytest.skip(f"corpus folder {path} is absent (set POAM_CORPUS)")
    engine = open_db(str(tmp_path / "walk.db"))
    for n, file in enumerate(sorted(path.iterdir())):
        system = f"s{n}"
        systems.add_system(engine, system, "walk")
        if folder in NOT_SCANS or file.name in REFUSED:
            expected = NOT_SCANS.get(folder) or re.escape(REFUSED[file.name])
            with pytest.raises(InputError, match=expected) as refused:
                import_file(engine, file, system=system, parallel=False)
            assert not VALUE_REFUSAL.search(refused.value.problem), (file.name, refused.value.problem)
            continue
        result = import_file(engine, file, system=system, parallel=False)
        assert result.format in FORMATS[folder], file.name
        weaknesses = result.results - result.informational - result.set_aside  # open ones, and passes that close
        if folder == "nmap_xml":  # discovery: hosts, never findings
            assert result.results == 0 and result.assets_covered > 0, file.name
        elif file.name in NO_FINDINGS:
            assert weaknesses == 0, file.name
        else:
            assert weaknesses > 0, file.name
    engine.dispose()


@pytest.mark.parametrize(
    "problem",
    [
        "row 7: QID 'abc' is not a number",
        "finding 3 has no Resources",
        "plugin 19506: port 'x' is not a number",
        "advisory 12: severity 'urgent' is not one of low, moderate, high, critical",
        "result 2 of run 1: names no rule",
        "vuln_id longer than 200 characters: 'XXXX'...",
    ],
)
def test_value_refusals_are_recognised_as_such(problem: str) -> None:
    """The guard of the walk catches the refusals that issue 6 removed."""
    assert VALUE_REFUSAL.search(problem)


@pytest.mark.parametrize("problem", sorted(set(REFUSED.values()) | {"not well-formed XML: ...", "empty file"}))
def test_structure_refusals_pass_the_guard(problem: str) -> None:
    assert not VALUE_REFUSAL.search(problem)


JSON_FOLDERS = sorted(
    f
    for f in FORMATS
    if f.endswith("_json")
    or f
    in {
        "acunetix_xml",
        "anchore_enterprise",
        "checkmarx",
        "cyclonedx",
        "dependency_check",
        "github_alerts",
        "gitlab_reports",
        "openvex",
        "oscal_assessment_results",
        "prisma_cloud",
        "prowler",
        "sarif",
        "stig_cklb",
        "wiz",
    }
    or f == "ms_defender_endpoint"
)


# Formats that merge the records of one finding (the same advisory, risk, check and resource, or
# package and image) that two documents of one file report into one result.
MERGING = {
    "acunetix_xml",
    "checkmarx",
    "gitlab_reports",
    "npm_audit_json",
    "oscal_assessment_results",
    "prowler",
    "snyk_json",
    "sonarqube_json",
}


def _weaknesses(engine: Engine, system: str) -> set[tuple[str, str, str]]:
    """Every item's detector, id and affected assets: what a POA&M shows of the file."""
    _info, found = list_items(engine, system, "all")
    return {(i.detector_source, i.source_identifier, "\n".join(sorted(a.text for a in i.assets))) for i in found}


@pytest.mark.corpus
@pytest.mark.parametrize("folder", JSON_FOLDERS)
def test_every_json_report_reads_concatenated_and_as_json_lines(folder: str, tmp_path: Path) -> None:
    """Issue 6: a JSON format reads several documents one after another (pages appended, as they
    were written) and JSON Lines (each document on one line), detected and with --format: two
    different reports of the folder joined give the results of both."""
    import json

    folder_path = corpus_dir(folder)
    engine = open_db(str(tmp_path / "docs.db"))
    usable: list[tuple[Path, str, list[object]]] = []
    for file in sorted(folder_path.iterdir()):
        raw = file.read_bytes()
        if raw.lstrip(b"\xef\xbb\xbf \r\n\t")[:1] not in (b"{", b"[") or file.name in REFUSED:
            continue  # a CSV or a zip of this folder, or a file poam refuses
        text = raw.decode("utf-8-sig")
        try:
            values = [json.loads(text)]
        except json.JSONDecodeError:  # already JSON Lines
            values = [json.loads(line) for line in text.splitlines() if line.strip()]
        usable.append((file, text, values))
    assert usable, folder
    pairs = list(zip(usable, usable[1:] + usable[:1], strict=True)) if len(usable) > 1 else [(usable[0], usable[0])]
    for n, ((a, a_text, a_values), (b, b_text, b_values)) in enumerate(pairs):
        alone = [
            import_file(engine, f, system=systems.add_system(engine, f"one{n}{i}", "t").name, parallel=False)
            for i, f in enumerate((a, b))
        ]
        expected = {(d, i) for d, i, _assets in _weaknesses(engine, f"one{n}0") | _weaknesses(engine, f"one{n}1")}
        variants = {
            "pages.json": a_text.rstrip() + "\n" + b_text,
            "lines.json": "\n".join(json.dumps(v) for v in a_values + b_values) + "\n",
            "marked.json": "\ufeff" + a_text.rstrip() + "\n\ufeff" + b_text,  # `cat` of two files with a BOM each
        }
        for name, body in variants.items():
            path = tmp_path / f"{n}-{name}"
            path.write_text(body, encoding="utf-8")
            for format_id in (None, alone[0].format):
                system = systems.add_system(engine, f"{name}{n}{format_id}", "t").name
                r = import_file(engine, path, system=system, format_id=format_id, parallel=False)
                assert r.format == alone[0].format, (a.name, b.name, name)
                both = alone[0].results + alone[1].results
                if folder in MERGING:
                    assert max(x.results for x in alone) <= r.results <= both, (a.name, b.name, name)
                else:
                    assert r.results == both, (a.name, b.name, name, format_id)
                got = {(d, i) for d, i, _assets in _weaknesses(engine, system)}
                assert got == expected, (a.name, b.name, name, format_id)
    engine.dispose()
