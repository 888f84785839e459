"""Benchmark: writing the deliverables of a large POA&M against the writer library alone.

Generates a poam CSV of `--items` weaknesses (20,000 by default; one to three assets each), imports it
into a fresh SQLite database (not measured), then measures in child processes, each the fastest of
`--repeat` runs with its peak memory (RSS):

- `poam export fedramp` against XlsxWriter alone writing the same cells (read back from the export)
  in constant-memory mode;
- `poam export oscal` against `json.dumps` and `orjson.dumps` of the same document;
- `poam export vdr` (the system set to `fedramp-cr26` with a CPO URI) against the same two.

The time inside each child counts from just before the export call (interpreter start and the
baselines' loading of their input are left out); the memory is the child's whole peak, so the
baselines' figure includes holding every cell or the whole document, as a writer fed from memory must.

    .venv/bin/python bench/bench_exports.py --items 20000
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

WORDS = ("remote", "host", "server", "version", "affected", "attacker", "code", "cipher", "patch", "vendor")


def generate(path: Path, count: int, seed: int = 11) -> None:
    """A poam CSV with `count` distinct weaknesses on 1-3 of 500 hosts each."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(
            ["detector", "weakness_id", "weakness_name", "asset", "detected", "severity", "description", "cve"]
        )
        for n in range(count):
            sev = rng.choice(("critical", "high", "moderate", "moderate", "low"))
            text = " ".join(rng.choice(WORDS) for _ in range(30))
            cve = f"CVE-20{rng.randint(15, 26)}-{rng.randint(1000, 99999)}" if rng.random() < 0.6 else ""
            for h in rng.sample(range(500), rng.randint(1, 3)):
                out.writerow(
                    [
                        "Bench pentest",
                        f"BENCH-{n:05d}",
                        f"Synthetic weakness {n}",
                        f"10.1.{h // 256}.{h % 256}",
                        "2026-11-02",
                        sev,
                        text,
                        cve,
                    ]
                )


SETUP = """
import sys
from pathlib import Path
from poam.services import systems
from poam.services.importer import import_file
from poam.store.db import open_db
engine = open_db(sys.argv[1])
result = import_file(engine, Path(sys.argv[2]), actor="bench")
systems.set_rules(engine, "default", "bench", "fedramp-cr26", "c", None)
print(result.items_opened)
"""

RUN = """
import json, resource, sys, time
from pathlib import Path
kind, args = sys.argv[1], sys.argv[2:]
if kind == "poam":
    from click.testing import CliRunner
    from poam.cli import cli
    runner = CliRunner()
    t0 = time.perf_counter()
    result = runner.invoke(cli, args, catch_exceptions=False)
    took = time.perf_counter() - t0
    if result.exit_code:
        sys.exit(result.output)
elif kind == "xlsxwriter":
    import xlsxwriter
    rows = json.loads(Path(args[0]).read_text())
    t0 = time.perf_counter()
    book = xlsxwriter.Workbook(args[1], {"constant_memory": True})
    for name, cells in rows.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(cells):
            for c, value in enumerate(row):
                if value is not None:
                    sheet.write(r, c, value)
    book.close()
    took = time.perf_counter() - t0
else:
    doc = json.loads(Path(args[0]).read_text())
    t0 = time.perf_counter()
    if kind == "json":
        Path(args[1]).write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        import orjson
        Path(args[1]).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    took = time.perf_counter() - t0
print(took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def measure(args: list[str], repeat: int) -> tuple[float, float]:
    """(fastest seconds, largest peak RSS in MB) of `repeat` runs of RUN in a child process."""
    runs = []
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True)
        if proc.returncode:
            said = (proc.stderr.strip() or proc.stdout.strip()).splitlines() or ["no output"]
            raise SystemExit(said[-1])
        seconds, kb = proc.stdout.split()
        runs.append((float(seconds), int(kb) / 1024))
    return min(r[0] for r in runs), max(r[1] for r in runs)


def workbook_cells(path: Path) -> dict[str, list[list[object]]]:
    """Every sheet's cell values (dates as ISO text), as the baseline writes them."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    cells = {
        sheet.title: [[v.isoformat() if hasattr(v, "isoformat") else v for v in row] for row in sheet.values]
        for sheet in book.worksheets
    }
    book.close()
    return cells


def line(name: str, took: float, mb: float, base: float | None = None) -> str:
    ratio = f"   {took / base:5.2f} x the library alone" if base else ""
    return f"  {name:<26}{took:7.2f} s   peak {mb:6.0f} MB{ratio}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measure; the fastest counts")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        scan, db = folder / "bench.csv", folder / "bench.db"
        generate(scan, a.items)
        opened = subprocess.run(
            [sys.executable, "-c", SETUP, str(db), str(scan)], capture_output=True, text=True, check=True
        ).stdout.strip()
        base = ["--db", str(db)]
        subprocess.run(
            [sys.executable, "-m", "poam", *base, "system", "set", "default", "--cpo-uri",
             "https://example.com/cpo.json"], capture_output=True, check=False,
        )  # fmt: skip
        print(f"POA&M of {opened} items (poam CSV of {scan.stat().st_size / 1e6:.0f} MB imported, not measured)")
        r = a.repeat

        xlsx = folder / "poam.xlsx"
        t, mb = measure(["poam", *base, "export", "fedramp", str(xlsx)], r)
        cells = folder / "cells.json"
        cells.write_text(json.dumps(workbook_cells(xlsx)))
        bt, bmb = measure(["xlsxwriter", str(cells), str(folder / "bare.xlsx")], r)
        print("FedRAMP workbook (.xlsx):")
        print(line("XlsxWriter alone", bt, bmb))
        print(line("poam export fedramp", t, mb, bt))

        for label, command, extra in (
            ("OSCAL POA&M (.json)", "oscal", []),
            ("VDR report (.json)", "vdr", ["--from", "2026-11-01", "--to", "2026-11-30"]),
        ):
            out = folder / f"{command}.json"
            try:
                t, mb = measure(["poam", *base, "export", command, str(out), *extra], r)
            except SystemExit as exc:
                print(f"{label}: not measured ({exc})")
                continue
            jt, jmb = measure(["json", str(out), str(folder / "bare.json")], r)
            ot, omb = measure(["orjson", str(out), str(folder / "bare.json")], r)
            print(f"{label}: {out.stat().st_size / 1e6:.0f} MB")
            print(line("json.dumps alone", jt, jmb))
            print(line("orjson.dumps alone", ot, omb))
            print(line(f"poam export {command}", t, mb, jt))


if __name__ == "__main__":
    main()
