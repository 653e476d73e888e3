"""Notification delivery: --notify-url lands in the config, and webhooks are signed so that the processor's own
library accepts them (and refuses a tampered one)."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from supportdesk.emulator.deliver import stripe_signature, webhook_secret
from supportdesk.emulator.server import prepare


def test_notify_url_and_webhook_secret_are_written_into_the_config(dataset: Path, tmp_path: Path) -> None:
    config_path = tmp_path / "stores.toml"
    prepared = prepare(dataset, config_path=config_path, notify_url="http://127.0.0.1:8787")
    prepared.sock.close()
    config = tomllib.loads(config_path.read_text())
    assert config["emulator"]["notify_url"] == "http://127.0.0.1:8787"
    assert config["stores"]["web"]["webhook_secret"] == webhook_secret(prepared.state.keys)


def test_a_webhook_signature_verifies_with_stripes_library_and_a_tampered_one_does_not() -> None:
    payload = b'{"id": "evt_1", "object": "event", "type": "charge.refunded", "data": {"object": {}}}'
    header = stripe_signature(payload, "whsec_test", int(time.time()))
    assert stripe.Webhook.construct_event(payload.decode(), header, "whsec_test")["id"] == "evt_1"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload.decode().replace("evt_1", "evt_2"), header, "whsec_test")


def test_notify_without_a_listener_says_how_to_configure_one(emulator: Any) -> None:
    answer = httpx.post(f"{emulator.base_url}/_emulator/notify",
                        json={"store": "web", "type": "charge.refunded", "transaction_id": "ch_1"})
    assert answer.status_code == 400 and "--notify-url" in answer.json()["error"]["message"]
