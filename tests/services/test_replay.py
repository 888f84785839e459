"""The in-memory replay of one weakness's history (no database): steps in date order whatever the
order they are given in."""

from __future__ import annotations

import datetime as dt
import itertools

from poam.services.replay import Cover, Replay, Seen, Step, Weakness

W = Weakness("100", is_config=False, family="General")
A = (1, 443, "tcp", None)
B = (2, 443, "tcp", None)


def scan(n: int, day: dt.datetime, seen: list[tuple[tuple[int, int, str, None], str]], covered: set[int]) -> Step:
    return Step(
        n,
        (day, day, f"sha{n}", f"sha{n}"),
        closes=True,
        seen=[Seen(place, day, status) for place, status in seen],
        cover={asset: Cover(day, None, "all") for asset in covered},
    )


def months() -> list[Step]:
    jan, feb, mar = (dt.datetime(2026, m, 5) for m in (1, 2, 3))
    return [
        scan(1, jan, [(A, "open")], {1}),
        scan(2, feb, [], {1}),  # a fixed
        scan(3, mar, [(A, "open"), (B, "open")], {1, 2}),  # back: a new item
    ]


def test_a_finding_gone_and_back_after_its_item_closed_is_two_lives_whatever_the_order() -> None:
    results = set()
    for order in itertools.permutations(months()):
        r = Replay(W).run(list(order))
        lives = tuple((x.status, x.detection, x.closed_at, x.previous) for x in r.lives)
        gens = tuple(sorted((g.place, g.life, g.status, g.first_seen, g.fixed_at) for g in r.generations()))
        results.add((lives, gens))
    assert len(results) == 1
    lives, gens = results.pop()
    assert lives == (
        ("closed", dt.date(2026, 1, 5), dt.date(2026, 2, 5), None),
        ("open", dt.date(2026, 3, 5), None, 0),
    )
    assert [(g[0], g[1], g[2]) for g in gens] == [(A, 0, "fixed"), (A, 1, "open"), (B, 1, "open")]


def test_an_explicit_fix_closes_only_what_was_seen_before_it() -> None:
    jan, feb = dt.datetime(2026, 1, 5), dt.datetime(2026, 2, 5)
    fix = Step(2, (feb, feb, "b", "b"), seen=[Seen(A, feb, "fixed"), Seen(B, feb, "fixed")])
    r = Replay(W).run([fix, Step(1, (jan, jan, "a", "a"), seen=[Seen(A, jan, "open")])])
    assert [(g.place, g.status, g.fixed_at) for g in r.generations()] == [(A, "fixed", feb)]
    assert (r.lives[0].status, r.lives[0].closed_at) == ("closed", feb.date())
