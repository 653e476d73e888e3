"""indexes: the review queue's keyset pages and counts, and sync's Apple account-token match in any case

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_accounts_apple_token_lower ON accounts (lower(apple_app_account_token))")
    op.execute("CREATE INDEX ix_review_flags_queue ON review_flags (status, score DESC, flag_id)")
    op.execute("CREATE INDEX ix_review_flags_rule_queue ON review_flags (status, rule, score DESC, flag_id)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_review_flags_rule_queue")
    op.execute("DROP INDEX ix_review_flags_queue")
    op.execute("DROP INDEX ix_accounts_apple_token_lower")
