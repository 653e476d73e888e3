"""help-desk ticket statuses; handle prefix search on its index on PostgreSQL

Revision ID: 0005
Revises: 0003

Tickets: one status set (new, open, pending, on-hold, solved, closed). The app used to resolve to `resolved`, and
other help desks' words were imported as they were: map them onto the set.

PostgreSQL: `lower(handle) LIKE 'x%'` can use a btree index only under the C collation or with a pattern
operator class; rebuild ix_accounts_handle_lower with text_pattern_ops (it serves equality too).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

# Kept here, not imported: a migration must not change when the app's vocabulary does.
ALIASES = {
    "resolved": "solved", "done": "solved", "completed": "solved", "fixed": "solved",
    "hold": "on-hold", "onhold": "on-hold", "on_hold": "on-hold", "on hold": "on-hold", "waiting": "pending",
    "reopened": "open", "in-progress": "open", "in_progress": "open", "active": "open", "archived": "closed",
}
STATUSES = ("new", "open", "pending", "on-hold", "solved", "closed")


def upgrade() -> None:
    tickets = sa.table("tickets", sa.column("status", sa.String))
    for word, status in ALIASES.items():
        op.execute(tickets.update().where(sa.func.lower(tickets.c.status) == word).values(status=status))
    for status in STATUSES:  # Solved, OPEN: the same status
        op.execute(tickets.update().where(sa.func.lower(tickets.c.status) == status,
                                          tickets.c.status != status).values(status=status))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_accounts_handle_lower")
        # unique in any case, as migration 0003 made it (import refuses case twins; the database too)
        op.execute("CREATE UNIQUE INDEX ix_accounts_handle_lower ON accounts (lower(handle) text_pattern_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_accounts_handle_lower")
        op.execute("CREATE UNIQUE INDEX ix_accounts_handle_lower ON accounts (lower(handle))")
    # Statuses stay mapped: the versions before this one list solved tickets too.
