"""fedramp-cr26 logic on hand-made tables: which cell, which clock, what re-arms, what is flagged."""

import datetime as dt

import pytest

from poam.domain.models import Level
from poam.domain.rules import Duration, Evaluation, Facts, KevFact
from poam.domain.rules.cr26 import Cr26Tables, accepted_flag, compute

UTC = dt.UTC
DETECTED = dt.datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
T0 = dt.datetime(2026, 12, 9, 12, 0, tzinfo=UTC)

# Class D of VDR-TFR-PVR as published (rules-2026.md 1.4), written by hand.
D = {
    5: {"irv_lev": Duration(12, "hours"), "nirv_lev": Duration(1), "nlev": Duration(8)},
    4: {"irv_lev": Duration(2), "nirv_lev": Duration(8), "nlev": Duration(32)},
    3: {"irv_lev": Duration(8), "nirv_lev": Duration(16), "nlev": Duration(64)},
    2: {"irv_lev": Duration(24), "nirv_lev": Duration(96), "nlev": Duration(192)},
}
B = {
    5: {"irv_lev": Duration(4), "nirv_lev": Duration(8), "nlev": Duration(32)},
    4: {"irv_lev": Duration(8), "nirv_lev": Duration(32), "nlev": Duration(64)},
    3: {"irv_lev": Duration(32), "nirv_lev": Duration(64), "nlev": Duration(192)},
    2: {"irv_lev": Duration(96), "nirv_lev": Duration(160), "nlev": Duration(192)},
}
TABLES = Cr26Tables(
    version="test",
    evaluation={"b": Duration(7), "c": Duration(5), "d": Duration(2)},
    pain={"b": B, "c": B, "d": D},
    accepted=Duration(192),
    incident_force={"b": "MAY", "c": "SHOULD", "d": "SHOULD"},
    nirv_incident_force={"b": "MAY", "c": "MAY", "d": "SHOULD"},
    evaluation_force={"b": "SHOULD", "c": "SHOULD", "d": "SHOULD"},
    pain_force={"b": "SHOULD", "c": "SHOULD", "d": "SHOULD"},
)


def facts(*evals: Evaluation, **kw: object) -> Facts:
    return Facts(detected_at=DETECTED, level=Level.HIGH, evaluations=evals, **kw)  # type: ignore[arg-type]


def by_kind(out, kind):  # type: ignore[no-untyped-def]
    found = [d for d in out.deadlines if d.kind == kind]
    return found[0] if found else None


def test_unevaluated_item_has_only_its_evaluation_window() -> None:
    out = compute(facts(), TABLES, "d")
    assert [d.kind for d in out.deadlines] == ["evaluation"]
    ev = out.deadlines[0]
    assert ev.due == dt.datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
    assert ev.rule == "VER-TFR-EVU" and ev.met_at is None


def test_class_d_pain_5_irv_lev_is_twelve_hours_from_the_evaluation() -> None:
    out = compute(facts(Evaluation(T0, True, True, 5)), TABLES, "d")
    nr = by_kind(out, "next_reduction")
    assert nr.due == dt.datetime(2026, 12, 10, 0, 0, tzinfo=UTC)
    assert nr.clock_start == T0 and nr.inputs["target"] == 4 and nr.duration == "12 hours"
    assert by_kind(out, "evaluation").met_at == T0


@pytest.mark.parametrize(
    ("irv", "lev", "days"),
    [(True, True, 8), (False, True, 16), (True, False, 64), (False, False, 64)],  # NLEV ignores IRV
)
def test_column_follows_irv_and_lev(irv: bool, lev: bool, days: int) -> None:
    out = compute(facts(Evaluation(T0, irv, lev, 3)), TABLES, "d")
    assert by_kind(out, "next_reduction").due == T0 + dt.timedelta(days=days)


