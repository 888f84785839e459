#!/bin/sh
# The main job of `make run`: import the sample scans into a fresh SQLite database and write
# the deliverables into the output folder.
set -eu
BIN=${1:-.venv/bin}
OUT=${2:-out}
mkdir -p "$OUT"
DB="$OUT/poam.db"
rm -f "$DB" "$DB-wal" "$DB-shm"
POAM="$BIN/poam --db $DB"
$POAM system add "Example Cloud Service" --impact moderate --org "Example CSP, Inc." \
    --poc "Jane Doe, ISSO - Example CSP" --service "Example Service"
$POAM kev load samples/kev-sample.json
$POAM import samples/nessus-2025-09.nessus samples/pentest-2025-09.csv
$POAM import samples/nessus-2025-10.nessus
$POAM export fedramp "$OUT/poam-fedramp.xlsx" --date 2025-10-31
$POAM export oscal "$OUT/poam-oscal.json"
$POAM summary --date 2025-10-31 --out "$OUT/summary.txt"
# The same items under the rules in force from 2026-12-07: FedRAMP CR26, Class C, highest priority first.
$POAM system set "Example Cloud Service" --policy fedramp-cr26 --class c
$POAM items --sort priority --json > "$OUT/priority.json"
# A CR26 provider's December: evaluate, accept one, then the VER report and the month's package.
$POAM system set "Example Cloud Service" --cpo-uri https://example.com/example-cloud-service/cpo
$POAM evaluate V-5 --irv yes --lev yes --pain 3 --rationale "Internet-facing HTTP/2 endpoint"
$POAM evaluate V-9 --irv no --lev yes --pain 2 --rationale "Login form sits behind the WAF rate limits"
$POAM deviation request V-9 --type accepted --rationale "Rate limiting is enforced at the WAF" --user jane.doe
$POAM deviation approve V-9 --type accepted --user alex.ao
MONTH=$(date -u +%Y-%m)
$POAM export vdr "$OUT/vdr.json" --from "$MONTH-01" --to "$(date -u +%Y-%m-%d)"
$POAM validate "$OUT/vdr.json"
rm -rf "$OUT/monthly"
$POAM report monthly --month "$MONTH" "$OUT/monthly"
echo
echo "Done. The deliverables are in $OUT/:"
echo "  $OUT/poam-fedramp.xlsx   FedRAMP POA&M workbook"
echo "  $OUT/poam-oscal.json     OSCAL 1.1.2 POA&M"
echo "  $OUT/summary.txt         text summary"
echo "  $OUT/priority.json       open items under FedRAMP CR26 (Class C), highest priority first"
echo "  $OUT/vdr.json            FedRAMP Vulnerability Detail Report for this month so far"
echo "  $OUT/monthly/            the month's package: VER reports, VDR activity report, inventory, executive summary"
echo "  $OUT/poam.db             the SQLite database (try: $BIN/poam --db $DB items --status all)"
