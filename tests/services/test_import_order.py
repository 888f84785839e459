"""The POA&M after importing a set of scans is the same whatever the order of the imports
(issue 7): generated monthly Nessus scans with partial coverage, fixes and regressions, hosts
scanned on different days (overlapping windows) with and without credentials, imported in date
order and in another order, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from poam.store.db import open_db
from tests.builders import Host, Item, nessus

HOSTS = [("web01", "10.0.0.1"), ("db01", "10.0.0.2"), ("app01", "10.0.0.3")]
PLUGINS = [
    Item("100", severity=3, cvss3=7.5, name="Weak TLS"),
    Item("200", port=22, severity=2, name="SSH"),
    Item("300", port=80, severity=1, name="Banner"),
]
_counter = itertools.count()

# A month: for each host, None (not scanned) or the plugins found on it, the day of the month it was
# scanned (hosts of one scan are scanned on different days, so the scans' windows overlap) and
# whether the scan had credentials (unknown, yes, no: an unauthenticated scan never closes what a
# credentialed one found).
HostMonth = tuple[frozenset[int], int, bool | None]
Month = tuple[HostMonth | None, ...]
months = st.lists(
    st.tuples(
        *[
            st.one_of(
                st.none(),
                st.tuples(
                    st.frozensets(st.sampled_from(range(len(PLUGINS)))),
                    st.integers(0, 20),
                    st.sampled_from([None, True, False]),
                ),
            )
            for _ in HOSTS
        ]
    ).filter(lambda m: any(h is not None for h in m)),
    min_size=2,
    max_size=5,
)


def _write(folder: Path, n: int, month: Month) -> Path:
    hosts = []
    for (name, ip), seen in zip(HOSTS, month, strict=True):
        if seen is None:
            continue
        found, day, credentialed = seen
        when = dt.datetime(2026, 1 + n, 1 + day, 10, 0)
        items = [PLUGINS[p] for p in sorted(found)]
        hosts.append(Host(name, ip=ip, fqdn=f"{name}.example.com", start=when, items=items, credentialed=credentialed))
    path = folder / f"m{n}.nessus"
    path.write_text(nessus(hosts), encoding="utf-8")
    return path


def _state(engine: Engine, system: str) -> list[tuple[Any, ...]]:
    """What the POA&M shows, without the POA&M ids (their numbers follow the import order)."""
    with engine.begin() as conn:
        found = load(conn, systems.resolve(conn, system, "t").id, "all")
    by_id = {i.poam_id: (i.source_identifier, i.detection_date) for i in found}
    return sorted(
        (
            i.source_identifier,
            i.status.value,
            i.detection_date,
            i.scheduled_completion_date,
            i.closed_at,
            tuple(sorted((a.text, a.status.value) for a in i.assets)),
            by_id.get(i.previous_poam_id or ""),
        )
        for i in found
    )


def _check(engine: Engine, folder: Path, plan: list[Month], order: list[int]) -> None:
    n = next(_counter)
    files = [_write(folder, i, month) for i, month in enumerate(plan)]
    in_order, shuffled = f"ordered{n}", f"shuffled{n}"
    for name, sequence in ((in_order, range(len(files))), (shuffled, order)):
        systems.add_system(engine, name, "t")
        for i in sequence:
            import_file(engine, files[i], system=name, parallel=False)
    assert _state(engine, shuffled) == _state(engine, in_order), (plan, order)


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[Month], list[int]]:
    plan = draw(months)
    order = draw(st.permutations(list(range(len(plan)))))
    return plan, order


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_poam_does_not_depend_on_the_order_of_imports(kind: str, tmp_path: Path, request: Any) -> None:
    url = f"sqlite:///{tmp_path / 'order.db'}" if kind == "sqlite" else request.getfixturevalue("pg_schema_url")
    engine = open_db(url)
    examples = 40 if kind == "sqlite" else 12

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],  # a counterexample is reported as drawn, unshrunk
    )
    @given(plans())
    def check(drawn: tuple[list[Month], list[int]]) -> None:
        plan, order = drawn
        folder = tmp_path / f"f{next(_counter)}"
        folder.mkdir()
        _check(engine, folder, plan, order)

    try:
        check()
    finally:
        engine.dispose()
