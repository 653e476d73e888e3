"""The Stripe-shaped web processor, also driven by stripe-python itself."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
import stripe
from emulator_support import web_charges

from supportdesk.emulator.server import EmulatorHandle


@pytest.mark.parametrize("authorization", [None, "Bearer sk_test_wrong", "Bearer sk_live_x"])
def test_refuses_requests_without_the_secret_key(web: httpx.Client, authorization: str | None) -> None:
    web.headers.pop("Authorization")
    headers = {"Authorization": authorization} if authorization else {}
    response = web.get("/v1/charges", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_accepts_the_key_as_basic_auth_user(web: httpx.Client, config: dict[str, Any]) -> None:
    user = base64.b64encode(f"{config['stores']['web']['secret_key']}:".encode()).decode()
    response = web.get("/v1/charges", headers={"Authorization": f"Basic {user}"})
    assert response.status_code == 200


def test_charge_pages_cover_every_charge_exactly_once(web: httpx.Client) -> None:
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 7, **({"starting_after": after} if after else {})}
        body = web.get("/v1/charges", params=params).json()
        assert body["object"] == "list" and body["url"] == "/v1/charges"
        seen += [c["id"] for c in body["data"]]
        pages += 1
        if not body["has_more"]:
            break
        after = body["data"][-1]["id"]
    assert sorted(seen) == sorted(c["id"] for c in web_charges()) and len(seen) == len(set(seen))
    assert pages == 4


def test_charges_filter_by_created(web: httpx.Client) -> None:
    newest = max(c["created"] for c in web_charges())
    body = web.get("/v1/charges", params={"created[gte]": newest - 3 * 3600, "limit": 100}).json()
    assert [c["id"] for c in body["data"]] == ["ch_0000", "ch_0001", "ch_0002", "ch_0003"]


def test_charges_filter_by_customer(web: httpx.Client) -> None:
    body = web.get("/v1/charges", params={"customer": "cus_1", "limit": 100}).json()
    assert sorted(c["id"] for c in body["data"]) == sorted(c["id"] for c in web_charges() if c["customer"] == "cus_1")
    assert {c["customer"] for c in body["data"]} == {"cus_1"} and not body["has_more"]
    assert web.get("/v1/charges", params={"customer": "cus_nobody"}).json()["data"] == []


def test_disputes_filter_by_charge(web: httpx.Client) -> None:
    body = web.get("/v1/disputes", params={"charge": "ch_0005"}).json()
    assert [(d["id"], d["charge"]) for d in body["data"]] == [("dp_0001", "ch_0005")]
    assert web.get("/v1/disputes", params={"charge": "ch_0000"}).json()["data"] == []
    assert len(web.get("/v1/disputes").json()["data"]) == 2


def test_missing_charge_is_resource_missing(web: httpx.Client) -> None:
    response = web.get("/v1/charges/ch_nope")
    error = response.json()["error"]
    assert (response.status_code, error["code"], error["type"]) == (
        404,
        "resource_missing",
        "invalid_request_error",
    )


def test_refund_with_idempotency_key_replays_and_refuses_other_params(web: httpx.Client) -> None:
    key = {"Idempotency-Key": "refund-ch_0001"}
    first = web.post("/v1/refunds", data={"charge": "ch_0001", "amount": 400, "reason": "requested_by_customer"},
                     headers=key)  # fmt: skip
    replay = web.post("/v1/refunds", data={"charge": "ch_0001", "amount": 400, "reason": "requested_by_customer"},
                      headers=key)  # fmt: skip
    other = web.post("/v1/refunds", data={"charge": "ch_0001", "amount": 500}, headers=key)
    charge = web.get("/v1/charges/ch_0001").json()
    expanded = web.get("/v1/charges/ch_0001", params={"expand[]": "refunds"}).json()
    listed = web.get("/v1/refunds", params={"charge": "ch_0001"}).json()
    assert (
        first.status_code == 200 and first.json()["object"] == "refund" and first.json()["status"] == "succeeded"
    )
    assert replay.json() == first.json() and replay.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 400 and other.json()["error"]["type"] == "idempotency_error"
    assert (charge["amount_refunded"], charge["refunded"]) == (400, False)
    # API 2022-11-15: a charge no longer embeds its refunds; expand[]=refunds or the Refunds API give them.
    assert "refunds" not in charge
    assert [r["id"] for r in expanded["refunds"]["data"]] == [first.json()["id"]]
    assert [(r["id"], r["charge"], r["reason"]) for r in listed["data"]] == [
        (first.json()["id"], "ch_0001", "requested_by_customer")]


def test_refund_defaults_to_the_rest_and_then_refuses(web: httpx.Client) -> None:
    web.post("/v1/refunds", data={"charge": "ch_0003", "amount": 100})
    rest = web.post("/v1/refunds", data={"charge": "ch_0003"}).json()
    again = web.post("/v1/refunds", data={"charge": "ch_0003"})
    charge = web.get("/v1/charges/ch_0003").json()
    assert rest["amount"] == 899 and (charge["amount_refunded"], charge["refunded"]) == (999, True)
    assert again.status_code == 400 and again.json()["error"]["code"] == "charge_already_refunded"
    assert web.get(f"/v1/refunds/{rest['id']}").json()["charge"] == "ch_0003"


@pytest.mark.parametrize(
    ("data", "code"),
    [({"charge": "ch_0002"}, "charge_already_refunded"), ({"charge": "ch_0005"}, "charge_disputed"),
     ({"charge": "ch_0001", "amount": 5000}, "amount_too_large"), ({"charge": "ch_missing"}, "resource_missing"),
     ({}, "parameter_missing")],
)  # fmt: skip
def test_refund_errors(web: httpx.Client, data: dict[str, Any], code: str) -> None:
    response = web.post("/v1/refunds", data=data)
    assert response.status_code == 400 and response.json()["error"]["code"] == code


def test_disputes_list(web: httpx.Client) -> None:
    body = web.get("/v1/disputes").json()
    assert [(d["id"], d["status"], d["object"]) for d in body["data"]] == [
        ("dp_0002", "won", "dispute"),
        ("dp_0001", "lost", "dispute"),
    ]


def test_stripe_python_lists_retrieves_and_refunds(emulator: EmulatorHandle, config: dict[str, Any]) -> None:
    store = config["stores"]["web"]
    client = stripe.StripeClient(
        store["secret_key"],
        base_addresses={"api": store["base_url"]},
        http_client=stripe.HTTPXClient(allow_sync_methods=True),  # without it HTTPXClient is async only
        max_network_retries=0,
    )
    listed = [c.id for c in client.v1.charges.list(params={"limit": 10}).auto_paging_iter()]
    charge = client.v1.charges.retrieve("ch_0004")
    refund = client.v1.refunds.create(params={"charge": "ch_0004", "amount": 100, "reason": "duplicate"})
    assert sorted(listed) == sorted(c["id"] for c in web_charges())
    assert charge.amount == 999 and charge.metadata["account_id"] == "acc_1"
    assert refund.id.startswith("re_") and refund.amount == 100
    assert client.v1.charges.retrieve("ch_0004").amount_refunded == 100
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.charges.retrieve("ch_nope")
