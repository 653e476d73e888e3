"""only a lead may override the refund policy

A lead's override of a refund denial (the window, the refund limit) is written as an audit record of its own,
`refund.override`, in the same transaction as the refund request; on PostgreSQL this trigger refuses that record
to anyone who is not a member of `supportdesk_lead` (or an administrator), as 0006's guards refuse diamond
clawbacks and large credits, so a modified client cannot override as an agent. SQLite: nothing to do.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

GUARD = """CREATE FUNCTION supportdesk_guard_override() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.action = 'refund.override' AND NOT supportdesk_is_lead() THEN
        RAISE EXCEPTION 'supportdesk: overriding the refund policy needs the lead role; % is an agent',
          session_user USING ERRCODE = 'insufficient_privilege';
      END IF;
      RETURN NEW;
    END $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(GUARD)
    op.execute("CREATE TRIGGER audit_log_guard_override BEFORE INSERT ON audit_log "
               "FOR EACH ROW EXECUTE FUNCTION supportdesk_guard_override()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_log_guard_override ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS supportdesk_guard_override()")
