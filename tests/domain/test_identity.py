from poam.domain.identity import finding_identity, finding_key, match_asset, merge, normalize
from poam.domain.models import Asset, AssetKind


def host(**kw: str) -> Asset:
    return normalize(Asset(**kw))  # type: ignore[arg-type]


def test_finding_key_ignores_free_text_and_escapes_separators() -> None:
    a = finding_key("Nessus", "19506", "7", "443/TCP")
    assert a == finding_key("nessus", "19506", "7", "443/tcp")
    assert finding_key("T", "a|b", "1", "") != finding_key("T", "a", "b|1", "")


def test_store_identity_normalizes_the_location() -> None:
    assert finding_identity(3, 7, 443, "TCP") == (3, 7, "443/tcp")
    assert finding_identity(3, 7, 0, "tcp") == finding_identity(3, 7, None, None) == (3, 7, "")


def test_same_ip_different_fqdn_are_two_hosts() -> None:
    known = [(1, host(ip="10.0.0.5", fqdn="web01.example.com"))]
    assert match_asset(host(ip="10.0.0.5", fqdn="web02.example.com"), known) is None


def test_fqdn_survives_an_ip_change() -> None:
    known = [(1, host(ip="10.0.0.5", fqdn="web01.example.com"))]
    assert match_asset(host(ip="10.0.0.9", fqdn="WEB01.example.com."), known) == 1


def test_ip_only_observation_joins_the_host_with_that_ip() -> None:
    known = [(3, host(ip="10.0.0.5", fqdn="web01.example.com"))]
    assert match_asset(host(ip="10.0.0.5"), known) == 3


def test_strongest_identifier_wins_between_candidates() -> None:
    known = [(1, host(ip="10.0.0.5")), (2, host(ip="10.0.0.6", fqdn="db.example.com"))]
    assert match_asset(host(ip="10.0.0.5", fqdn="db.example.com"), known) == 2


def test_different_mac_separates_hosts_sharing_an_ip() -> None:
    known = [(1, host(ip="10.0.0.5", mac="00:11:22:33:44:55"))]
    assert match_asset(host(ip="10.0.0.5", mac="00-11-22-33-44-66"), known) is None
    assert match_asset(host(ip="10.0.0.5", mac="00-11-22-33-44-55"), known) == 1


def test_kinds_never_mix() -> None:
    known = [(1, Asset(kind=AssetKind.WEB_APP, name="https://app.example.com"))]
    assert match_asset(Asset(kind=AssetKind.WEB_APP, name="https://app.example.com"), known) == 1
    assert match_asset(host(fqdn="app.example.com"), known) is None


def test_merge_keeps_known_names_and_takes_the_new_ip() -> None:
    merged = merge(host(ip="10.0.0.5", fqdn="a.example.com"), host(ip="10.0.0.9", netbios="a"))
    assert (merged.ip, merged.fqdn, merged.netbios) == ("10.0.0.9", "a.example.com", "A")


def test_identifier_prefers_fqdn_then_ip() -> None:
    assert host(ip="10.0.0.5", fqdn="a.example.com").identifier == "a.example.com"
    assert host(ip="10.0.0.5", netbios="A").identifier == "10.0.0.5"


def test_group_findings_one_item_per_detector_and_vulnerability() -> None:
    import datetime as dt

    from poam.domain.identity import group_findings
    from poam.domain.models import Finding, Severity, Weakness

    def finding(tool: str, vuln: str, sev: Severity, ip: str, port: int) -> Finding:
        return Finding(Weakness(tool, vuln, "n", sev), host(ip=ip), dt.datetime(2026, 1, 1), port, "tcp")

    groups = group_findings(
        [
            finding("Nessus", "1", Severity.HIGH, "10.0.0.1", 443),
            finding("Nessus", "1", Severity.HIGH, "10.0.0.1", 8443),
            finding("Nessus", "1", Severity.HIGH, "10.0.0.2", 443),
            finding("Nessus", "2", Severity.LOW, "10.0.0.1", 22),
            finding("Qualys", "1", Severity.HIGH, "10.0.0.1", 443),
            finding("Nessus", "19506", Severity.INFO, "10.0.0.1", 0),
        ]
    )
    assert {k: len(v) for k, v in groups.items()} == {("Nessus", "1"): 3, ("Nessus", "2"): 1, ("Qualys", "1"): 1}


def test_hosts_known_only_by_name_match_by_name() -> None:
    known = [(4, Asset(name="machine-7f3a")), (5, host(ip="10.0.0.1"))]
    assert match_asset(Asset(name="machine-7f3a"), known) == 4
    assert match_asset(Asset(name="machine-0000"), known) is None
