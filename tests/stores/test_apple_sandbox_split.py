"""Apple's Production and Sandbox apart, as a production app meets them: a Sandbox transaction (TestFlight, App
Review) is "not found" (4040010) in Production and served by the Sandbox host, signed as Sandbox; the client
looks in Production first and falls back to the Sandbox base URL the emulator's config names."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from supportdesk.emulator.server import start_in_thread
from supportdesk.stores.apple import AppleClient
from supportdesk.stores.errors import StoreNotFound
from tests.emulator.emulator_support import NOW, TEST_REALISM, apple_jwt, write_store

SANDBOX_TXN = "2000000001002"  # a purchase made in TestFlight


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = write_store(tmp_path_factory.mktemp("split"))
    path = data / "store/apple/transactions.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        row["environment"] = "Sandbox" if row["transactionId"] == SANDBOX_TXN else "Production"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    handle = start_in_thread(data, config_path=tmp_path_factory.mktemp("split-config") / "emulator.toml", now=NOW,
                             realism=TEST_REALISM)
    yield tomllib.loads(handle.config_path.read_text(encoding="utf-8"))
    handle.stop()


def get(config: dict[str, Any], base: str, txn: str) -> httpx.Response:
    return httpx.get(f"{base}/inApps/v1/transactions/{txn}", headers={"Authorization": f"Bearer {apple_jwt(config)}"})


def test_a_sandbox_transaction_is_only_on_the_sandbox_host(config: dict[str, Any]) -> None:
    apple = config["stores"]["apple"]
    assert apple["environment"] == "Production" and apple["sandbox_base_url"].endswith("/apple-sandbox")
    missing = get(config, apple["base_url"], SANDBOX_TXN)
    assert missing.status_code == 404 and missing.json()["errorCode"] == 4040010
    assert get(config, apple["sandbox_base_url"], SANDBOX_TXN).status_code == 200
    assert get(config, apple["sandbox_base_url"], "2000000001000").status_code == 404  # Production's is not there


def test_the_client_falls_back_to_sandbox_and_keeps_production_apart(config: dict[str, Any]) -> None:
    apple = config["stores"]["apple"]
    client = AppleClient(apple)
    try:
        found = client.get_transaction_info(SANDBOX_TXN)
        assert found["transactionId"] == SANDBOX_TXN and found["environment"] == "Sandbox"
        assert client.get_transaction_info("2000000001000")["environment"] == "Production"
        alone = AppleClient({k: v for k, v in apple.items() if k != "sandbox_base_url"})
        with pytest.raises(StoreNotFound):  # without the fallback, Production alone does not know it
            alone.get_transaction_info(SANDBOX_TXN)
        alone.close()
    finally:
        client.close()
