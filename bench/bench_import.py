"""Benchmark: import of a large synthetic .nessus file against a bare lxml iterparse of it.

Prints the file size, the time of a bare streaming parse, the time of a full `poam import`
into a fresh SQLite database, their ratio, findings per second and the peak memory (RSS) of
each, measured in child processes; each measure is run `--repeat` times (3) and the fastest
counts, since a shared machine's noise only ever adds time. Run with `make bench` or:

    .venv/bin/python bench/bench_import.py --hosts 2000 --per-host 100

Targets (issue #2): full import within 3x the bare parse; peak memory under 200 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
WORDS = (
    "remote",
    "host",
    "server",
    "version",
    "affected",
    "vulnerability",
    "attacker",
    "arbitrary",
    "code",
    "execution",
    "denial",
    "service",
    "certificate",
    "protocol",
    "cipher",
    "patch",
    "update",
    "vendor",
    "advisory",
    "configuration",
)


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def generate(
    path: Path, hosts: int, per_host: int, seed: int = 7, start: dt.datetime = dt.datetime(2026, 1, 5, 8, 0)
) -> int:
    """Write a NessusClientData_v2 file (hosts scanned from `start`); returns the number of ReportItems."""
    rng = random.Random(seed)
    pool = []
    for n in range(max(per_host * 15, 500)):
        pid = 100000 + n
        sev = rng.choice((0, 0, 1, 2, 2, 2, 3, 3, 4))
        cves = "".join(
            f"<cve>CVE-20{rng.randint(10, 25)}-{rng.randint(1000, 99999)}</cve>" for _ in range(rng.randint(0, 4))
        )
        body = (
            f"<cvss3_base_score>{rng.randint(10, 100) / 10}</cvss3_base_score>"
            f"<cvss3_vector>CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:L/A:N</cvss3_vector>"
            f"<cvss_base_score>{rng.randint(10, 100) / 10}</cvss_base_score>"
            f"<cvss_vector>CVSS2#AV:N/AC:L/Au:N/C:P/I:N/A:N</cvss_vector>{cves}"
            f"<description>{escape(_text(rng, 80))}</description>"
            f"<plugin_name>Synthetic plugin {pid}</plugin_name><risk_factor>Medium</risk_factor>"
            f"<see_also>https://example.com/advisory/{pid}</see_also>"
            f"<solution>{escape(_text(rng, 20))}</solution><synopsis>{escape(_text(rng, 12))}</synopsis>"
        )
        pool.append((pid, sev, rng.choice((22, 80, 443, 3389, 8443, 0)), body))
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" ?>\n<NessusClientData_v2>\n<Policy><policyName>Bench</policyName></Policy>\n'
            '<Report name="bench">\n'
        )
        for h in range(hosts):
            t = start + dt.timedelta(seconds=h * 3)
            ip = f"10.{h // 65536 % 256}.{h // 256 % 256}.{h % 256}"
            out.write(
                f'<ReportHost name="{ip}"><HostProperties>'
                f'<tag name="HOST_END">{(t + dt.timedelta(minutes=20)):%a %b %d %H:%M:%S %Y}</tag>'
                f'<tag name="host-ip">{ip}</tag><tag name="host-fqdn">host{h}.bench.example.com</tag>'
                f'<tag name="operating-system">Linux Kernel 5.15</tag>'
                f'<tag name="HOST_START">{t:%a %b %d %H:%M:%S %Y}</tag></HostProperties>\n'
            )
            for pid, sev, port, body in rng.sample(pool, per_host):
                out.write(
                    f'<ReportItem port="{port}" svc_name="www" protocol="tcp" severity="{sev}" pluginID="{pid}" '
                    f'pluginName="Synthetic plugin {pid}" pluginFamily="General">{body}'
                    f"<plugin_output>{escape(_text(rng, 25))} on {ip}</plugin_output></ReportItem>\n"
                )
                count += 1
            out.write("</ReportHost>\n")
        out.write("</Report>\n</NessusClientData_v2>\n")
    return count


BARE = """
import sys
from lxml import etree
n = 0
for _event, el in etree.iterparse(sys.argv[1], events=("end",), tag="ReportItem", resolve_entities=False,
                                  no_network=True, load_dtd=False):
    n += 1
    el.clear()
    parent = el.getparent()
    while el.getprevious() is not None:
        del parent[0]
print(n)
"""
# The textbook loop: every element reaches Python once (what any parser that reads fields pays).
PLAIN = """
import sys
from lxml import etree
n = 0
for _event, el in etree.iterparse(sys.argv[1], resolve_entities=False, no_network=True, load_dtd=False):
    n += el.tag == "ReportItem"
    el.clear()
