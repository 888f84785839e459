from poam.domain.controls import control_id, controls_for_item
from poam.domain.models import Severity, Weakness


def test_control_ids_from_cci_reference_indexes() -> None:
    assert control_id("AC-1 b 1") == "AC-1"
    assert control_id("AC-2 (4)") == "AC-2(4)"
    assert control_id("SC-7 (5) (a)") == "SC-7(5)"
    assert control_id("cm-06") == "CM-6"
    assert control_id("Appendix J") is None


def test_default_controls() -> None:
    vuln = Weakness("Nessus", "1", "n", Severity.HIGH)
    assert controls_for_item(vuln) == ("RA-5",)
    assert controls_for_item(Weakness("Nessus", "1", "n", Severity.HIGH, cves=("CVE-2024-0001",))) == ("RA-5", "SI-2")
    config = Weakness("STIG", "V-1", "n", Severity.HIGH, is_config=True, ccis=("CCI-000366",))
    assert controls_for_item(config) == ("CM-6",)
    assert controls_for_item(config, ["AC-7", "AC-7", "IA-5"]) == ("AC-7", "IA-5")
    named = Weakness("PT", "1", "n", Severity.HIGH, controls=("SI-10",), cves=("CVE-2024-0001",))
    assert controls_for_item(named) == ("SI-10",)
