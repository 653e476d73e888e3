"""The emulator's default mode is the stores as documented: Apple's per-endpoint limits with an epoch-ms
Retry-After, Apple's environments (Sandbox: 30 days of notification history, 10 % of the rate)."""

from __future__ import annotations

import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from emulator_support import CUSTOMER_A, DAY_MS, LOCAL, NOW, NOW_MS, TEST_REALISM, apple_jwt, local_client

from supportdesk.emulator.server import EmulatorHandle, start_in_thread

FIRST_A = "2000000000000"


@pytest.fixture  # one per test: a test that spends the Sandbox's rate leaves nothing for the next
def sandbox(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    config = tmp_path_factory.mktemp("sandbox") / "emulator.toml"
    handle = start_in_thread(dataset, config_path=config, now=NOW, environment="Sandbox", realism=TEST_REALISM)
    yield handle
    handle.stop()


def apple_client(handle: EmulatorHandle) -> httpx.Client:
    LOCAL.post(f"{handle.base_url}/_emulator/reset").raise_for_status()
    config = tomllib.loads(handle.config_path.read_text(encoding="utf-8"))
    return local_client(base_url=config["stores"]["apple"]["base_url"],
                        headers={"Authorization": f"Bearer {apple_jwt(config)}"})


def burst(client: httpx.Client, path: str, count: int) -> list[httpx.Response]:
    return [client.get(path) for _ in range(count)]


def until_limited(client: httpx.Client, path: str, most: int = 100) -> list[httpx.Response]:
    """Requests one after another until the first 429: on a loaded machine (a parallel run) 15 may take longer
    than the bucket needs to refill, so the count that reaches the limit is not fixed."""
    answers: list[httpx.Response] = []
    while len(answers) < most and (not answers or answers[-1].status_code != 429):
        answers.append(client.get(path))
    return answers


def test_refund_history_past_10_a_second_is_429_with_retry_after_in_epoch_ms(emulator: EmulatorHandle) -> None:
    with apple_client(emulator) as apple:
        started_ms = time.time() * 1000
        answers = until_limited(apple, f"/inApps/v2/refund/lookup/{FIRST_A}")
    limited = [a for a in answers if a.status_code == 429]
    assert limited and all(a.status_code == 200 for a in answers[:10])
    body, retry_at = limited[0].json(), int(limited[0].headers["Retry-After"])
    assert body == {"errorCode": 4290000, "errorMessage": "Rate limit exceeded."}
    # A UNIX time in milliseconds, under a second after the answer. Bounded by the clock before the burst and
    # after it, not "still ahead now": on a loaded machine (a parallel run) the second may be over by now.
    assert started_ms < retry_at <= time.time() * 1000 + 1000


def test_transaction_info_allows_50_a_second_in_production(emulator: EmulatorHandle) -> None:
    with apple_client(emulator) as apple:
        answers = burst(apple, f"/inApps/v1/transactions/{FIRST_A}", 20)
    assert {a.status_code for a in answers} == {200}


def test_unknown_transaction_is_4040010(emulator: EmulatorHandle) -> None:
    with apple_client(emulator) as apple:
        answer = apple.get("/inApps/v1/transactions/1999999999999")
    assert answer.status_code == 404 and answer.json()["errorCode"] == 4040010


def test_sandbox_has_a_tenth_of_the_rate(sandbox: EmulatorHandle) -> None:
    with apple_client(sandbox) as apple:
        lookups = burst(apple, "/inApps/v1/lookup/MKORDER0001", 2)  # 10/s in Production, 1/s in Sandbox
        infos = burst(apple, f"/inApps/v1/transactions/{FIRST_A}", 8)  # 50/s -> 5/s
    assert [a.status_code for a in lookups] == [200, 429]
    assert [a.status_code for a in infos][:5] == [200] * 5 and 429 in {a.status_code for a in infos}


def history(client: httpx.Client, days: int) -> httpx.Response:
    return client.post("/inApps/v1/notifications/history",
                       json={"startDate": NOW_MS - days * DAY_MS, "endDate": NOW_MS})


def test_sandbox_notification_history_reaches_back_30_days_production_180(
        sandbox: EmulatorHandle, emulator: EmulatorHandle) -> None:
    with apple_client(sandbox) as apple:
        old, recent = history(apple, 31), history(apple, 29)
    with apple_client(emulator) as apple:
        production = history(apple, 179)
    assert old.status_code == 400 and old.json()["errorCode"] == 4000012
    assert recent.status_code == 200 and production.status_code == 200


def test_sandbox_signs_sandbox_transactions_and_writes_it_in_the_config(sandbox: EmulatorHandle) -> None:
    config: dict[str, Any] = tomllib.loads(sandbox.config_path.read_text(encoding="utf-8"))
    with apple_client(sandbox) as apple:
        signed = apple.get(f"/inApps/v1/transactions/{FIRST_A}").json()["signedTransactionInfo"]
    payload = jwt.decode(signed, options={"verify_signature": False})
    assert payload["environment"] == "Sandbox" and config["stores"]["apple"]["environment"] == "Sandbox"
    assert payload["appAccountToken"] == CUSTOMER_A
