"""Benchmark: large synthetic Trivy JSON and Nessus CSV files.

For each format it prints the parse-only time (the parser's records consumed, nothing stored),
the full import time into a fresh SQLite database, their ratio, findings per second and peak
memory; then two re-imports: the identical file (recognised by its SHA-256, nothing changes) and
the same findings written again with a later scan date (every finding is seen again: the update
path; it must change no item). Run with `.venv/bin/python bench/bench_formats.py`.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_import import WORDS, measure  # noqa: E402


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def trivy(path: Path, findings: int, when: dt.datetime, seed: int = 11) -> int:
    """A Trivy (schema 2) image report with `findings` vulnerabilities over many packages."""
    rng = random.Random(seed)
    vulns = [f"CVE-20{rng.randint(10, 25)}-{n:05d}" for n in range(3000)]
    results = []
    per_target = 2000
    count = 0
    for t in range(max(1, findings // per_target)):
        items = []
        for k in range(per_target):
            vid = vulns[(t * 7 + k) % len(vulns)]
            items.append(
                {
                    "VulnerabilityID": vid,
                    "PkgName": f"pkg{k % 700}",
                    "InstalledVersion": "1.0.0",
                    "FixedVersion": "1.0.1",
                    "Severity": rng.choice(["LOW", "MEDIUM", "HIGH", "CRITICAL"]),
                    "Title": _text(rng, 6),
                    "Description": _text(rng, 60),
                    "CVSS": {"nvd": {"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "V3Score": 9.8}},
                    "PrimaryURL": f"https://avd.aquasec.com/nvd/{vid.lower()}",
                }
            )
            count += 1
        results.append({"Target": f"layer{t}/lib", "Class": "lang-pkgs", "Type": "jar", "Vulnerabilities": items})
    doc = {
        "SchemaVersion": 2,
        "CreatedAt": when.isoformat() + "Z",
        "ArtifactName": "registry.example.com/acme/bench:1.0",
        "ArtifactType": "container_image",
        "Metadata": {"RepoTags": ["registry.example.com/acme/bench:1.0"]},
        "Results": results,
    }
    path.write_text(json.dumps(doc))
    return count


def nessus_csv(path: Path, hosts: int, per_host: int, seed: int = 13) -> int:
    """A Nessus CSV export (with informational rows, so hosts count as covered)."""
    rng = random.Random(seed)
    header = [
        "Plugin ID",
        "CVE",
        "CVSS v2.0 Base Score",
        "Risk",
        "Host",
        "Protocol",
        "Port",
        "Name",
        "Synopsis",
        "Description",
        "Solution",
        "See Also",
        "Plugin Output",
    ]
    count = 0
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for h in range(hosts):
            host = f"10.{h // 65536 % 256}.{h // 256 % 256}.{h % 256}"
            w.writerow(
                [
                    "19506",
                    "",
                    "",
                    "None",
                    host,
                    "tcp",
                    "0",
                    "Nessus Scan Information",
                    "info",
                    "info",
                    "n/a",
                    "",
                    "scan info",
                ]
            )
            count += 1
            for p in rng.sample(range(100000, 101500), per_host):
                w.writerow(
                    [
                        str(p),
                        f"CVE-2024-{p}",
                        "5.0",
                        rng.choice(["Low", "Medium", "High", "Critical"]),
                        host,
                        "tcp",
                        str(rng.choice([22, 80, 443])),
                        f"Synthetic plugin {p}",
                        _text(rng, 8),
                        _text(rng, 60),
                        _text(rng, 15),
                        "https://example.com",
                        _text(rng, 20),
                    ]
                )
                count += 1
    return count


PARSE = """
import sys, time
from pathlib import Path
from poam.parsers.base import ParseContext
from poam.parsers.registry import detect
path = Path(sys.argv[1])
with path.open("rb") as f:
    parser = detect(f, str(path))
    n = sum(1 for _ in parser.parse(f, ParseContext(str(path))))
print(n)
"""

IMPORT = """
import json, resource, sys
from pathlib import Path
from poam.services.importer import import_file
from poam.store.db import open_db
r = import_file(open_db(sys.argv[1]), Path(sys.argv[2]))
print(json.dumps({"results": r.results, "informational": r.informational, "new": r.new_findings,
                  "fixed": r.fixed_findings, "reopened": r.reopened_findings, "opened": r.items_opened,
                  "closed": r.items_closed, "duplicate": r.duplicate, "format": r.format,
                  "self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "child_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def run(label: str, first: Path, second: Path, tmp: Path) -> None:
    env = {**os.environ, "POAM_NO_PLUGINS": "1"}
    size = first.stat().st_size / 1e6
    parse_s, parse_mb, out = measure([sys.executable, "-c", PARSE, str(first)], env)
    db = tmp / f"{label}.db"
    full_s, _mb, out = measure([sys.executable, "-c", IMPORT, str(db), str(first)], env)
    r = json.loads(out)
    peak = (r["self_kb"] + r["child_kb"]) / 1024
    findings = r["results"] - r["informational"]
    dup_s, _mb, out = measure([sys.executable, "-c", IMPORT, str(db), str(first)], env)
    dup = json.loads(out)
    again_s, _mb, out = measure([sys.executable, "-c", IMPORT, str(db), str(second)], env)
    again = json.loads(out)
    changes = again["new"] + again["fixed"] + again["reopened"] + again["opened"] + again["closed"]
    print(f"{label} ({r['format']}): {size:.0f} MB, {r['results']} results, {findings} findings, {r['opened']} items")
    print(f"  parse only:          {parse_s:7.2f} s   peak {parse_mb:5.0f} MB")
    print(f"  full import:         {full_s:7.2f} s   peak {peak:5.0f} MB (storing + parser process)")
    print(f"  ratio full/parse:    {full_s / parse_s:7.2f}   {findings / full_s:,.0f} findings/s")
    print(f"  identical file:      {dup_s:7.2f} s   duplicate={dup['duplicate']} (nothing changed)")
    print(f"  same findings again: {again_s:7.2f} s   changes={changes} (new, fixed, reopened, items)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--findings", type=int, default=200_000)
    a = ap.parse_args()
    jan, feb = dt.datetime(2026, 1, 5, 8, 0), dt.datetime(2026, 2, 5, 8, 0)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        trivy(tmp / "t1.json", a.findings, jan)
        trivy(tmp / "t2.json", a.findings, feb)
        run("Trivy JSON", tmp / "t1.json", tmp / "t2.json", tmp)
        per_host = 100
        nessus_csv(tmp / "n1.csv", a.findings // per_host, per_host)
        text = (tmp / "n1.csv").read_text()
        (tmp / "n2.csv").write_text(text + "\n")  # the same findings, a different file
        run("Nessus CSV", tmp / "n1.csv", tmp / "n2.csv", tmp)


if __name__ == "__main__":
    main()
