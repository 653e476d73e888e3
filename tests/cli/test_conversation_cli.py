"""`ticket reply|note|take|assign|status`, `ticket list --mine`, `macro list`: --json bodies, the outbox, and
refusals (unknown ticket, empty body, unknown macro, a placeholder nothing fills) that write nothing."""

from __future__ import annotations

import json

import pytest
from sqlmodel import func, select
from typer.testing import CliRunner

from supportdesk.cli.main import app
from supportdesk.db.engine import make_engine, read_session
from supportdesk.db.models import AuditRecord, IdempotencyKey, TicketMessage
from tests.service.factories import minimal, write_dataset

runner = CliRunner()


@pytest.fixture
def desk(tmp_path):
    return make_desk(tmp_path)


@pytest.fixture(scope="module")
def untouched(tmp_path_factory):
    """One desk for the refusals: none of them writes."""
    return make_desk(tmp_path_factory.mktemp("refusals"))


def make_desk(tmp_path):
    db = f"sqlite:///{tmp_path / 'desk.db'}"
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nactor = "ana"\n[outbox]\npath = "{tmp_path / "outbox.jsonl"}"\n'
                      '[macros.typo]\ntitle = "A typo"\nbody = "Hi {handel}"\n')
    head = ["--db", db, "--config", str(config)]
    assert runner.invoke(app, [*head, "import", str(write_dataset(tmp_path / "ds", minimal())), "--json"]
                         ).exit_code == 0
    return head, db, tmp_path / "outbox.jsonl"


def run(desk, *args: str) -> tuple[int, dict]:
    result = runner.invoke(app, [*desk[0], *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def written(db: str) -> tuple[int, int, int]:
    engine = make_engine(db)
    with read_session(engine) as s:
        counts = tuple(s.exec(select(func.count()).select_from(t)).one()
                       for t in (TicketMessage, AuditRecord, IdempotencyKey))
    engine.dispose()
    return counts  # type: ignore[return-value]


def test_take_note_reply_from_a_macro_and_my_tickets(desk):
    _, db, outbox = desk
    code, took = run(desk, "ticket", "take", "T-1001")
    assert code == 0 and took["ticket"]["assignee"] == "ana" and took["changed"] is True
    code, mine = run(desk, "ticket", "list", "--mine")
    assert [t["ticket_id"] for t in mine["tickets"]] == ["T-1001"] and mine["tickets"][0]["assignee"] == "ana"
    code, note = run(desk, "ticket", "note", "T-1001", "--body", "paid at 12:00, coins missing")
    assert code == 0 and note["message"]["kind"] == "note"
    code, preview = run(desk, "ticket", "reply", "T-1001", "--macro", "goodwill", "--dry-run")
    assert code == 0 and preview["dry_run"] and "your balance is now 70 coins" in preview["body"]
    assert not outbox.exists()
    code, sent = run(desk, "ticket", "reply", "T-1001", "--macro", "goodwill", "--status", "solved")
    assert code == 0 and sent["ticket"]["status"] == "solved" and sent["message"]["macro"] == "goodwill"
    line = json.loads(outbox.read_text())
    assert line["message_id"] == sent["message"]["message_id"] and line["to"] == "user0@example.com"
    code, shown = run(desk, "ticket", "show", "T-1001")
    assert [m["kind"] for m in shown["ticket"]["messages"]] == ["note", "reply"]
    assert shown["ticket"]["assignee"] == "ana"
    code, listed = run(desk, "macro", "list")
    typo = next(m for m in listed["macros"] if m["name"] == "typo")
    assert typo["unknown"] == ["handel"]


def test_status_pending_then_on_hold(desk):
    code, body = run(desk, "ticket", "status", "T-1001", "pending", "--reason", "asked for the receipt")
    assert code == 0 and body["ticket"]["status"] == "pending"
    code, body = run(desk, "ticket", "status", "T-1001", "on-hold", "--reason", "waiting for the processor")
    assert code == 0 and body["ticket"]["status"] == "on-hold"


@pytest.mark.parametrize("args, code, words", [
    (("ticket", "reply", "T-9999", "--body", "hello"), "not_found", "no ticket 'T-9999'"),
    (("ticket", "note", "T-1001", "--body", "  "), "invalid_input", "empty"),
    (("ticket", "reply", "T-1001", "--macro", "nope"), "not_found", "no macro 'nope'"),
    (("ticket", "reply", "T-1001", "--macro", "typo"), "invalid_input", "unknown placeholder {handel}"),
    (("ticket", "reply", "T-1001", "--macro", "refund-decision"), "invalid_input", "{decision}"),
    (("ticket", "reply", "T-1001", "--body", "hi\x1b[2J"), "invalid_input", "control character"),
    (("ticket", "reply", "T-1001"), "invalid_input", "--body TEXT or --macro NAME"),
    (("ticket", "take", "T-9999"), "not_found", "no ticket"),
    (("ticket", "status", "T-1001", "closed", "--reason", "done"), "forbidden", "lead"),
])
def test_refusals_write_nothing(untouched, args, code, words):
    _, db, outbox = untouched
    before = written(db)
    exit_code, body = run(untouched, *args)
    assert exit_code == 1 and body["error"]["code"] == code and words in body["error"]["message"]
    assert written(db) == before and not outbox.exists()
