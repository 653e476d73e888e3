"""Tamper evidence anchored outside the database: signed checkpoints of the chain head, and ledger amounts
covered by the chain."""

from __future__ import annotations

import json
import stat

import pytest
from sqlalchemy import text

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import AuditRecord
from supportdesk.domain.ledger import Posting
from supportdesk.errors import InvalidInput
from supportdesk.services import checkpoint, ledger, trail
from supportdesk.services.audit import ActionContext, record_hash
from supportdesk.services.importer import run_import
from tests.service.factories import minimal, write_dataset

CTX = ActionContext("agent-3", "goodwill for the outage")


@pytest.fixture
def loaded(engine, tmp_path):
    run_import(engine, write_dataset(tmp_path / "ds", minimal()))
    for i in range(4):
        with write_session(engine) as s:
            ledger.post(s, [Posting("acc_0000", "coin", 10 + i, "grant")], CTX, key=f"g{i}")
    return engine


@pytest.fixture
def key(tmp_path):
    path = tmp_path / "audit.key"
    checkpoint.generate_key(path)
    return path


def _no_triggers(conn, engine, table: str) -> None:
    if engine.dialect.name == "sqlite":
        conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
        conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
    else:
        conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))


def _sign(engine, key, log):
    with read_session(engine) as s:
        return checkpoint.checkpoint(s, key, log)


def _verify(engine, log, key):
    with read_session(engine) as s:
        return checkpoint.verify_checkpoints(s, log, checkpoint.public_path(key))


def test_keys_are_created_private_and_never_overwritten(key):
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with pytest.raises(InvalidInput, match="already exists"):
        checkpoint.generate_key(key)


def test_untouched_chain_verifies_against_its_checkpoints(loaded, key, tmp_path):
    log = tmp_path / "checkpoints.jsonl"
    first = _sign(loaded, key, log)
    with write_session(loaded) as s:
        ledger.post(s, [Posting("acc_0000", "coin", 5, "grant")], CTX, key="later")
    second = _sign(loaded, key, log)
    assert second["seq"] > first["seq"]
    assert _verify(loaded, log, key) == {"checkpoints": 2, "key_id": first["key_id"], "verified": True,
                                         "problems": []}


def test_a_rewritten_and_rehashed_chain_verifies_alone_but_not_against_a_checkpoint(loaded, key, tmp_path):
    log = tmp_path / "checkpoints.jsonl"
    _sign(loaded, key, log)
    with loaded.begin() as conn:  # the forger edits a reason and recomputes every hash after it
        _no_triggers(conn, loaded, "audit_log")
        conn.execute(text("UPDATE audit_log SET reason = 'approved by lead_bob (forged)' WHERE seq = 2"))
    with write_session(loaded) as s:
        records = list(s.exec(AuditRecord.__table__.select().order_by(AuditRecord.seq)))
    with loaded.begin() as conn:
        prev = "0" * 64
        for row in records:
            rec = AuditRecord(**row._mapping)
            new = record_hash(prev, rec)
            conn.execute(text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s"),
                         {"p": "x" + str(rec.seq), "h": new, "s": rec.seq})  # prev_hash is unique: two steps
            rec.hash, prev = new, new
        prev = "0" * 64
        for row in records:
            h = conn.execute(text("SELECT hash FROM audit_log WHERE seq = :s"), {"s": row.seq}).scalar_one()
            conn.execute(text("UPDATE audit_log SET prev_hash = :p WHERE seq = :s"), {"p": prev, "s": row.seq})
            prev = h
    with read_session(loaded) as s:
        assert trail.verified(s)["verified"] is True  # the plain chain is fooled
    result = _verify(loaded, log, key)
    assert result["verified"] is False
    assert "chain rewritten" in result["problems"][0]["problem"]


def test_a_cut_off_tail_is_detected(loaded, key, tmp_path):
    log = tmp_path / "checkpoints.jsonl"
    cp = _sign(loaded, key, log)
    with loaded.begin() as conn:
        _no_triggers(conn, loaded, "audit_log")
        conn.execute(text("DELETE FROM audit_log WHERE seq = :s"), {"s": cp["seq"]})
    result = _verify(loaded, log, key)
    assert result["verified"] is False
    assert "tail cut off" in result["problems"][0]["problem"]


def test_a_forged_checkpoint_line_is_refused(loaded, key, tmp_path):
    log = tmp_path / "checkpoints.jsonl"
    _sign(loaded, key, log)
    line = json.loads(log.read_text())
    line["records"] += 1
    log.write_text(json.dumps(line) + "\n")
    result = _verify(loaded, log, key)
    assert result["problems"][0]["problem"] == "signature does not verify with the public key"


def test_an_edited_ledger_amount_is_detected_by_verify(loaded):
    with read_session(loaded) as s:
        assert trail.verified(s)["verified"] is True
    with loaded.begin() as conn:
        _no_triggers(conn, loaded, "ledger_entries")
        conn.execute(text("UPDATE ledger_entries SET amount = amount + 1000000 "
                          "WHERE seq = (SELECT max(seq) FROM ledger_entries)"))
    with read_session(loaded) as s:
        body = trail.verified(s)
    assert body["verified"] is False
    assert "has amount" in body["first_bad"]["problem"] and "(edited)" in body["first_bad"]["problem"]


def test_a_new_sqlite_database_is_private(tmp_path):
    from supportdesk.db.engine import make_engine
    from supportdesk.db.schema import ensure_schema

    path = tmp_path / "new" / "desk.db"
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for extra in tmp_path.joinpath("new").iterdir():
        assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0, extra


def test_an_edited_imported_amount_is_detected_by_verify(loaded):
    with read_session(loaded) as s:
        body = trail.verified(s)
        assert body["verified"] is True, body
        assert s.exec(text("SELECT count(*) FROM audit_log WHERE action = 'import.ledger'")).scalar() == 1
    with loaded.begin() as conn:
        _no_triggers(conn, loaded, "ledger_entries")
        conn.execute(text("UPDATE ledger_entries SET amount = amount + 1000000 WHERE entry_id = 'le_0001'"))
    with read_session(loaded) as s:
        body = trail.verified(s)
    assert body["verified"] is False
    assert "no longer match its digest" in body["first_bad"]["problem"]