def test_a_reduction_rearms_the_clock_and_the_accepted_clock_does_not_move() -> None:
    later = T0 + dt.timedelta(days=3)
    out = compute(facts(Evaluation(T0, True, True, 4), Evaluation(later, True, True, 3)), TABLES, "d")
    nr = by_kind(out, "next_reduction")
    assert nr.clock_start == later and nr.due == later + dt.timedelta(days=8)
    acc = by_kind(out, "accepted")
    assert acc.clock_start == T0 and acc.due == T0 + dt.timedelta(days=192)


def test_changing_only_lev_keeps_the_clock_of_the_rating() -> None:
    later = T0 + dt.timedelta(days=1)
    out = compute(facts(Evaluation(T0, True, True, 3), Evaluation(later, True, False, 3)), TABLES, "d")
    nr = by_kind(out, "next_reduction")
    assert nr.clock_start == T0 and nr.due == T0 + dt.timedelta(days=64)


def test_n1_has_no_reduction_target_but_the_192_days_still_run() -> None:
    out = compute(facts(Evaluation(T0, True, True, 1)), TABLES, "b")
    assert by_kind(out, "next_reduction") is None
    assert by_kind(out, "accepted").due == T0 + dt.timedelta(days=192)


def test_fully_mitigated_stops_reduction_and_acceptance_but_keeps_the_kev_date() -> None:
    kev = KevFact("CVE-2021-44228", dt.date(2021, 12, 10), dt.date(2026, 12, 24))
    out = compute(facts(Evaluation(T0, True, True, 4), disposition="fully-mitigated", kev=(kev,)), TABLES, "c")
    assert by_kind(out, "next_reduction") is None and by_kind(out, "accepted") is None
    k = by_kind(out, "kev")
    assert k.rule == "VDR-TFR-KEV" and k.due == dt.datetime(2026, 12, 24, 23, 59, 59, tzinfo=UTC)


def test_accepted_flag_after_192_days_needs_a_rationale() -> None:
    f = facts(Evaluation(T0, False, True, 2))
    out = compute(f, TABLES, "b")
    assert accepted_flag(out, f, T0 + dt.timedelta(days=192)) is None
    flag = accepted_flag(out, f, T0 + dt.timedelta(days=192, seconds=1))
    assert flag is not None and flag.rule == "VER-TFR-MAV" and "rationale" in flag.text
    done = facts(Evaluation(T0, False, True, 2), accepted=True)
    assert "recorded" in (accepted_flag(out, done, T0 + dt.timedelta(days=200)) or flag).text


@pytest.mark.parametrize(
    ("cls", "irv", "pain", "expected"),
    [
        ("d", True, 4, [("VER-TFR-IRI", "SHOULD")]),
        ("c", True, 5, [("VER-TFR-IRI", "SHOULD")]),
        ("b", True, 4, [("VER-TFR-IRI", "MAY")]),
        ("d", True, 3, []),
        ("d", False, 5, [("VER-TFR-NRI", "SHOULD")]),
        ("c", False, 5, [("VER-TFR-NRI", "MAY")]),
        ("d", False, 4, []),
    ],
)
def test_possible_reportable_incident_by_class(cls: str, irv: bool, pain: int, expected: list) -> None:  # type: ignore[type-arg]
    out = compute(facts(Evaluation(T0, irv, True, pain)), TABLES, cls)
    assert [(f.rule, f.force) for f in out.flags if f.kind == "incident"] == expected


def test_nlev_is_never_an_incident() -> None:
    assert compute(facts(Evaluation(T0, True, False, 5)), TABLES, "d").flags == ()


def test_unknown_class_is_refused() -> None:
    with pytest.raises(ValueError, match="class"):
        compute(facts(), TABLES, "a")


def test_a_fully_mitigated_or_remediated_item_is_no_longer_a_possible_incident() -> None:
    for disposition in ("fully-mitigated", "remediated"):
        out = compute(facts(Evaluation(T0, True, True, 5), disposition=disposition), TABLES, "d")
        assert out.flags == ()
    partial = compute(facts(Evaluation(T0, True, True, 5), disposition="partially-mitigated"), TABLES, "d")
    assert [f.rule for f in partial.flags] == ["VER-TFR-IRI"]
