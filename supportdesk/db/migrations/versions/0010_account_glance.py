"""the account at a glance: cashout holds with a reason, lead-only release of a review hold, history indexes

Cashouts get the last status change by support (reason, who, when) and the review flag that caused a hold. On
PostgreSQL a trigger refuses, for anyone but a lead, moving a cashout out of a hold a review flag caused (release or
reject) or unlinking the flag, and for anyone but the owner, changing a paid or rejected cashout.

Indexes for opening a long account: the ledger newest first (account_id, seq); the balance sum read from the index
alone (amount added to the (account_id, asset, seq) index, which the refund path orders by); gift events by sender
and by creator, each with the time the story orders by (they replace the single-column indexes).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

DENY = "USING ERRCODE = 'insufficient_privilege'"

GUARD = f"""CREATE FUNCTION supportdesk_guard_cashout() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF supportdesk_is_admin() THEN RETURN NEW; END IF;
      IF OLD.status IN ('paid', 'rejected') AND NEW.status IS DISTINCT FROM OLD.status THEN
        RAISE EXCEPTION 'supportdesk: cashout % is %; it cannot change any more', OLD.cashout_id, OLD.status {DENY};
      END IF;
      IF OLD.status = 'held' AND OLD.hold_flag_id IS NOT NULL AND NOT supportdesk_is_lead()
         AND (NEW.status IS DISTINCT FROM OLD.status OR NEW.hold_flag_id IS DISTINCT FROM OLD.hold_flag_id) THEN
        RAISE EXCEPTION 'supportdesk: cashout % is held by review flag %; lifting that hold needs the lead role; '
          '% is an agent', OLD.cashout_id, OLD.hold_flag_id, session_user {DENY};
      END IF;
      IF NEW.status_by IS DISTINCT FROM OLD.status_by AND NEW.status_by IS DISTINCT FROM session_user THEN
        RAISE EXCEPTION 'supportdesk: you act as the role you connect as (%), not as %', session_user,
          NEW.status_by {DENY};
      END IF;
      RETURN NEW;
    END $$"""


def upgrade() -> None:
    S = sqlmodel.sql.sqltypes.AutoString
    with op.batch_alter_table("cashouts") as batch:
        batch.add_column(sa.Column("status_reason", S(), nullable=True))
        batch.add_column(sa.Column("status_by", S(length=64), nullable=True))
        batch.add_column(sa.Column("status_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("hold_flag_id", S(length=128), nullable=True))
    _backfill_review_holds()
    op.create_index("ix_ledger_account_seq", "ledger_entries", ["account_id", "seq"])
    op.create_index("ix_ledger_account_asset_amount", "ledger_entries", ["account_id", "asset", "seq", "amount"])
    op.drop_index("ix_ledger_account_asset", table_name="ledger_entries")
    op.create_index("ix_gift_events_sender_at", "gift_events", ["sender_id", "at"])
    op.create_index("ix_gift_events_creator_at", "gift_events", ["creator_id", "at"])
    op.drop_index("ix_gift_events_sender_id", table_name="gift_events")
    op.drop_index("ix_gift_events_creator_id", table_name="gift_events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(GUARD)
        op.execute("CREATE TRIGGER cashouts_guard_hold BEFORE UPDATE ON cashouts "
                   "FOR EACH ROW EXECUTE FUNCTION supportdesk_guard_cashout()")


def _backfill_review_holds() -> None:
    """Cashouts a review decision held before this revision: their audit record's key is review:<flag>:<action>."""
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT a.target, a.idempotency_key, a.reason, a.actor, a.at FROM audit_log a "
        "JOIN cashouts c ON c.cashout_id = a.target AND c.status = 'held' "
        "WHERE a.action = 'cashout.hold' ORDER BY a.seq")).all()
    last = {target: (key, reason, actor, at) for target, key, reason, actor, at in rows}
    for target, (key, reason, actor, at) in last.items():
        flag = key[len("review:"):].rsplit(":", 1)[0] if key and key.startswith("review:") else None
        conn.execute(sa.text("UPDATE cashouts SET status_reason = :r, status_by = :b, status_at = :t, "
                             "hold_flag_id = :f WHERE cashout_id = :c"),
                     {"r": reason, "b": actor, "t": at, "f": flag, "c": target})


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS cashouts_guard_hold ON cashouts")
        op.execute("DROP FUNCTION IF EXISTS supportdesk_guard_cashout()")
    op.create_index("ix_gift_events_creator_id", "gift_events", ["creator_id"])
    op.create_index("ix_gift_events_sender_id", "gift_events", ["sender_id"])
    op.drop_index("ix_gift_events_creator_at", table_name="gift_events")
    op.drop_index("ix_gift_events_sender_at", table_name="gift_events")
    op.create_index("ix_ledger_account_asset", "ledger_entries", ["account_id", "asset", "seq"])
    op.drop_index("ix_ledger_account_asset_amount", table_name="ledger_entries")
    op.drop_index("ix_ledger_account_seq", table_name="ledger_entries")
    with op.batch_alter_table("cashouts") as batch:
        for column in ("hold_flag_id", "status_at", "status_by", "status_reason"):
            batch.drop_column(column)
