"""Fault injection (``--faults`` and ``/_emulator/faults``) and the control endpoints."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emulator_support import DAY_MS, LOCAL, NOW_MS, set_faults

from supportdesk.emulator.faults import Fault, FaultSpecError, parse_spec
from supportdesk.emulator.server import EmulatorHandle


def test_spec_grammar() -> None:
    faults = parse_spec("google:429=1*2, apple:latency=200@0.5,all:timeout")
    assert [(f.store, f.kind, f.arg, f.rate, f.count) for f in faults] == [
        ("google", "429", 1, 1.0, 2),
        ("apple", "latency", 200, 0.5, None),
        ("all", "timeout", 30000, 1.0, None),
    ]
    assert parse_spec("") == [] and parse_spec(None) == []


@pytest.mark.parametrize(
    "spec", ["paypal:500", "apple:418", "apple:500@1.5", "apple:500*0", "apple", "apple:500=x"]
)
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_spec(spec)


def test_429_with_count_then_normal_again(google: httpx.Client, emulator: EmulatorHandle) -> None:
    set_faults(emulator, "google:429=7*2")
    answers = [google.get("/purchases/products/coins_350/tokens/token-001") for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "7"
    assert answers[0].json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert LOCAL.get(f"{emulator.base_url}/_emulator/faults").json() == {"faults": []}


@pytest.mark.parametrize(("kind", "code"), [("500", 5000000), ("503", 5000001), ("429", 4290000)])
def test_apple_errors_in_apples_shape(apple: httpx.Client, emulator: EmulatorHandle, kind: str, code: int) -> None:
    set_faults(emulator, f"apple:{kind}*1")
    response = apple.get("/inApps/v1/transactions/2000000000000")
    assert (response.status_code, response.json()["errorCode"]) == (int(kind), code)
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("kind", ["500", "503"])
def test_web_server_errors_in_stripes_shape(web: httpx.Client, emulator: EmulatorHandle, kind: str) -> None:
    set_faults(emulator, f"web:{kind}*1")
    response = web.get("/v1/charges")
    assert response.status_code == int(kind) and response.json()["error"]["type"] == "api_error"


@pytest.mark.parametrize("kind", ["malformed", "bad_signature"])
def test_malformed_bodies_for_google_and_web(google: httpx.Client, web: httpx.Client, emulator: EmulatorHandle,
                                             kind: str) -> None:  # fmt: skip
    set_faults(emulator, f"google:{kind}*1", f"web:{kind}*1")
    for response in (google.get("/orders/GPA.3300-0000-0000-00001"), web.get("/v1/charges")):
        assert response.status_code == 200
        with pytest.raises(ValueError):
            response.json()


def test_apple_malformed_and_bad_signature(apple: httpx.Client, emulator: EmulatorHandle, config: dict) -> None:
    from appstoreserverlibrary.signed_data_verifier import VerificationException
    from test_emulator_apple import verifier

    set_faults(emulator, "apple:malformed*1", "apple:bad_signature*1")
    malformed = apple.get("/inApps/v1/transactions/2000000000000")
    broken = apple.get("/inApps/v1/transactions/2000000000000").json()["signedTransactionInfo"]
    fine = apple.get("/inApps/v1/transactions/2000000000000").json()["signedTransactionInfo"]
    with pytest.raises(ValueError):
        malformed.json()
    with pytest.raises(VerificationException):
        verifier(config).verify_and_decode_signed_transaction(broken)
    assert verifier(config).verify_and_decode_signed_transaction(fine).transactionId == "2000000000000"


def test_expired_token_for_google(google: httpx.Client, emulator: EmulatorHandle, config: dict) -> None:
    from test_emulator_google import assertion, token_response

    set_faults(emulator, "google:expired_token*1")
    issued = token_response(config, assertion(config)).json()  # the token endpoint uses the fault up
    stale = google.get(
        "/orders/GPA.3300-0000-0000-00001", headers={"Authorization": f"Bearer {issued['access_token']}"}
    )
    set_faults(emulator, "google:expired_token*1")
    refused = google.get("/orders/GPA.3300-0000-0000-00001")  # a good token, answered 401 all the same
    accepted = google.get("/orders/GPA.3300-0000-0000-00001")
    assert issued["expires_in"] == 0
    assert [stale.status_code, refused.status_code, accepted.status_code] == [401, 401, 200]


def test_expired_token_for_apple_and_web(apple: httpx.Client, web: httpx.Client, emulator: EmulatorHandle) -> None:
    set_faults(emulator, "apple:expired_token*1", "web:expired_token*1")
    assert apple.get("/inApps/v1/transactions/2000000000000").status_code == 401
    assert web.get("/v1/charges").status_code == 401
    assert web.get("/v1/charges").status_code == 200


def test_latency_delays_but_answers(web: httpx.Client, emulator: EmulatorHandle) -> None:
    set_faults(emulator, "web:latency=50*1")
    assert web.get("/v1/charges").status_code == 200
    assert LOCAL.get(f"{emulator.base_url}/_emulator/faults").json()["faults"] == []


def test_timeout_outlasts_the_client_deadline(emulator: EmulatorHandle, config: dict) -> None:
    set_faults(emulator, "web:timeout=3000*1")
    store = config["stores"]["web"]
    headers = {"Authorization": f"Bearer {store['secret_key']}"}
    with pytest.raises(httpx.TimeoutException):
        LOCAL.get(f"{store['base_url']}/v1/charges", headers=headers, timeout=0.3)
    assert LOCAL.get(f"{store['base_url']}/v1/charges", headers=headers, timeout=5).status_code == 200


def test_rate_is_repeatable_with_the_seed(web: httpx.Client, emulator: EmulatorHandle) -> None:
    def run() -> list[int]:
        set_faults(emulator, "all:500@0.5")
        return [web.get("/v1/charges", params={"limit": 1}).status_code for _ in range(16)]

    first = run()
    LOCAL.post(f"{emulator.base_url}/_emulator/reset").raise_for_status()  # reseeds the RNG
    assert run() == first and {200, 500} <= set(first)


def test_all_hits_every_store_but_never_the_control_endpoints(apple: httpx.Client, google: httpx.Client,
                                                             web: httpx.Client, emulator: EmulatorHandle) -> None:  # fmt: skip
    set_faults(emulator, "all:503")
    assert apple.get("/inApps/v1/transactions/2000000000000").status_code == 503
    assert google.get("/orders/GPA.3300-0000-0000-00001").status_code == 503
    assert web.get("/v1/charges").status_code == 503
    assert LOCAL.get(f"{emulator.base_url}/_emulator/health").status_code == 200


def test_google_token_endpoint_only_sees_expired_token(emulator: EmulatorHandle, config: dict) -> None:
    from test_emulator_google import assertion, token_response

    set_faults(emulator, "google:500*1")
    assert token_response(config, assertion(config)).status_code == 200
    assert LOCAL.get(f"{emulator.base_url}/_emulator/faults").json()["faults"][0]["count"] == 1


def test_control_refuses_bad_fault_lists(emulator: EmulatorHandle) -> None:
    url = f"{emulator.base_url}/_emulator/faults"
    assert LOCAL.post(url, json=["apple:teapot"]).status_code == 400
    assert LOCAL.post(url, json={"store": "apple"}).status_code == 400
    objects = LOCAL.post(url, json=[{"store": "web", "kind": "429", "count": 3}]).json()["faults"]
    assert objects == [Fault("web", "429", 1, 1.0, 3).__dict__]
    assert LOCAL.delete(url).json() == {"faults": []}


def test_clock_moves_the_windows(google: httpx.Client, emulator: EmulatorHandle) -> None:
    def voided() -> list[Any]:
        return google.get("/purchases/voidedpurchases").json().get("voidedPurchases", [])

    before = len(voided())
    moved = LOCAL.post(f"{emulator.base_url}/_emulator/clock", json={"advance_seconds": 20 * 86400}).json()
    after = len(voided())
    assert moved["now_ms"] == NOW_MS + 20 * DAY_MS
    assert 0 < after < before
