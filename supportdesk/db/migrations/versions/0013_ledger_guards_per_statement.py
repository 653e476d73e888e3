"""ledger guards once per statement, over the inserted rows

0006's guards on `ledger_entries` (the actor is the connected role; a diamond clawback, or a coin grant or
adjustment over the policy's limit, needs `supportdesk_lead`) ran as plpgsql for every inserted row, and each
call asked `pg_roles` who the session is: a 100,000-entry `COPY` took 16 s with them and under 1 s without. They
are now `AFTER INSERT ... FOR EACH STATEMENT` triggers over the statement's new rows (`REFERENCING NEW TABLE`):
who the session is is asked once, the rows are checked set-wise, and any violating row fails the whole statement
with the same message and SQLSTATE as before (nothing of it is written). Neither guard fills a column, so
neither needs `BEFORE`. The ledger stays append-only (0001's `BEFORE UPDATE OR DELETE` and `TRUNCATE` triggers are
untouched), as do the per-row actor guards of `audit_log` and `idempotency_keys` (one row per action).

0006's `supportdesk_guard_ledger()` is kept (0006's downgrade drops it), so the downgrade re-attaches the per-row
triggers. SQLite: nothing to do (it has no roles).

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

DENY = "USING ERRCODE = 'insufficient_privilege'"

# Messages as 0006's, naming the first violating row found.
FUNCTIONS = [
    f"""CREATE FUNCTION supportdesk_guard_actor_rows() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE other text;
        BEGIN
          IF supportdesk_is_admin() THEN RETURN NULL; END IF;
          SELECT actor INTO other FROM new_rows WHERE actor IS DISTINCT FROM session_user LIMIT 1;
          IF FOUND THEN
            RAISE EXCEPTION 'supportdesk: you act as the role you connect as (%), not as %', session_user,
              other {DENY};
          END IF;
          RETURN NULL;
        END $$""",
    f"""CREATE FUNCTION supportdesk_guard_ledger_rows() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE credit_limit bigint; over bigint;
        BEGIN
          IF supportdesk_is_lead() THEN RETURN NULL; END IF;
          IF EXISTS (SELECT 1 FROM new_rows WHERE asset = 'diamond' AND kind = 'refund_clawback') THEN
            RAISE EXCEPTION 'supportdesk: clawing back diamonds needs the lead role; % is an agent',
              session_user {DENY};
          END IF;
          credit_limit := supportdesk_credit_limit();
          SELECT amount INTO over FROM new_rows
            WHERE asset = 'coin' AND kind IN ('grant', 'adjustment') AND amount > credit_limit LIMIT 1;
          IF FOUND THEN
            RAISE EXCEPTION 'supportdesk: a credit of % coins needs the lead role (agents may credit up to %)',
              over, credit_limit {DENY};
          END IF;
          RETURN NULL;
        END $$""",
]

# (trigger name, the statement-level function, 0006's row-level function)
GUARDS = [
    ("ledger_entries_guard_actor", "supportdesk_guard_actor_rows", "supportdesk_guard_actor"),
    ("ledger_entries_guard_lead", "supportdesk_guard_ledger_rows", "supportdesk_guard_ledger"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in FUNCTIONS:
        op.execute(statement)
    for name, rows_function, _ in GUARDS:
        op.execute(f"DROP TRIGGER {name} ON ledger_entries")
        op.execute(f"CREATE TRIGGER {name} AFTER INSERT ON ledger_entries REFERENCING NEW TABLE AS new_rows "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {rows_function}()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, rows_function, row_function in GUARDS:
        op.execute(f"DROP TRIGGER {name} ON ledger_entries")
        op.execute(f"DROP FUNCTION {rows_function}()")
        op.execute(f"CREATE TRIGGER {name} BEFORE INSERT ON ledger_entries "
                   f"FOR EACH ROW EXECUTE FUNCTION {row_function}()")
