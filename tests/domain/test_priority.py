import datetime as dt

from poam.domain.priority import Inputs, Weights, score

NOW = dt.datetime(2026, 12, 8, tzinfo=dt.UTC)
W = Weights(
    pain={1: 5, 2: 15, 3: 25, 4: 35, 5: 45},
    severity={"Low": 5, "Moderate": 15, "High": 30, "Critical": 40},
    kev=30,
    forensic_triage=10,
    exploitation={"none": 0, "poc": 8, "active": 20},
    automatable=10,
    total_impact=5,
    epss=20,
    exposure={"public": 10, "unknown": 10, "internal": 0},
    criticality={"low": 0, "moderate": 5, "high": 10},
    overdue=25,
    due_within={7: 15, 30: 8},
    fix_available=5,
)


def test_every_factor_adds_its_points() -> None:
    p = score(
        Inputs(
            level="High",
            pain=4,
            kev=True,
            forensic_triage=True,
            exploitation="active",
            automatable="yes",
            technical_impact="total",
            epss=0.5,
            exposure="public",
            criticality="high",
            nearest_due=NOW + dt.timedelta(days=3),
            fix_available=True,
        ),
        W,
        NOW,
    )
    points = {f.name: f.points for f in p.factors}
    assert points == {
        "pain": 35,
        "kev": 30,
        "forensic_triage": 10,
        "exploitation": 20,
        "automatable": 10,
        "technical_impact": 5,
        "epss": 10,
        "exposure": 10,
        "criticality": 10,
        "time_to_deadline": 15,
        "fix_available": 5,
    }
    assert p.score == 160


def test_before_evaluation_the_severity_counts_and_overdue_outranks_soon() -> None:
    late = score(Inputs(level="Moderate", exposure="internal", nearest_due=NOW - dt.timedelta(hours=5)), W, NOW)
    soon = score(Inputs(level="Moderate", exposure="internal", nearest_due=NOW + dt.timedelta(days=20)), W, NOW)
    assert late.factors[0].name == "rating" and late.factors[0].points == 15
    assert late.score == 40 and soon.score == 23
    assert {f.name: f.value for f in late.factors}["time_to_deadline"] == "overdue by 5 hours"
