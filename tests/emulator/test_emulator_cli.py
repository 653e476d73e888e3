"""The ``store-emulator`` command, the config it writes and the dataset checks behind it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
from emulator_support import LOCAL, NOW, write_store
from typer.testing import CliRunner

from supportdesk.cli.emulator_cmd import store_emulator
from supportdesk.emulator.records import StoreDataError, load_store
from supportdesk.emulator.server import prepare

CONFIG_KEYS = {
    "apple": {"base_url", "issuer_id", "key_id", "private_key", "bundle_id", "app_apple_id", "environment",
              "root_certificates", "sandbox_base_url"},  # sandbox_base_url: Production falls back to Sandbox
    "google": {"base_url", "package_name", "service_account_file", "pubsub_base_url", "subscription",
               "push_audience", "push_service_account", "push_certs_url"},  # push_*: the listener's Pub/Sub push
    "web": {"base_url", "secret_key", "webhook_secret"},  # webhook_secret: the listener verifies webhooks
}  # fmt: skip


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("store-emulator")(store_emulator)
    return app


def test_config_holds_every_key_the_clients_read(config: dict[str, Any], running: Any) -> None:
    assert {name: set(store) for name, store in config["stores"].items()} == CONFIG_KEYS
    apple, google = config["stores"]["apple"], config["stores"]["google"]
    assert apple["base_url"] == f"{running.base_url}/apple" and apple["environment"] == "Production"
    assert apple["bundle_id"] == "com.supportdesk.coins" and isinstance(apple["app_apple_id"], int)
    assert apple["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert google["subscription"] == "projects/supportdesk-emulator/subscriptions/play-rtdn"
    assert Path(google["service_account_file"]).is_absolute()
    assert config["emulator"] == {"control_url": f"{running.base_url}/_emulator", "now": NOW}


def test_keys_survive_a_restart_with_the_same_config(dataset: Path, tmp_path: Path) -> None:
    config_path = tmp_path / "emulator.toml"
    first = prepare(dataset, config_path=config_path)
    first.sock.close()
    second = prepare(dataset, config_path=config_path)
    second.sock.close()
    assert first.state.keys == second.state.keys
    assert (tmp_path / "emulator-keys.json").is_file()
    assert (tmp_path / "emulator-google-service-account.json").is_file()


def broken_store(tmp_path: Path, name: str, lines: list[str]) -> Path:
    write_store(tmp_path)
    (tmp_path / "store" / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


GOOD_APPLE = json.dumps({"transactionId": "1", "productId": "coins_70", "purchaseDate": 1})


@pytest.mark.parametrize(
    ("name", "lines", "message"),
    [
        ("apple/transactions.jsonl", [GOOD_APPLE, "{not json"], "transactions.jsonl:2: not valid JSON"),
        ("apple/transactions.jsonl", [GOOD_APPLE, GOOD_APPLE], "transactions.jsonl:2: transactionId: duplicate"),
        ("apple/transactions.jsonl", ['{"transactionId": "1", "productId": "x"}'],
         "transactions.jsonl:1: purchaseDate: missing required field"),
        ("web/charges.jsonl", ['{"id": "ch_1", "amount": true, "currency": "usd", "created": 1}'],
         "charges.jsonl:1: amount: expected int, got bool"),
        ("google/purchases.jsonl", ['{"orderId": "o", "purchaseToken": "t", "productId": "p", '
                                    '"purchaseTimeMillis": "soon"}'], "purchases.jsonl:1: purchaseTimeMillis"),
        ("web/disputes.jsonl", ['{"id": "dp_1", "charge": "ch_x", "amount": 1, "currency": "usd", "created": 1}'],
         "disputes.jsonl:1: charge: unknown charge"),
    ],
)  # fmt: skip
def test_bad_records_name_file_line_and_field(tmp_path: Path, name: str, lines: list[str], message: str) -> None:
    with pytest.raises(StoreDataError, match=message):
        load_store(broken_store(tmp_path, name, lines))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "{missing}"], "no store/ folder"),
        (["--data", "{data}", "--faults", "apple:teapot"], "unknown fault kind"),
        (["--data", "{data}", "--now", "yesterday"], "--now"),
        (["--data", "{data}", "--environment", "Xcode"], "--environment must be Production or Sandbox"),
    ],
)
def test_command_fails_clearly_on_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    data = write_store(tmp_path / "data")
    filled = [a.format(missing=tmp_path / "nothing", data=data) for a in args]
    result = CliRunner().invoke(cli(), filled)
    assert result.exit_code == 1
    assert message in result.output


def test_command_reports_a_malformed_line(tmp_path: Path) -> None:
    data = broken_store(tmp_path, "google/purchases.jsonl", ["[1, 2]"])
    result = CliRunner().invoke(cli(), ["--data", str(data)])
    assert result.exit_code == 1 and "purchases.jsonl:1: expected a JSON object" in result.output


def test_command_serves_and_writes_the_config(dataset: Path, tmp_path: Path) -> None:
    config_path = tmp_path / "not-yet" / "emulator.toml"  # the folder is made as needed
    program = ("import typer; from supportdesk.cli.emulator_cmd import store_emulator; app = typer.Typer(); "
               "app.command()(store_emulator); app()")  # fmt: skip
    args = ["--data", str(dataset), "--port", "0", "--write-config", str(config_path), "--faults", "web:500*1"]
    process = subprocess.Popen([sys.executable, "-c", program, *args], stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    try:
        line = process.stderr.readline() if process.stderr else ""
        config = tomllib.loads(config_path.read_text(encoding="utf-8"))
        health = LOCAL.get(f"{config['emulator']['control_url']}/health")
        faults = LOCAL.get(f"{config['emulator']['control_url']}/faults").json()["faults"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert line.startswith("store emulator listening on http://127.0.0.1:")
    assert health.status_code == 200 and health.json()["fixed"] is False
    assert [(f["store"], f["kind"], f["count"]) for f in faults] == [("web", "500", 1)]


def test_emulator_imports_no_app_layers() -> None:
    program = ("import sys, supportdesk.emulator.server, supportdesk.cli.emulator_cmd; "
               "print(sorted(m for m in sys.modules if m.split('.')[:2] in "
               "(['supportdesk', 'services'], ['supportdesk', 'db'], ['supportdesk', 'tui'])))")  # fmt: skip
    loaded = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_command_refuses_a_port_in_use(dataset: Path, running: Any) -> None:
    result = CliRunner().invoke(cli(), ["--data", str(dataset), "--port", str(running.port)])
    assert result.exit_code == 1 and "cannot listen on 127.0.0.1" in result.output
