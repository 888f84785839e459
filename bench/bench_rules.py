"""Benchmark: computing deadlines and priorities of a large system, against the import that made it.

Generates a synthetic .nessus file (as bench_import does), imports it into a fresh SQLite database
(the baseline: what one import costs), then measures in the same run:
- `refresh`: recomputing and storing every open item's deadlines after a rule-set change, under
  `fedramp-rev5` and `fedramp-cr26` (what `system set --policy`, `intel load` and imports pay);
- `items --sort priority`: the read path (facts gathered, deadlines and priority computed per item);
- a late import: an older scan of the same hosts imported after the newer one (history replay).

    .venv/bin/python bench/bench_rules.py --hosts 1000 --per-host 100
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import generate  # noqa: E402

from poam.services import systems, triage  # noqa: E402
from poam.services.importer import import_file  # noqa: E402
from poam.store.db import open_db  # noqa: E402
from poam.store.tables import items  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--per-host", type=int, default=100)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scan = Path(tmp) / "bench.nessus"
        results = generate(scan, a.hosts, a.per_host)
        engine = open_db(str(Path(tmp) / "bench.db"))
        t0 = time.perf_counter()
        import_file(engine, scan, actor="bench")
        imported = time.perf_counter() - t0
        with engine.connect() as conn:
            n_items = conn.execute(select(func.count()).select_from(items)).scalar_one()
        print(f"import (baseline):         {imported:7.2f} s   {results} results, {n_items} items")
        for policy in ("fedramp-rev5", "fedramp-cr26", "bod-26-04"):
            t0 = time.perf_counter()
            _info, changed = systems.set_rules(engine, "default", "bench", policy, None, None)
            took = time.perf_counter() - t0
            share = took / imported
            print(f"refresh under {policy:<13}{took:7.2f} s   ({share:.2f} x import; {changed} items changed)")
        now = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        _info, rows = triage.ranked(engine, None, "open", "priority", None, now)
        took = time.perf_counter() - t0
        print(f"items --sort priority:     {took:7.2f} s   ({took / imported:.2f} x import; {len(rows)} items)")
        older = Path(tmp) / "older.nessus"
        generate(older, a.hosts, a.per_host, start=dt.datetime(2025, 12, 1, 8, 0))
        t0 = time.perf_counter()
        import_file(engine, older, actor="bench")
        took = time.perf_counter() - t0
        print(f"late import (replay):      {took:7.2f} s   ({took / imported:.2f} x the first import)")


if __name__ == "__main__":
    main()
