"""handles unique whatever their case

Revision ID: 0003
Revises: 0002
"""

from alembic import op
from sqlalchemy import text

from supportdesk.errors import Conflict

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    clashes = op.get_bind().execute(text(
        "SELECT lower(handle), count(*) FROM accounts GROUP BY lower(handle) HAVING count(*) > 1 LIMIT 5"
    )).all()
    if clashes:
        shown = ", ".join(f"{h} ({n} accounts)" for h, n in clashes)
        raise Conflict(f"handles that differ only in case must be renamed before this upgrade: {shown}")
    # Replaces 0002's plain lookup index: the unique one serves the same case-insensitive lookups.
    op.execute("DROP INDEX ix_accounts_handle_lower")
    op.execute("CREATE UNIQUE INDEX ix_accounts_handle_lower ON accounts (lower(handle))")


def downgrade() -> None:
    op.execute("DROP INDEX ix_accounts_handle_lower")
    op.execute("CREATE INDEX ix_accounts_handle_lower ON accounts (lower(handle))")
