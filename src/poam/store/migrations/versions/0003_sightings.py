"""sightings: every finding as every scan reported it (issue 7: imports in any order)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 19:30:00

A database from before keeps what its findings still tell: each finding's first and last sighting,
and an explicit fix (a fix by a scan that did not cover the asset). Sightings in between were not
kept then and are not invented.
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
    # its last, when another
    "INSERT INTO sightings (system_id, scan_id, weakness_id, asset_id, tool, port, protocol, path, status, "
    "observed_at, since) SELECT system_id, last_scan_id, weakness_id, asset_id, tool, port, protocol, path, "
    "'open', last_seen, NULL FROM findings WHERE last_scan_id IS NOT NULL "
    "AND (first_scan_id IS NULL OR last_scan_id <> first_scan_id OR last_seen <> first_seen)",
    # an explicit fix: by a scan that did not cover the asset for the tool
    "INSERT INTO sightings (system_id, scan_id, weakness_id, asset_id, tool, port, protocol, path, status, "
    "observed_at, since) SELECT system_id, fixed_scan_id, weakness_id, asset_id, tool, port, protocol, path, "
    "'fixed', fixed_at, NULL FROM findings WHERE status = 'fixed' "
    "AND fixed_scan_id IS NOT NULL AND fixed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM scan_assets "
    "WHERE scan_assets.scan_id = findings.fixed_scan_id AND scan_assets.asset_id = findings.asset_id "
    "AND scan_assets.tool = findings.tool)",
)


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
