"""The identity hash filter that spares lookups of findings new to an import."""

from __future__ import annotations

import random

from poam.services.sightings import _HashFilter, identity_hash


def test_the_filter_never_forgets_and_rarely_imagines() -> None:
    rng = random.Random(7)
    added = [
        identity_hash((rng.randrange(10**6), rng.randrange(10**4), f"{rng.randrange(65536)}/tcp"))
        for _ in range(200_000)
    ]
    f = _HashFilter()
    f.add_all(added)
    assert all(h in f for h in added)
    others = [identity_hash((-1 - n, n, "x")) for n in range(100_000)]
    false = sum(h in f for h in others)
    assert false < 200  # about 1 in 2,000 expected
