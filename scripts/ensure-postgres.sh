#!/bin/sh
# Make sure the PostgreSQL the tests use (127.0.0.1:5432, trust auth, database `test`) is up.
# On these machines it is installed and normally running; start it if it stopped.
# Set POAM_TEST_PG_URL to point the tests at another server instead.
if [ -n "${POAM_TEST_PG_URL:-}" ]; then exit 0; fi
if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then exit 0; fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for v in $(ls /etc/postgresql); do
        pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || true
    done
    i=0
    while [ $i -lt 20 ]; do
        pg_isready -q -h 127.0.0.1 -p 5432 && exit 0
        i=$((i + 1)); sleep 0.5
    done
fi
echo "ensure-postgres: PostgreSQL is not reachable on 127.0.0.1:5432; its tests will skip (or fail when CI is set)" >&2
exit 0
