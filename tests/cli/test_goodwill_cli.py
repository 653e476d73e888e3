"""`supportdesk credit` and `supportdesk status`: confirmed, audited, idempotent; refusals write nothing."""

from __future__ import annotations

import json

import pytest
from sqlmodel import func, select
from typer.testing import CliRunner

from supportdesk.cli.main import app
from supportdesk.db.engine import make_engine, read_session
from supportdesk.db.models import Account, AuditRecord, IdempotencyKey, LedgerEntry
from tests.service.factories import minimal, write_dataset

runner = CliRunner()


def run(db: str, *args: str, config: str | None = None):
    head = ["--db", db] + (["--config", config] if config else [])
    return runner.invoke(app, [*head, *args])


@pytest.fixture
def imported(db_url, tmp_path):
    assert run(db_url, "import", str(write_dataset(tmp_path / "ds", minimal())), "--json").exit_code == 0
    return db_url


@pytest.fixture
def agent(imported, tmp_path) -> str:
    if imported.startswith("postgres"):
        pytest.skip("on PostgreSQL the database login decides the role (see tests/service/test_goodwill.py)")
    path = tmp_path / "agent.toml"
    path.write_text('[agent]\nactor = "ana"\nrole = "agent"\n')
    return str(path)


def written(db: str) -> tuple[int, int, int]:
    engine = make_engine(db)
    with read_session(engine) as s:
        counts = tuple(s.exec(select(func.count()).select_from(t)).one()
                       for t in (LedgerEntry, AuditRecord, IdempotencyKey))
    engine.dispose()
    return counts


def account(db: str) -> Account:
    engine = make_engine(db)
    with read_session(engine) as s:
        row = s.get(Account, "acc_0000")
    engine.dispose()
    return row


def test_credit_moves_coins_once_with_its_reason(imported):
    args = ("credit", "acc_0000", "700", "--reason", "goodwill: late coins", "--ticket", "T-1001", "--yes", "--json")
    first = run(imported, *args)
    assert first.exit_code == 0, first.output
    body = json.loads(first.stdout)
    assert body["coins"] == 700 and body["balance_after"] == 770 and body["replayed"] is False
    assert body["key"].startswith("credit:acc_0000:")
    again = json.loads(run(imported, *args).stdout)
    assert again["replayed"] is True and again["entry_id"] == body["entry_id"]
    assert account(imported).coin_balance == 770


def test_caller_key_lives_in_the_user_namespace(imported):
    body = json.loads(run(imported, "credit", "@user0", "5", "--reason", "sorry", "--idempotency-key", "k1",
                          "--yes", "--json").stdout)
    assert body["key"] == "user:k1"


def test_credit_confirmation_says_what_moves(imported):
    result = run(imported, "credit", "@user0", "700", "--reason", "late coins", "--ticket", "T-1001", "--json")
    assert result.exit_code == 1
    message = json.loads(result.stdout)["error"]["message"]
    assert "Credit 700 coins to @user0 (acc_0000), reason 'late coins', ticket T-1001?" in message


def test_agent_over_the_limit_is_refused_and_nothing_written(agent, imported):
    before = written(imported)
    result = run(imported, "credit", "acc_0000", "5001", "--reason", "goodwill", "--yes", "--json", config=agent)
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "forbidden" and "5,000" in error["message"]
    assert written(imported) == before
    ok = run(imported, "credit", "acc_0000", "5000", "--reason", "goodwill", "--yes", "--json", config=agent)
    assert ok.exit_code == 0, ok.output


@pytest.mark.parametrize(("args", "code", "words"), [
    (("700", "--reason", "x", "--ticket", "T-9999"), "not_found", "no ticket"),
    (("700", "--reason", "  "), "invalid_input", "a reason is required"),
    (("700",), "invalid_input", "a reason is required"),
    (("0", "--reason", "x"), "invalid_input", "positive"),
    (("--", "-5", "--reason", "x"), "invalid_input", "negative"),
    (("2000000000", "--reason", "x"), "invalid_input", "outside the allowed range"),
])
def test_refusals_write_nothing(imported, args, code, words):
    before = written(imported)
    if args[0] == "--":
        result = run(imported, "credit", "--reason", "x", "--yes", "--json", "acc_0000", "--", "-5")
    else:
        result = run(imported, "credit", "acc_0000", *args, "--yes", "--json")
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)["error"]
    assert error["code"] == code and words in error["message"]
    assert written(imported) == before


def test_status_limit_unlimit_audited_and_idempotent(imported):
    args = ("status", "acc_0000", "limit", "--reason", "chargeback pending", "--yes", "--json")
    body = json.loads(run(imported, *args).stdout)
    assert body["changed"] is True and (body["before"], body["after"]) == ("active", "limited")
    before = written(imported)
    again = json.loads(run(imported, *args).stdout)
    assert again["changed"] is False and written(imported) == before
    body = json.loads(run(imported, "status", "acc_0000", "unlimit", "--reason", "paid", "--yes", "--json").stdout)
    assert body["changed"] is True and account(imported).status == "active"
    audit = json.loads(run(imported, "audit", "--account", "acc_0000", "--json").stdout)
    assert "chargeback pending" in json.dumps(audit)


def test_agent_may_not_suspend_or_reactivate(agent, imported):
    before = written(imported)
    result = run(imported, "status", "acc_0000", "suspend", "--reason", "fraud", "--yes", "--json", config=agent)
    assert json.loads(result.stdout)["error"]["code"] == "forbidden" and written(imported) == before
    lead = agent.replace("agent.toml", "lead.toml")
    with open(lead, "w") as f:
        f.write('[agent]\nactor = "lee"\nrole = "lead"\n')
    assert run(imported, "status", "acc_0000", "suspend", "--reason", "fraud", "--yes", "--json",
               config=lead).exit_code == 0
    result = run(imported, "status", "acc_0000", "reactivate", "--reason", "ok", "--yes", "--json", config=agent)
    assert json.loads(result.stdout)["error"]["code"] == "forbidden"
    result = run(imported, "status", "acc_0000", "limit", "--reason", "x", "--yes", "--json", config=agent)
    assert "the account is suspended" in json.loads(result.stdout)["error"]["message"]
    assert account(imported).status == "suspended"


def test_unknown_status_move(imported):
    result = run(imported, "status", "acc_0000", "ban", "--reason", "x", "--yes", "--json")
    assert "limit, unlimit, suspend, reactivate" in json.loads(result.stdout)["error"]["message"]
