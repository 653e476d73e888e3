"""Migration 0010 links a cashout a review decision held before it to the flag (from the hold's audit key), so
only a lead lifts that hold afterwards; a hold with no review key stays unlinked."""

from __future__ import annotations

from sqlalchemy import text

from supportdesk.db.engine import make_engine
from supportdesk.db.schema import upgrade
from tests.service.test_migration_0005 import empty_url  # noqa: F401  (the fixture, both engines)


def test_review_holds_are_linked_to_their_flag(empty_url):  # noqa: F811
    engine = make_engine(empty_url)
    upgrade(engine, "0008")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO accounts (account_id, handle, email, country, kind, status, created_at, "
                          "coin_balance, diamond_balance) VALUES ('acc_1', '@c', 'c@x.io', 'US', 'creator', "
                          "'active', '2026-01-01', 0, 0)"))
        for cid in ("co_1", "co_2"):
            conn.execute(text("INSERT INTO cashouts (cashout_id, creator_id, diamonds, amount_minor, currency, "
                              "status, at) VALUES (:c, 'acc_1', 10, 5, 'USD', 'held', '2026-01-02')"), {"c": cid})
        for seq, (cid, key) in enumerate((("co_1", "review:gift_laundering:pur_9:confirm"), ("co_2", "user:mine")),
                                         start=1):
            conn.execute(text("INSERT INTO audit_log (seq, at, actor, action, target, account_id, idempotency_key, "
                              "reason, prev_hash, hash) VALUES (:s, '2026-01-03', 'lee', 'cashout.hold', :c, "
                              "'acc_1', :k, 'laundering', :p, :h)"),
                         {"s": seq, "c": cid, "k": key, "p": f"p{seq}", "h": f"h{seq}"})
    upgrade(engine)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT cashout_id, hold_flag_id FROM cashouts")).all())
        reason = conn.execute(text("SELECT status_reason, status_by FROM cashouts WHERE cashout_id = 'co_1'")).one()
    assert rows == {"co_1": "gift_laundering:pur_9", "co_2": None}
    assert tuple(reason) == ("laundering", "lee")
    engine.dispose()
