"""case-insensitive handle and email lookup

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_accounts_handle_lower ON accounts (lower(handle))")
    op.execute("CREATE INDEX ix_accounts_email_lower ON accounts (lower(email))")


def downgrade() -> None:
    op.execute("DROP INDEX ix_accounts_email_lower")
    op.execute("DROP INDEX ix_accounts_handle_lower")
