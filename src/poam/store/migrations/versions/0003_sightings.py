"""sightings: every finding as every scan reported it (issue 7: imports in any order)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 19:30:00

A database from before gets what its findings and coverage still tell (see `BACKFILL`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BACKFILL = (
    # each finding's first sighting
    "INSERT INTO sightings (system_id, scan_id, weakness_id, asset_id, tool, port, protocol, path, status, "
    "observed_at, since) SELECT system_id, first_scan_id, weakness_id, asset_id, tool, port, protocol, path, "
    "'open', first_seen, NULL FROM findings WHERE first_scan_id IS NOT NULL",
    # a sighting by every scan of its tool that covered its asset while it was open: it stayed open,
    # so each of them saw it
    "INSERT INTO sightings (system_id, scan_id, weakness_id, asset_id, tool, port, protocol, path, status, "
    "observed_at, since) SELECT f.system_id, c.scan_id, f.weakness_id, f.asset_id, f.tool, f.port, f.protocol, "
    "f.path, 'open', c.seen_at, NULL FROM findings f JOIN scan_assets c ON c.asset_id = f.asset_id "
    "AND c.tool = f.tool WHERE c.seen_at > f.first_seen AND c.seen_at <= f.last_seen",
    # its last, when the last scan to see it is neither its first nor one of those
    "INSERT INTO sightings (system_id, scan_id, weakness_id, asset_id, tool, port, protocol, path, status, "
    "observed_at, since) SELECT system_id, last_scan_id, weakness_id, asset_id, tool, port, protocol, path, "
    "'open', last_seen, NULL FROM findings WHERE last_scan_id IS NOT NULL "
    "AND (first_scan_id IS NULL OR last_scan_id <> first_scan_id OR last_seen <> first_seen) "
    "AND (fixed_scan_id IS NULL OR last_scan_id <> fixed_scan_id) "  # an explicit fix moves last_scan_id
    "AND NOT EXISTS (SELECT 1 FROM scan_assets c WHERE c.scan_id = findings.last_scan_id "
    "AND c.asset_id = findings.asset_id AND c.tool = findings.tool AND c.seen_at > findings.first_seen "
    "AND c.seen_at <= findings.last_seen)",
    # its fix, as a fixed sighting of the scan that showed it: for a scan that closes by absence the
    # same as its coverage; for one that cannot (a record left out, a cut CSV, an explicit fix) the
    # only trace of the fix
    "INSERT INTO sightings (system_id, scan_id, weakness_id, asset_id, tool, port, protocol, path, status, "
    "observed_at, since) SELECT system_id, fixed_scan_id, weakness_id, asset_id, tool, port, protocol, path, "
    "'fixed', fixed_at, NULL FROM findings WHERE status = 'fixed' "
    "AND fixed_scan_id IS NOT NULL AND fixed_at IS NOT NULL",
)
"""What a database from before keeps of its history: each finding's first and last sightings, the
scans that covered it while it was open, and explicit fixes. Not known: sightings set aside, and a
finding that reopened in its open item counts as seen by the scans in between."""


def upgrade() -> None:
    op.create_table(
        "sightings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("weakness_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("tool", sa.String(length=200), nullable=False),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("protocol", sa.String(length=20), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("observed_at", sa.DateTime(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name=op.f("fk_sightings_asset_id_assets")),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], name=op.f("fk_sightings_scan_id_scans"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["system_id"], ["systems.id"], name=op.f("fk_sightings_system_id_systems"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["weakness_id"], ["weaknesses.id"], name=op.f("fk_sightings_weakness_id_weaknesses")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings")),
    )
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.create_index("ix_sightings_weakness", ["weakness_id"], unique=False)
        batch_op.create_index("ix_sightings_scan_tool", ["scan_id", "tool"], unique=False)
        batch_op.create_index("ix_sightings_system_tool_time", ["system_id", "tool", "observed_at"], unique=False)
    for statement in BACKFILL:
        op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.drop_index("ix_sightings_system_tool_time")
        batch_op.drop_index("ix_sightings_scan_tool")
        batch_op.drop_index("ix_sightings_weakness")
    op.drop_table("sightings")
