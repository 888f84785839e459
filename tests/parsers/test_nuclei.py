"""The Nuclei parser on hand-written results and on the real files of the corpus."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.nuclei import NOT_KEPT, NucleiParser
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import corpus_dir

FILE_TIME = dt.datetime(2026, 2, 1, 8, 30)
FOLDER = "nuclei_json"


def write(tmp_path: Path, results: Any, name: str = "nuclei.jsonl") -> Path:
    path = tmp_path / name
    if isinstance(results, str):
        path.write_text(results)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in results))
    return path


def parse_ctx(path: Path, **ctx: Any) -> tuple[list[Any], ParseContext]:
    context = ParseContext(str(path), file_time=FILE_TIME, **ctx)
    with path.open("rb") as f:
        return list(NucleiParser().parse(f, context)), context


def parse(path: Path, **ctx: Any) -> list[Any]:
    return parse_ctx(path, **ctx)[0]


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[Any]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


def result(
    template: str = "git-config",
    matched: str = "https://app.example.com/.git/config",
    severity: str = "medium",
    when: str = "2026-01-05T10:00:00.123456789Z",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "template-id": template,
        "template-url": f"https://cloud.projectdiscovery.io/public/{template}",
        "info": {
            "name": f"Template {template}",
            "severity": severity,
            "tags": ["config", "git"],
            "description": "Something is exposed.",
            "reference": ["https://example.com/ref"],
            "classification": {"cwe-id": ["cwe-200"]},
            "remediation": "Remove it.",
        },
        "type": "http",
        "host": "app.example.com",
        "matched-at": matched,
        "ip": "192.0.2.10",
        "timestamp": when,
        "request": "GET /.git/config HTTP/1.1\r\nCookie: sid=topsecret\r\n",
        "response": "HTTP/1.1 200 OK\r\n\r\n[core] password=hunter2",
        "curl-command": "curl -H 'Cookie: sid=topsecret' https://app.example.com/.git/config",
        "matcher-status": True,
        **extra,
    }


# --- the corpus --------------------------------------------------------------------------------


def corpus_files() -> list[Path]:
    return sorted(corpus_dir(FOLDER).iterdir())


def corpus_file(part: str) -> Path:
    (path,) = [p for p in corpus_files() if part in p.name]
    return path


def _results(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    decoder, pos, out = json.JSONDecoder(), 0, []
    while True:
        while pos < len(text) and text[pos] in " \r\n\t":
            pos += 1
        if pos >= len(text):
            return out
        value, pos = decoder.raw_decode(text, pos)
        out += value if isinstance(value, list) else [value]


@pytest.mark.corpus
def test_corpus_counts_by_hand() -> None:
    """(results, findings, informational, left out) checked by hand against each file: one finding
    per template and target (matchers and repeated matches merged)."""
    expected = {
        # 27 lines; nameserver-fingerprint names no target (info: left out); the 11
        # http-missing-security-headers matchers are one finding
        "issue_14071": (27, 16, 12, 1),
        "issue_9201": (1, 1, 1, 0),
        # tech-detect on three sites (7, 2 and 3 matches... merged per site), waf-detect twice on one
        "many_findings.json": (18, 9, 7, 0),
        "many_findings_new": (2, 2, 0, 0),
        "multiple_matches": (2, 1, 1, 0),  # one template, two matchers, one site
        "multiple_v3": (6, 5, 5, 0),  # tls-version twice on www.asdf.de:443
    }
    for part, (total, count, info, left_out) in expected.items():
        path = corpus_file(part)
        assert len(_results(path)) == total, part
        recs, ctx = parse_ctx(path)
        found = findings(recs)
        assert len(found) == count, part
        assert sum(f.weakness.severity is Severity.INFO for f in found) == info, part
        assert ctx.report.warning_count == left_out and ctx.report.skipped == 0, part
        assert isinstance(recs[-1], Scan) and recs[-1].tool == "Nuclei"


@pytest.mark.corpus
def test_corpus_independent_count() -> None:
    """Distinct template ids per matched place, counted from the file (the matched URL without
    query for web results, `host:port` for the others)."""
    for path in corpus_files():
        places = set()
        for r in _results(path):
            where = r.get("matched-at") or r.get("matched") or r.get("url") or r.get("host")
            if not where:
                continue
            where = where.lstrip("/").split("?")[0].replace("//phpinfo", "/phpinfo")
            if where.startswith("http") and where.count("/") == 2:
                where += "/"
            places.add((r.get("template-id") or r.get("templateID"), where))
        assert len(findings(parse(path))) == len(places), path.name


@pytest.mark.corpus
def test_corpus_targets() -> None:
    found = {
        (f.weakness.vuln_id, f.asset.identifier, f.location) for f in findings(parse(corpus_file("many_findings.json")))
    }
    assert ("openssh5.3-detect", "nuclei-example.com", "22/tcp") in found
    assert ("mysql-native-password-bruteforce", "nuclei-example.com", "3306/tcp") in found
    assert ("phpmyadmin-setup", "https://nuclei-example.com", "/phpmyadmin/setup/index.php") in found
    assert ("tech-detect", "http://127.0.0.1:8080", "/WebGoat") in found
    hosts = {f.asset for f in findings(parse(corpus_file("many_findings.json"))) if f.asset.kind is AssetKind.HOST}
    (host,) = hosts
    assert (host.fqdn, host.ip) == ("nuclei-example.com", "178.21.15.56")
    new = {f.weakness.vuln_id: f for f in findings(parse(corpus_file("many_findings_new")))}
    cve = new["CVE-2018-15473"].weakness
    assert (cve.cves, cve.cwes, cve.cvss3_vector, cve.cvss3_score) == (
        ("CVE-2018-15473",),
        ("362",),
        "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
        5.3,
    )


@pytest.mark.corpus
def test_corpus_requests_responses_and_credentials_are_never_kept() -> None:
    path = corpus_file("issue_14071")
    recs = parse(path)
    text = "\n".join(str(r) for r in recs)
    for r in _results(path):
        for key in ("request", "response", "curl-command"):
            if r.get(key):
                assert r[key][:200] not in text
    assert "PHPSESSID=" not in text and "'password'" not in text  # a session cookie; meta of a default login
    login = next(f for f in findings(recs) if f.weakness.vuln_id == "dvwa-default-login")
    assert (login.weakness.severity, login.path, login.asset.name) == (
        Severity.CRITICAL,
        "/index.php",
        "http://dvwa_dvwa_1",
    )


@pytest.mark.corpus
def test_sniff_claims_exactly_the_nuclei_folder() -> None:
    root = corpus_dir(FOLDER).parent
    claimed = set()
    for path in sorted(root.glob("*/*")):
        with path.open("rb") as f:
            if NucleiParser().sniff(read_head(f)):
                claimed.add(path.relative_to(root).as_posix())
    assert claimed == {p.relative_to(root).as_posix() for p in corpus_files()}


# --- hand-written results ----------------------------------------------------------------------


def test_a_web_result(tmp_path: Path) -> None:
    recs, ctx = parse_ctx(write(tmp_path, [result(), result(matched="https://app.example.com/.git/config?x=1")]))
    assert ctx.report.warning_count == 0
    (cov,) = coverage(recs)
    (f,) = findings(recs)
    assert (cov.asset.kind, cov.asset.name) == (AssetKind.WEB_APP, "https://app.example.com")
    assert (f.weakness.tool, f.weakness.vuln_id, f.path, f.port) == ("Nuclei", "git-config", "/.git/config", None)
    assert f.observed_at == dt.datetime(2026, 1, 5, 10, 0, 0, 123456)
    assert f.weakness.see_also == "https://example.com/ref\nhttps://cloud.projectdiscovery.io/public/git-config"
    assert (f.weakness.cwes, f.weakness.solution, f.weakness.family) == (("200",), "Remove it.", "http")
    text = "\n".join(str(r) for r in recs)
    assert "topsecret" not in text and "hunter2" not in text


def test_network_results_are_on_the_host_and_port(tmp_path: Path) -> None:
    ssh = result("openssh-detect", "ssh.example.com:22", "low", type="network", host="ssh.example.com")
    dns = result("caa-fingerprint", "example.com", "info", type="dns", host="example.com", ip=None)
    bare = result("mysql-detect", "", "medium", type="network", host="", ip="192.0.2.7")
    bare.pop("matched-at")
    found = {f.weakness.vuln_id: f for f in findings(parse(write(tmp_path, [ssh, dns, bare])))}
    assert (found["openssh-detect"].asset.fqdn, found["openssh-detect"].asset.ip) == ("ssh.example.com", "192.0.2.10")
    assert (found["openssh-detect"].port, found["openssh-detect"].protocol) == (22, "tcp")
    assert (found["caa-fingerprint"].asset.fqdn, found["caa-fingerprint"].port) == ("example.com", None)
    assert (found["mysql-detect"].asset.ip, found["mysql-detect"].asset.fqdn) == ("192.0.2.7", None)


@pytest.mark.parametrize(
    ("word", "classification", "severity", "warned"),
    [
        ("critical", {}, Severity.CRITICAL, False),
        ("high", {}, Severity.HIGH, False),
        ("medium", {}, Severity.MEDIUM, False),
        ("low", {}, Severity.LOW, False),
        ("info", {}, Severity.INFO, False),
        ("unknown", {}, Severity.LOW, False),
        ("unknown", {"cvss-score": 9.1}, Severity.CRITICAL, False),
        (None, {}, Severity.LOW, False),
        ("dangerous", {}, Severity.MEDIUM, True),
    ],
)
def test_severities(
    tmp_path: Path, word: Any, classification: dict[str, Any], severity: Severity, warned: bool
) -> None:
    r = result()
    r["info"]["severity"] = word
    r["info"]["classification"] = classification
    recs, ctx = parse_ctx(write(tmp_path, [r]))
    (f,) = findings(recs)
    assert f.weakness.severity is severity and (ctx.report.warning_count == 1) is warned


def test_matchers_merge_and_a_non_match_is_a_fix(tmp_path: Path) -> None:
    headers = [
        result("http-missing-security-headers", "https://app.example.com/", "low", **{"matcher-name": name})
        for name in ("x-frame-options", "content-security-policy")
    ]
    miss = result("git-config", **{"matcher-status": False})
    found = {f.weakness.vuln_id: f for f in findings(parse(write(tmp_path, [*headers, miss])))}
    merged = found["http-missing-security-headers"]
    assert (
        merged.evidence is not None
        and "x-frame-options" in merged.evidence
        and "content-security-policy" in merged.evidence
    )
    assert found["git-config"].status is FindingStatus.FIXED
    both = findings(parse(write(tmp_path, [miss, result()], "b.jsonl")))
    assert [f.status for f in both] == [FindingStatus.OPEN]  # a match wins over a non-match


def test_extracted_values_of_secret_templates_are_not_kept(tmp_path: Path) -> None:
    token = result("aws-access-key-value", severity="high", **{"extracted-results": ["AKIAIOSFODNN7EXAMPLE"]})
    token["info"]["tags"] = "aws,token,exposure"
    version = result("nginx-version", severity="info", **{"extracted-results": ["nginx/1.25.1"]})
    version["info"]["tags"] = ["tech", "nginx"]
    recs = parse(write(tmp_path, [token, version]))
    found = {f.weakness.vuln_id: f for f in findings(recs)}
    assert "AKIAIOSFODNN7EXAMPLE" not in "\n".join(str(r) for r in recs)
    assert NOT_KEPT in (found["aws-access-key-value"].evidence or "")
    assert "extracted: nginx/1.25.1" in (found["nginx-version"].evidence or "")


def test_export_array_single_object_and_v2_names(tmp_path: Path) -> None:
    v2 = {
        "templateID": "old-one",
        "info": {"name": "Old", "severity": "high", "reference": "- https://a\n- https://b\n"},
        "type": "http",
        "host": "https://old.example.com",
        "matched": "https://old.example.com/x",
        "timestamp": "2021-05-20T11:11:01.667748+03:00",
    }
    for content in (json.dumps([result(), v2]), json.dumps(v2)):
        recs = parse(write(tmp_path, content, "export.json"))
        found = {f.weakness.vuln_id: f for f in findings(recs)}
        old = found["old-one"]
        assert (old.asset.name, old.path, old.observed_at) == (
            "https://old.example.com",
            "/x",
            dt.datetime(2021, 5, 20, 8, 11, 1, 667748),
        )
        assert old.weakness.see_also == "https://a\nhttps://b"


def test_odd_results_are_read_past(tmp_path: Path) -> None:
    no_id = result()
    no_id.pop("template-id")
    no_id["templateID"] = ""
    nowhere = result("ns-detect", severity="info", type="dns")
    for key in ("host", "matched-at", "ip"):
        nowhere.pop(key)
    nowhere_high = result("bad", severity="high")
    for key in ("host", "matched-at", "ip"):
        nowhere_high.pop(key)
    undated = result("undated", when="yesterday")
    recs, ctx = parse_ctx(write(tmp_path, json.dumps([result(), 5, no_id, nowhere, nowhere_high, undated])))
    assert {f.weakness.vuln_id for f in findings(recs)} == {"git-config", "undated"}
    assert ctx.report.skipped == 3  # the number, the result without a template, the high one without a target
    assert "result 4 (ns-detect): names no host, URL or IP; informational, left out" in ctx.report.warnings
    assert "result 6 (undated): timestamp 'yesterday' is not a date; dated by the file's time" in ctx.report.warnings
    assert next(f for f in findings(recs) if f.weakness.vuln_id == "undated").observed_at == FILE_TIME


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"results": []}', "not a Nuclei result"),
        ("[1, 2", "not valid JSON"),
        ('"text"', "not a Nuclei result"),
        ('{"template-id": "a", "info": {}}\n7\n', "document 2: not a Nuclei result"),
    ],
)
def test_broken_structure_is_refused(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, content))


# --- end to end --------------------------------------------------------------------------------


def test_reimport_closes_reopens_and_never_closes_another_target(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(NucleiParser())

    def run(day: int, *results: dict[str, Any]) -> Any:
        stamped = [{**r, "timestamp": f"2026-01-{day:02d}T10:00:00Z"} for r in results]
        return import_file(engine, write(tmp_path, stamped, f"{day}.jsonl"))

    git = result()
    env = result("dotenv", "https://app.example.com/.env", "high")
    tech = result("tech-detect", "https://app.example.com/", "info")
    other = result("tech-detect", "https://other.example.com/", "info")
    jan = run(5, git, env, tech)
    assert (jan.format, jan.new_findings, jan.items_opened, jan.informational, jan.assets_covered) == (
        "nuclei",
        2,
        2,
        1,
        1,
    )
    elsewhere = run(6, other)  # another site: closes nothing here
    assert (elsewhere.fixed_findings, elsewhere.items_closed) == (0, 0)
    feb = run(7, git, tech)
    assert (feb.fixed_findings, feb.items_closed) == (1, 1)
    mar = run(8, git, env)
    assert (mar.new_findings, mar.items_opened) == (1, 1)  # its item had closed: a new item
    miss = run(9, tech, {**git, "matcher-status": False}, env)
    assert (miss.fixed_findings, miss.items_closed) == (1, 1)
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert sorted((i.source_identifier, i.status.value) for i in items) == [
        ("dotenv", "closed"),
        ("dotenv", "open"),
        ("git-config", "closed"),
    ]
    assert all(i.status is ItemStatus.OPEN or i.closed_at is not None for i in items)
