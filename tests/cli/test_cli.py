"""The CLI's contract: one JSON object on stdout, exit 1 with `error` on handled failures, 2 on usage."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from supportdesk.cli.main import app
from supportdesk.db.engine import make_engine
from tests.service.factories import minimal, write_dataset

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def imported(db_url, tmp_path):
    result = run("--db", db_url, "import", str(write_dataset(tmp_path / "ds", minimal())), "--json")
    assert result.exit_code == 0, result.output
    return db_url


def test_import_json_counts(imported, tmp_path):
    again = run("--db", imported, "import", str(write_dataset(tmp_path / "ds2", minimal())), "--json")
    body = json.loads(again.stdout)
    assert body["imported"]["accounts.jsonl"] == 0 and body["already_present"]["accounts.jsonl"] == 3


def test_account_json(imported):
    body = json.loads(run("--db", imported, "account", "ch_abc123", "--json").stdout)
    assert body["account"]["handle"] == "@user0"
    assert body["balances"]["coin"] == {"ledger": 70, "cached": 70, "drift": 0}
    assert body["purchases"][0]["purchased_at"] == "2026-10-01T12:00:00Z"


def test_search_json(imported):
    body = json.loads(run("--db", imported, "search", "@user", "--json").stdout)
    assert len(body["accounts"]) == 3


@pytest.mark.parametrize(("query", "code"), [("@nobody", "not_found"), ("two words", "invalid_input")])
def test_handled_errors_exit_1_with_error_json(imported, query, code):
    result = run("--db", imported, "account", query, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == code


def test_broken_import_lists_file_and_line(imported, tmp_path):
    ds = write_dataset(tmp_path / "bad", minimal(), raw={"gifts": '{"gift_id": "rose"}\n'})
    result = run("--db", imported, "import", str(ds), "--json")
    body = json.loads(result.stdout)
    assert result.exit_code == 1 and body["error"]["code"] == "import_failed"
    assert "app/gifts.jsonl:1: name: is required but missing" in body["error"]["details"]


def test_unreachable_database():
    result = run("--db", "postgresql://postgres@127.0.0.1:1/nowhere", "search", "x", "--json")
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "database_unavailable" and "127.0.0.1:1" in error["message"]


def test_schema_behind_is_refused(imported):
    engine = make_engine(imported)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    result = run("--db", imported, "search", "x", "--json")
    assert result.exit_code == 1
    assert "supportdesk db upgrade" in json.loads(result.stdout)["error"]["message"]


def test_usage_error_exits_2():
    assert run("account").exit_code == 2


def test_a_database_behind_is_refused_until_upgraded(tmp_path):
    from supportdesk.db.schema import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    upgrade(engine, "0001")  # a database made by the previous version
    engine.dispose()
    refused = run("--db", url, "search", "@x", "--json")
    assert refused.exit_code == 1 and json.loads(refused.stdout)["error"]["code"] == "schema_out_of_date"
    assert run("--db", url, "db", "upgrade").exit_code == 0
    assert run("--db", url, "search", "@x", "--json").exit_code == 0


def test_migrations_build_exactly_the_models(engine):
    import warnings

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    with warnings.catch_warnings(), engine.connect() as conn:
        warnings.simplefilter("ignore")  # expression indexes cannot be reflected; checked by the lookup tests
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
