"""`supportdesk listen` against the emulator: the emulator posts signed notifications (App Store Server
Notifications V2, processor webhooks), the listener verifies them and writes the store records once; a tampered
signature is refused and writes nothing; a consumption request opens a ticket with its 12-hour deadline."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from supportdesk.db.engine import make_engine
from tests.e2e.conftest import CLI, Emulator, cli, cli_json


@pytest.fixture
def listener(emulator: Emulator, tmp_path: Path) -> Iterator[tuple[str, str]]:
    db = f"sqlite:///{tmp_path / 'listen.db'}"
    cli("import", str(emulator.data), db=db)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([*CLI, "--db", db, "--config", str(emulator.config), "listen", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError(f"the listener did not start: {proc.stderr.read() if proc.stderr else ''}")
    yield url, db
    proc.terminate()
    proc.wait(timeout=10)


def notify(emulator: Emulator, url: str, **body: Any) -> dict[str, Any]:
    control = tomllib.loads(emulator.config.read_text())["emulator"]["control_url"]
    answer = httpx.post(f"{control}/notify", json={"url": url, **body}, timeout=30)
    answer.raise_for_status()
    return answer.json()


def rows(db: str, sql: str) -> list[tuple[Any, ...]]:
    engine = make_engine(db)
    with engine.connect() as conn:
        out = [tuple(r) for r in conn.execute(text(sql)).all()]
    engine.dispose()
    return out


def store_rows(db: str) -> list[tuple[Any, ...]]:
    return rows(db, "SELECT store, store_transaction_id, state, refunded_minor, fetched_at FROM store_records "
                    "ORDER BY store, store_transaction_id")


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_refund_notification_is_written_once_and_a_tampered_one_refused(emulator, listener):
    url, db = listener
    apple = [r for r in jsonl(emulator.data / "store/apple/transactions.jsonl") if r.get("revocationDate")]
    web = [c for c in jsonl(emulator.data / "store/web/charges.jsonl") if c.get("refunds")]
    assert len(apple) >= 2 and len(web) >= 2
    assert store_rows(db) == []

    first = notify(emulator, url, store="apple", type="REFUND", transaction_id=apple[0]["transactionId"])
    assert first["status"] == 200 and first["response"]["duplicate"] is False, first
    (row,) = store_rows(db)
    assert row[:3] == ("apple", apple[0]["transactionId"], "refunded")

    again = notify(emulator, url, store="apple", type="REFUND", transaction_id=apple[0]["transactionId"])
    assert again["status"] == 200 and again["response"]["duplicate"] is True
    assert store_rows(db) == [row]  # not even re-fetched

    bad = notify(emulator, url, store="apple", type="REFUND", transaction_id=apple[1]["transactionId"], tamper=True)
    assert 400 <= bad["status"] < 500 and bad["response"]["error"]["code"] == "store_bad_signature"
    assert store_rows(db) == [row]

    charge = web[0]["id"]
    paid = notify(emulator, url, store="web", type="charge.refunded", transaction_id=charge)
    assert paid["status"] == 200 and paid["response"]["duplicate"] is False, paid
    written = store_rows(db)
    assert [r[:2] for r in written] == [("apple", apple[0]["transactionId"]), ("web", charge)]
    assert written[1][2] in ("refunded", "purchased") and written[1][3] == sum(r["amount"] for r in web[0]["refunds"])
    assert notify(emulator, url, store="web", type="charge.refunded", transaction_id=charge)["response"]["duplicate"]
    tampered = notify(emulator, url, store="web", type="charge.refunded", transaction_id=web[1]["id"], tamper=True)
    assert 400 <= tampered["status"] < 500
    assert store_rows(db) == written
    seen = rows(db, "SELECT source, kind FROM store_notifications ORDER BY source")
    assert seen == [("apple", "REFUND"), ("web", "charge.refunded")]


def test_a_consumption_request_opens_a_ticket_with_its_deadline(emulator, listener):
    url, db = listener
    asked = next(r for r in jsonl(emulator.data / "store/apple/transactions.jsonl")
                 if r.get("consumptionRequestDate") and r.get("appAccountToken"))
    done = notify(emulator, url, store="apple", type="CONSUMPTION_REQUEST", transaction_id=asked["transactionId"])
    ticket = done["response"]["ticket"]
    assert done["status"] == 200 and ticket and ticket["opened"] is True, done
    listed = cli_json("ticket", "list", db=db)["tickets"]
    (mine,) = [t for t in listed if t["ticket_id"] == ticket["ticket_id"]]
    assert mine["answer_due_at"] and mine["category"] == "refund_request"
    requested = asked["consumptionRequestDate"] / 1000
    due = time.mktime(time.strptime(mine["answer_due_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert abs(due - requested - 12 * 3600) < 2
    shown = cli_json("ticket", "show", ticket["ticket_id"], db=db)["ticket"]
    assert shown["answer_due_at"] == mine["answer_due_at"]


def test_a_pubsub_push_is_verified_and_written_once(emulator, listener):
    url, db = listener
    voided = [p for p in jsonl(emulator.data / "store/google/purchases.jsonl") if p.get("voidedTimeMillis")]
    assert len(voided) >= 2
    order = voided[0]["orderId"]
    first = notify(emulator, url, store="google", type="voidedPurchaseNotification", transaction_id=order)
    assert first["status"] == 200 and first["response"]["duplicate"] is False, first
    written = store_rows(db)
    assert [r[:2] for r in written] == [("google", order)] and written[0][2] in ("refunded", "charged_back")
    again = notify(emulator, url, store="google", type="voidedPurchaseNotification", transaction_id=order)
    assert again["response"]["duplicate"] is True and store_rows(db) == written
    bad = notify(emulator, url, store="google", type="voidedPurchaseNotification",
                 transaction_id=voided[1]["orderId"], tamper=True)
    assert 400 <= bad["status"] < 500 and store_rows(db) == written


def test_a_refund_made_through_the_processor_api_is_notified_on_its_own(emulator, listener):
    url, db = listener
    config = tomllib.loads(emulator.config.read_text())
    control, web = config["emulator"]["control_url"], config["stores"]["web"]
    charge = next(c for c in jsonl(emulator.data / "store/web/charges.jsonl")
                  if not c.get("refunds") and not c.get("disputed") and c.get("status", "succeeded") == "succeeded")
    httpx.post(f"{control}/notify-url", json={"url": url}).raise_for_status()
    try:
        refund = httpx.post(f"{web['base_url']}/v1/refunds", data={"charge": charge["id"]},
                            headers={"Authorization": f"Bearer {web['secret_key']}"}, timeout=10)
        assert refund.status_code == 200, refund.text
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not store_rows(db):
            time.sleep(0.2)
    finally:
        httpx.post(f"{control}/notify-url", json={"url": None}).raise_for_status()
    (row,) = store_rows(db)
    assert row[:4] == ("web", charge["id"], "refunded", charge["amount"])
