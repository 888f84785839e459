from poam.domain.remediation import DEFAULT_PLAN, default_plan


def test_the_detectors_fix_is_the_plan() -> None:
    assert default_plan("  Upgrade to OpenSSH 9.8p1. ") == "Upgrade to OpenSSH 9.8p1."


def test_no_fix_gives_the_default_plan() -> None:
    for none in (None, "", "n/a", "No known solution.", "NONE"):
        assert default_plan(none) == DEFAULT_PLAN
    assert DEFAULT_PLAN.startswith("The detector gave no fix.")
