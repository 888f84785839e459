"""Threat data loaded from files and asset exposure (issue 8): kev_entries.forensic_triage,
assets.exposure and criticality, systems' public rules, epss_scores, ssvc_decisions,
intel_documents and intel_sources

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("systems") as batch:
        batch.add_column(sa.Column("public_cidrs", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("public_domains", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("exposure", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("criticality", sa.String(length=10), nullable=True))
    with op.batch_alter_table("kev_entries") as batch:
        batch.add_column(sa.Column("forensic_triage", sa.Boolean(), nullable=True))
    op.create_table(
        "epss_scores",
        sa.Column("cve", sa.String(length=40), nullable=False),
        sa.Column("epss", sa.Float(), nullable=False),
        sa.Column("percentile", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("cve", name=op.f("pk_epss_scores")),
    )
    op.create_table(
        "ssvc_decisions",
        sa.Column("cve", sa.String(length=40), nullable=False),
        sa.Column("exploitation", sa.String(length=10), nullable=True),
        sa.Column("automatable", sa.String(length=10), nullable=True),
        sa.Column("technical_impact", sa.String(length=10), nullable=True),
        sa.Column("assessed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("cve", name=op.f("pk_ssvc_decisions")),
    )
    op.create_table(
        "intel_documents",
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_intel_documents")),
    )
    op.create_table(
        "intel_sources",
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=True),
        sa.Column("dated", sa.DateTime(), nullable=True),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=1000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_intel_sources")),
    )


def downgrade() -> None:
    with op.batch_alter_table("systems") as batch:
        batch.drop_column("public_domains")
        batch.drop_column("public_cidrs")
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("criticality")
        batch.drop_column("exposure")
    with op.batch_alter_table("kev_entries") as batch:
        batch.drop_column("forensic_triage")
    op.drop_table("intel_sources")
    op.drop_table("ssvc_decisions")
    op.drop_table("intel_documents")
    op.drop_table("epss_scores")
