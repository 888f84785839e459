"""Rule sets per system and CR26 evaluations (issue 8): systems.fedramp_class, fallback_policy and
policy_table; items' current evaluation, disposition and computed deadlines; evaluations; deviations

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("systems") as batch:
        batch.add_column(sa.Column("fedramp_class", sa.String(length=1), nullable=True))
        batch.add_column(sa.Column("fallback_policy", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("policy_table", sa.Text(), nullable=True))
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("pain", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("irv", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("lev", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("evaluated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("disposition", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("disposition_rationale", sa.Text(), nullable=True))
        batch.add_column(sa.Column("deadlines", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("flags", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("next_due", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("forensic_triage", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("rules_stale", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("irv", sa.Boolean(), nullable=False),
        sa.Column("lev", sa.Boolean(), nullable=False),
        sa.Column("pain", sa.Integer(), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("evaluator", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_evaluations_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
    )
    op.create_index("ix_evaluations_item", "evaluations", ["item_id"])
    op.create_table(
        "deviations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("requested_risk", sa.String(length=16), nullable=True),
        sa.Column("requester", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("approver", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_deviations_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deviations")),
    )
    op.create_index("ix_deviations_item", "deviations", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_deviations_item", table_name="deviations")
    op.drop_table("deviations")
    op.drop_index("ix_evaluations_item", table_name="evaluations")
    op.drop_table("evaluations")
    with op.batch_alter_table("items") as batch:
        for name in (
            "rules_stale",
            "forensic_triage",
            "next_due",
            "flags",
            "deadlines",
            "disposition_rationale",
            "disposition",
            "evaluated_at",
            "lev",
            "irv",
            "pain",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("systems") as batch:
        batch.drop_column("policy_table")
        batch.drop_column("fallback_policy")
        batch.drop_column("fedramp_class")
