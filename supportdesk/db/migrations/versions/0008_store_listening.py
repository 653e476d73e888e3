"""sync cursors, store absences, store notifications, consumption requests

Revision ID: 0008
Revises: 0006
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString
T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "sync_cursors",
        sa.Column("store", S(length=8), nullable=False),
        sa.Column("scope", S(length=64), nullable=False),
        sa.Column("synced_until", T(), nullable=True),
        sa.Column("last_run_at", T(), nullable=False),
        sa.Column("status", S(length=16), nullable=False),
        sa.Column("error", S(), nullable=True),
        sa.PrimaryKeyConstraint("store", "scope"),
    )
    op.create_table(
        "store_absences",
        sa.Column("store", S(length=8), nullable=False),
        sa.Column("store_transaction_id", S(length=128), nullable=False),
        sa.Column("answer", S(), nullable=False),
        sa.Column("checked_at", T(), nullable=False),
        sa.PrimaryKeyConstraint("store", "store_transaction_id"),
    )
    op.create_table(
        "store_notifications",
        sa.Column("source", S(length=8), nullable=False),
        sa.Column("notification_id", S(length=128), nullable=False),
        sa.Column("kind", S(length=64), nullable=False),
        sa.Column("store_transaction_id", S(length=128), nullable=True),
        sa.Column("received_at", T(), nullable=False),
        sa.PrimaryKeyConstraint("source", "notification_id"),
    )
    op.create_table(
        "consumption_requests",
        sa.Column("store_transaction_id", S(length=128), nullable=False),
        sa.Column("ticket_id", S(length=64), nullable=False),
        sa.Column("account_id", S(length=64), nullable=True),
        sa.Column("requested_at", T(), nullable=False),
        sa.Column("answer_due_at", T(), nullable=False),
        sa.PrimaryKeyConstraint("store_transaction_id"),
    )
    op.create_index("ix_consumption_requests_ticket_id", "consumption_requests", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_consumption_requests_ticket_id", table_name="consumption_requests")
    for table in ("consumption_requests", "store_notifications", "store_absences", "sync_cursors"):
        op.drop_table(table)
