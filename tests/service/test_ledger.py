"""The ledger service: atomic postings, exactly-once keys, append-only rows, audit in the same transaction."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import func, select

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import Account, AuditRecord, LedgerEntry
from supportdesk.domain.ledger import Posting
from supportdesk.errors import Conflict, InvalidInput, NotFound
from supportdesk.services import audit, ledger, lookup
from supportdesk.services.audit import ActionContext
from supportdesk.services.importer import run_import
from tests.service.factories import minimal, write_dataset

CTX = ActionContext(actor="agent-7", reason="customer wrote in", ticket_id="T-1001")


@pytest.fixture
def loaded(engine, tmp_path):
    run_import(engine, write_dataset(tmp_path / "ds", minimal()))
    return engine


def _counts(engine):
    with read_session(engine) as s:
        return (s.exec(select(func.count()).select_from(LedgerEntry)).one(),
                s.exec(select(func.count()).select_from(AuditRecord).where(AuditRecord.action != "import.ledger")).one())


def test_post_moves_entry_cache_and_audit_together(loaded):
    with write_session(loaded) as s:
        out = ledger.post(s, [Posting("acc_0000", "coin", 700, "grant", ref="T-1001")], CTX, key="grant:1")
    assert out["replayed"] is False
    with read_session(loaded) as s:
        bal = lookup.balances(s, s.get(Account, "acc_0000"))
        rec = s.exec(select(AuditRecord).where(AuditRecord.action != "import.ledger")).one()
    assert bal["coin"] == {"ledger": 770, "cached": 770, "drift": 0}
    assert (rec.actor, rec.ticket_id, rec.idempotency_key, rec.reason) == ("agent-7", "T-1001", "grant:1", CTX.reason)
    assert rec.before["ledger"] == 70 and rec.after["ledger"] == 770


def test_same_key_posts_once_and_replays_first_result(loaded):
    postings = [Posting("acc_0000", "coin", 5, "grant")]
    with write_session(loaded) as s:
        first = ledger.post(s, postings, CTX, key="k1")
    with write_session(loaded) as s:
        second = ledger.post(s, postings, CTX, key="k1")
    assert second["replayed"] is True and second["entries"] == first["entries"]
    assert _counts(loaded) == (2, 1)


def test_same_key_other_request_is_refused(loaded):
    with write_session(loaded) as s:
        ledger.post(s, [Posting("acc_0000", "coin", 5, "grant")], CTX, key="k1")
    with pytest.raises(Conflict, match="different request"), write_session(loaded) as s:
        ledger.post(s, [Posting("acc_0000", "coin", 6, "grant")], CTX, key="k1")


@pytest.mark.parametrize(
    ("posting", "ctx", "message"),
    [
        (Posting("acc_0000", "coin", -71, "gift_sent"), CTX, "negative balance"),
        (Posting("acc_0000", "coin", 10**10, "grant"), CTX, "outside the allowed range"),
        (Posting("acc_0000", "coin", -5, "grant"), CTX, "must be positive"),
        (Posting("acc_0000", "gem", 5, "grant"), CTX, "asset must be"),
        (Posting("acc_0000", "coin", 0, "grant"), CTX, "moves nothing"),
        (Posting("acc_nope", "coin", 5, "grant"), CTX, "no account"),
        (Posting("acc_0000", "coin", 5, "grant"), ActionContext("a", "r", "T-9999"), "no ticket"),
        (Posting("acc_0000", "coin", 5, "grant"), ActionContext("a", "  "), "reason is required"),
    ],
)
def test_bad_postings_write_nothing(loaded, posting, ctx, message):
    with pytest.raises((InvalidInput, NotFound), match=message), write_session(loaded) as s:
        ledger.post(s, [posting], ctx, key="bad")
    assert _counts(loaded) == (1, 0)
    with read_session(loaded) as s:
        assert s.get(Account, "acc_0000").coin_balance == 70


def test_clawback_may_leave_a_debt(loaded):
    with write_session(loaded) as s:
        out = ledger.post(s, [Posting("acc_0000", "coin", -100, "refund_clawback", ref="pur_0001")], CTX, key="c")
    assert out["entries"][0]["balance_after"] == -30


def test_database_refuses_update_and_delete_of_ledger_rows(loaded):
    with write_session(loaded) as s:
        ledger.post(s, [Posting("acc_0000", "coin", 5, "grant")], CTX, key="k")
    for sql in ("UPDATE ledger_entries SET amount = 1", "DELETE FROM ledger_entries",
                "UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"), loaded.begin() as conn:
            conn.execute(text(sql))
    assert _counts(loaded) == (2, 1)


def test_a_failure_after_posting_rolls_everything_back(loaded):
    with pytest.raises(RuntimeError), write_session(loaded) as s:
        ledger.post(s, [Posting("acc_0000", "coin", 5, "grant")], CTX, key="boom")
        raise RuntimeError("crash before commit")
    assert _counts(loaded) == (1, 0)
    with write_session(loaded) as s:  # the key was not burnt: a retry runs
        assert ledger.post(s, [Posting("acc_0000", "coin", 5, "grant")], CTX, key="boom")["replayed"] is False


def test_resync_sets_cache_to_ledger_once(engine, tmp_path):
    data = minimal()
    data["accounts"][1]["coin_balance"] = 999  # drift: no ledger rows for acc_0001
    run_import(engine, write_dataset(tmp_path / "ds", data))
    with write_session(engine) as s:
        out = ledger.resync_cached(s, "acc_0001", "coin", CTX, key="resync:acc_0001:coin")
    with write_session(engine) as s:
        again = ledger.resync_cached(s, "acc_0001", "coin", CTX, key="resync:acc_0001:coin")
    assert (out["cached_before"], out["cached_after"], again["replayed"]) == (999, 0, True)
    with read_session(engine) as s:
        assert s.get(Account, "acc_0001").coin_balance == 0
        assert audit.verify(s).verified


OPS = st.lists(
    st.tuples(
        st.sampled_from(["acc_0000", "acc_0001"]),
        st.sampled_from(["grant", "gift_sent", "refund_clawback", "adjustment"]),
        st.integers(min_value=1, max_value=500),
        st.integers(min_value=0, max_value=6),  # key: small range so keys repeat
    ),
    max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_any_sequence_keeps_cache_equal_to_ledger_and_keys_post_once(engine, tmp_path_factory, ops):
    root = tmp_path_factory.mktemp("ds")
    with engine.begin() as conn:  # a fresh id space per example: new accounts each time
        n = conn.execute(text("SELECT count(*) FROM accounts")).scalar()
    ids = {"acc_0000": f"acc_h{n}", "acc_0001": f"acc_h{n + 1}"}
    data = {"accounts": [
        {**minimal()["accounts"][0], "account_id": ids["acc_0000"], "handle": f"@h{n}", "coin_balance": 0},
        {**minimal()["accounts"][1], "account_id": ids["acc_0001"], "handle": f"@h{n + 1}"},
    ]}
    for name in ("regions", "price_points", "gifts", "purchases", "ledger"):
        data[name] = []
    run_import(engine, write_dataset(root, data))
    used: dict[str, tuple] = {}
    for acc, kind, amount, key_no in ops:
        signed = -amount if kind in ("gift_sent", "refund_clawback") else amount
        key = f"{ids['acc_0000']}:{key_no}"
        posting = Posting(ids[acc], "coin", signed, kind)
        try:
            with write_session(engine) as s:
                ledger.post(s, [posting], CTX.__class__("p", "prop"), key=key)
            used.setdefault(key, (posting,))
        except (InvalidInput, Conflict):
            pass
    with read_session(engine) as s:
        for account_id in ids.values():
            bal = lookup.balances(s, s.get(Account, account_id))["coin"]
            assert bal["cached"] == bal["ledger"]
            assert bal["ledger"] >= 0 or any(p.kind == "refund_clawback" for (p,) in used.values())
        keys = s.exec(select(LedgerEntry.idempotency_key).where(
            LedgerEntry.account_id.in_(list(ids.values())))).all()
    assert len(keys) == len(set(keys)) == len(used)


def test_eight_threads_same_key_post_exactly_once(loaded):
    barrier = threading.Barrier(8)
    results, errors = [], []

    def worker() -> None:
        barrier.wait()
        try:
            with write_session(loaded) as s:
                results.append(ledger.post(s, [Posting("acc_0000", "coin", 50, "grant")], CTX, key="race"))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(r["replayed"] for r in results) == [False] + [True] * 7
    with read_session(loaded) as s:
        assert s.get(Account, "acc_0000").coin_balance == 120
        assert s.exec(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.idempotency_key == "race#0")).one() == 1
        assert audit.verify(s).verified
