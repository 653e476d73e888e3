"""identity from the connection, authority in the database, policy as versioned rows

On PostgreSQL, triggers check every ledger entry, audit record, idempotency key and status change against the
connected role (`session_user`): a row must name the role that writes it as its actor, and lead-only actions
(diamond clawbacks, credits over the limit, suspending or reinstating an account) need membership of
`supportdesk_lead`. The database owner (who runs migrations and imports) and superusers pass. The roles and grants
themselves are made by `supportdesk db roles` (they are cluster-wide, not part of one database's schema).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

DENY = "USING ERRCODE = 'insufficient_privilege'"

FUNCTIONS = [
    # The owner of the tables (who migrates and imports) and superusers are administrators.
    """CREATE FUNCTION supportdesk_is_admin() RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false)
            OR pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = 'ledger_entries'::regclass),
                           'MEMBER') $$""",
    # CASE, not AND: pg_has_role fails on a role that does not exist, and AND does not promise an order.
    """CREATE FUNCTION supportdesk_is_lead() RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT supportdesk_is_admin() OR CASE
            WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'supportdesk_lead')
            THEN pg_has_role(session_user, 'supportdesk_lead', 'MEMBER') ELSE false END $$""",
    """CREATE FUNCTION supportdesk_credit_limit() RETURNS bigint LANGUAGE sql STABLE AS $$
        SELECT COALESCE((SELECT (policy::jsonb #>> '{roles,lead_only_credit_over}')::bigint
                         FROM policy_versions ORDER BY version DESC LIMIT 1), 5000) $$""",
    f"""CREATE FUNCTION supportdesk_guard_actor() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NOT supportdesk_is_admin() AND NEW.actor IS DISTINCT FROM session_user THEN
            RAISE EXCEPTION 'supportdesk: you act as the role you connect as (%), not as %', session_user,
              NEW.actor {DENY};
          END IF;
          RETURN NEW;
        END $$""",
    f"""CREATE FUNCTION supportdesk_guard_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF supportdesk_is_lead() THEN RETURN NEW; END IF;
          IF NEW.asset = 'diamond' AND NEW.kind = 'refund_clawback' THEN
            RAISE EXCEPTION 'supportdesk: clawing back diamonds needs the lead role; % is an agent',
              session_user {DENY};
          END IF;
          IF NEW.asset = 'coin' AND NEW.kind IN ('grant', 'adjustment')
             AND NEW.amount > supportdesk_credit_limit() THEN
            RAISE EXCEPTION 'supportdesk: a credit of % coins needs the lead role (agents may credit up to %)',
              NEW.amount, supportdesk_credit_limit() {DENY};
          END IF;
          RETURN NEW;
        END $$""",
    f"""CREATE FUNCTION supportdesk_guard_status() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.status IS DISTINCT FROM OLD.status
             AND (NEW.status IN ('suspended', 'banned') OR OLD.status IN ('suspended', 'banned'))
             AND NOT supportdesk_is_lead() THEN
            RAISE EXCEPTION 'supportdesk: setting an account % needs the lead role; % is an agent', NEW.status,
              session_user {DENY};
          END IF;
          RETURN NEW;
        END $$""",
]

TRIGGERS = [
    ("ledger_entries", "actor", "BEFORE INSERT", "supportdesk_guard_actor"),
    ("audit_log", "actor", "BEFORE INSERT", "supportdesk_guard_actor"),
    ("idempotency_keys", "actor", "BEFORE INSERT", "supportdesk_guard_actor"),
    ("ledger_entries", "lead", "BEFORE INSERT", "supportdesk_guard_ledger"),
    ("accounts", "status", "BEFORE UPDATE", "supportdesk_guard_status"),
]


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
    )
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("policy_version", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in FUNCTIONS:
        op.execute(statement)
    for table, name, when, function in TRIGGERS:
        op.execute(f"CREATE TRIGGER {table}_guard_{name} {when} ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {function}()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, name, _, _ in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_guard_{name} ON {table}")
        for function in ("guard_status", "guard_ledger", "guard_actor", "credit_limit", "is_lead", "is_admin"):
            op.execute(f"DROP FUNCTION IF EXISTS supportdesk_{function}()")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("policy_version")
    op.drop_table("policy_versions")
