"""`supportdesk audit keygen / checkpoint / --verify --checkpoints`: the chain anchored outside the database."""

from __future__ import annotations

import json

from sqlalchemy import text
from typer.testing import CliRunner

from supportdesk.cli.main import app
from supportdesk.db.engine import make_engine
from tests.service.factories import minimal, write_dataset

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_checkpoint_then_cut_tail_fails_verify(db_url, tmp_path):
    assert run("--db", db_url, "import", str(write_dataset(tmp_path / "ds", minimal())), "--json").exit_code == 0
    ticket = run("--db", db_url, "ticket", "create", "@user0", "--subject", "coins missing", "--json")
    assert ticket.exit_code == 0, ticket.output
    key = tmp_path / "audit.key"
    made = json.loads(run("audit", "keygen", str(key), "--json").stdout)
    log = tmp_path / "checkpoints.jsonl"
    cp = run("--db", db_url, "audit", "checkpoint", "--key", str(key), "--log", str(log), "--json")
    assert cp.exit_code == 0, cp.output
    assert json.loads(cp.stdout)["checkpoint"]["key_id"] == made["key_id"]
    args = ["--db", db_url, "audit", "--verify", "--checkpoints", str(log), "--public-key", made["public_key"],
            "--json"]
    ok = run(*args)
    assert ok.exit_code == 0 and json.loads(ok.stdout)["verified"] is True
    engine = make_engine(db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        conn.execute(text("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)"))
    engine.dispose()
    plain = run("--db", db_url, "audit", "--verify", "--json")
    assert json.loads(plain.stdout)["verified"] is True  # the chain alone cannot see a cut-off tail
    cut = run(*args)
    assert cut.exit_code == 1
    assert "tail cut off" in json.loads(cut.stdout)["checkpoints"]["problems"][0]["problem"]


def test_checkpoints_without_public_key_is_a_clear_error(db_url, tmp_path):
    result = run("--db", db_url, "audit", "--verify", "--checkpoints", str(tmp_path / "x"), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "invalid_input"
