"""`stores sync` through typer, against the running emulator, with the config the emulator wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from supportdesk.cli.context import AppContext
from supportdesk.cli.stores_cmd import stores_app
from supportdesk.emulator.server import EmulatorHandle
from tests.emulator.emulator_support import set_faults
from tests.stores.store_data import store_keys
from tests.stores.test_sync import seed, table

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")]

app = typer.Typer()
app.add_typer(stores_app, name="stores")


@app.callback()
def main(ctx: typer.Context, config: Annotated[Path, typer.Option("--config")],
         db: Annotated[str, typer.Option("--db")]) -> None:
    ctx.obj = AppContext(config_path=config, db_url=db)


@pytest.fixture
def cli(db_url: str, engine: Engine, sync_emulator: EmulatorHandle):  # type: ignore[no-untyped-def]
    seed(engine)

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(app, ["--config", str(sync_emulator.config_path), "--db", db_url, *args])

    return invoke


def test_sync_json_counts_from_the_stores_clock(cli, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    result = cli("stores", "sync", "--since", "500d", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["synced"]["apple"] == {"fetched": 6, "inserted": 6, "updated": 0, "unchanged": 0,
                                       "not_found": 1, "acknowledged": 0}
    assert body["window"] == {"since": "2024-10-17T12:00:00Z", "until": "2026-03-01T12:00:00Z"}
    assert set(table(engine)) == store_keys()
    again = json.loads(cli("stores", "sync", "--since", "500d", "--json").stdout)
    assert {s: c["inserted"] + c["updated"] for s, c in again["synced"].items()} == {"apple": 0, "google": 0,
                                                                                    "web": 0}


def test_one_store_and_a_human_table(cli, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    result = cli("stores", "sync", "--since", "2025-01-01", "--until", "2026-03-01T12:00:00Z", "--store", "web")
    assert result.exit_code == 0, result.output
    assert "web" in result.stderr and "inserted" in result.stderr and result.stdout == ""
    assert {k[0] for k in table(engine)} == {"web"}


def test_failed_store_exits_1_with_the_error_and_what_was_done(cli, sync_emulator: EmulatorHandle) -> None:  # type: ignore[no-untyped-def]
    set_faults(sync_emulator, "web:expired_token")
    result = cli("stores", "sync", "--since", "500d", "--json")
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["error"]["code"] == "store_auth_failed" and "web payment processor" in body["error"]["message"]
    assert body["synced"]["apple"]["inserted"] == 6 and list(body["failed"]) == ["web"]


def test_bad_input_is_a_handled_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("stores", "sync", "--since", "yesterday-ish", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "invalid_input"
    result = cli("stores", "sync", "--store", "amazon", "--json")
    assert json.loads(result.stdout)["error"]["message"].startswith("unknown store 'amazon'")
