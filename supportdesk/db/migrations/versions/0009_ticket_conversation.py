"""ticket conversation: messages (customer, reply, note) and the ticket's assignee

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString
T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("assignee", S(length=64), nullable=True))
    op.create_index("ix_tickets_assignee", "tickets", ["assignee"])
    op.create_table(
        "ticket_messages",
        sa.Column("message_id", S(length=64), nullable=False),
        sa.Column("ticket_id", S(length=64), nullable=False),
        sa.Column("kind", S(length=16), nullable=False),
        sa.Column("author", S(length=64), nullable=False),
        sa.Column("body", S(), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.Column("idempotency_key", S(length=200), nullable=False),
        sa.Column("macro", S(length=64), nullable=True),
        sa.Column("sent_at", T(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.ticket_id"]),
        sa.PrimaryKeyConstraint("message_id"),
        sa.UniqueConstraint("idempotency_key"),
        sa.CheckConstraint("kind IN ('customer', 'reply', 'note')", name="ck_ticket_messages_kind"),
    )
    op.create_index("ix_ticket_messages_ticket", "ticket_messages", ["ticket_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_ticket_messages_ticket", table_name="ticket_messages")
    op.drop_table("ticket_messages")
    op.drop_index("ix_tickets_assignee", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("assignee")