print(n)
"""


WRAP = """
import resource, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
took = time.perf_counter() - t0
sys.stderr.write(proc.stderr)
if proc.returncode:
    sys.exit(proc.returncode)
print(took, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(proc.stdout, end="")
"""


# The import as `poam import` runs it, reporting the peak memory of this process and of the
# parser process it forks (ru_maxrss of RUSAGE_CHILDREN is the largest child, here the only one).
IMPORT = """
import json, resource, sys
from pathlib import Path
from poam.services.importer import import_file
from poam.store.db import open_db
result = import_file(open_db(sys.argv[1]), Path(sys.argv[2]))
print(json.dumps({"results": result.results, "informational": result.informational,
                  "items_opened": result.items_opened, "duplicate": result.duplicate,
                  "self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "child_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def measure(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command in its own wrapper: (seconds, peak RSS in MB of that command alone, its stdout)."""
    proc = subprocess.run([sys.executable, "-c", WRAP, *args], capture_output=True, text=True, check=True, env=env)
    first, _, rest = proc.stdout.partition("\n")
    seconds, peak_kb = first.split()
    return float(seconds), int(peak_kb) / 1024, rest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=2000)
    ap.add_argument("--per-host", type=int, default=100)
    ap.add_argument("--keep", action="store_true", help="keep the generated file in bench/data/")
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs of each measure; the fastest counts (the machine's noise only adds)"
    )
    a = ap.parse_args()
    poam = Path(sys.executable).with_name("poam")
    with tempfile.TemporaryDirectory() as tmp:
        folder = HERE / "data" if a.keep else Path(tmp)
        folder.mkdir(exist_ok=True)
        scan = folder / f"bench-{a.hosts}x{a.per_host}.nessus"
        t0 = time.perf_counter()
        items = generate(scan, a.hosts, a.per_host)
        gen = time.perf_counter() - t0
        size = scan.stat().st_size / 1e6
        print(f"file: {scan.name}: {size:.0f} MB, {a.hosts} hosts, {items} results (generated in {gen:.1f} s)")
        runs = max(1, a.repeat)
        bare = [measure([sys.executable, "-c", BARE, str(scan)]) for _ in range(runs)]
        assert all(int(out) == items for _s, _mb, out in bare)
        bare_s, bare_mb = min(r[0] for r in bare), max(r[1] for r in bare)
        plain = [measure([sys.executable, "-c", PLAIN, str(scan)]) for _ in range(runs)]
        assert all(int(out) == items for _s, _mb, out in plain)
        plain_s = min(r[0] for r in plain)
        env = {**os.environ, "POAM_NO_PLUGINS": "1"}
        fulls = []
        for n in range(runs):
            db = Path(tmp) / f"bench-{n}.db"
            full_s, _mb, out = measure([sys.executable, "-c", IMPORT, str(db), str(scan)], env)
            fulls.append((full_s, json.loads(out)))
        full_s, result = min(fulls, key=lambda r: r[0])
        full_mb = max(r["self_kb"] + r["child_kb"] for _s, r in fulls) / 1024
        slowest = max(r[0] for r in fulls)
        dup_s, _mb, out = measure([str(poam), "--db", str(db), "import", str(scan), "--json"], env)
        assert json.loads(out)[0]["duplicate"]
    findings = result["results"] - result["informational"]
    print(f"bare lxml iterparse:   {bare_s:7.2f} s   peak {bare_mb:6.0f} MB   (tag='ReportItem', C-level skip)")
    print(f"plain lxml iterparse:  {plain_s:7.2f} s   (every element's end event reaches Python)")
    print(
        f"full poam import:      {full_s:7.2f} s   peak {full_mb:6.0f} MB   (SQLite, one transaction; "
        f"{result['self_kb'] / 1024:.0f} MB storing + {result['child_kb'] / 1024:.0f} MB parser process)"
    )
    print(f"ratio full/bare:       {full_s / bare_s:7.2f}   (target <= 3; fastest of {runs} runs each)")
    print(f"slowest full import:   {slowest:7.2f} s   (the spread is the machine's noise)")
    print(f"ratio full/plain:      {full_s / plain_s:7.2f}")
    print(
        f"findings stored:       {findings} in {result['items_opened']} items; "
        f"{findings / full_s:,.0f} findings/s, {result['results'] / full_s:,.0f} results/s"
    )
    print(f"re-import same file:   {dup_s:7.2f} s (duplicate, nothing changed)")
    print(f"peak memory of import: {full_mb:.0f} MB, both processes together (target < 200 MB)")


if __name__ == "__main__":
    main()
