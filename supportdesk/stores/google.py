"""Google Play Developer API (androidpublisher v3) and its Pub/Sub RTDN subscription.

Auth is google-auth's service-account credentials (they honour the key file's token_uri), or Application
Default Credentials (`google.auth.default`) when no key file is configured; the token request goes through a
small httpx adapter instead of `requests`, so one HTTP stack, one throttle and one retry policy serve all.

Why not google-api-python-client: its discovery client does take an `api_endpoint`, but it brings httplib2 and
its own retry loop (which sleeps for real and ignores our deadline), and the three calls we make are plain REST.
Nor google-cloud-pubsub: its subscriber is streaming gRPC, which the emulator does not speak; a unary REST pull
acknowledged only after the batch is committed is what the sync needs.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from supportdesk.errors import ConfigError
from supportdesk.stores.errors import StoreAuthFailed, StoreNotFound, StoreRejected
from supportdesk.stores.http import StoreHttp, classify, new_client, require
from supportdesk.stores.lookups import lookup_workers
from supportdesk.stores.policy import TIMEOUT, UNAVAILABLE, RetryPolicy, Transient
from supportdesk.stores.throttle import store_throttle

STORE = "google"
PUBLISHER_SCOPE = "https://www.googleapis.com/auth/androidpublisher"
PUBSUB_SCOPE = "https://www.googleapis.com/auth/pubsub"
KEYS = ("base_url", "package_name")
BATCH_LIMIT = 1000  # orders:batchGet takes at most this many ids
PULL_TIMEOUT = 30.0  # longer than Pub/Sub holds an empty pull, so a drained subscription answers empty


def read_google_error(body: Any) -> tuple[Any, str | None]:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error.get("status") or error.get("code"), error.get("message")
    if isinstance(error, str):  # the OAuth token endpoint's shape
        return error, body.get("error_description") or error
    return None, None


@dataclass(frozen=True)
class RtdnMessage:
    ack_id: str
    message_id: str | None
    notification: dict[str, Any] | None  # the decoded DeveloperNotification; None if it could not be decoded
    problem: str | None = None


class GoogleClient:
    def __init__(self, config: dict[str, Any], *, policy: RetryPolicy | None = None,
                 client: httpx.Client | None = None) -> None:
        missing = [key for key in KEYS if not config.get(key)]
        if missing:
            raise ConfigError(f"[stores.google] is missing {', '.join(missing)}")
        self.config = config
        self.client = client or new_client()
        self.policy = policy or RetryPolicy()
        self._credentials: dict[str, Any] = {}
        self._refreshing = threading.Lock()  # lookup workers share the token: one of them refreshes it
        self.lookup_workers = lookup_workers(STORE, config)
        base = f"{config['base_url'].rstrip('/')}/androidpublisher/v3/applications/{_seg(config['package_name'])}"
        self.http = StoreHttp(STORE, base, self.policy, auth=self._auth(PUBLISHER_SCOPE),
                              read_error=read_google_error, client=self.client,
                              throttle=store_throttle(STORE, config))
        pull_timeout = float(config.get("pull_timeout") or PULL_TIMEOUT)
        pull_policy = replace(self.policy, timeout=pull_timeout, deadline=self.policy.deadline + pull_timeout)
        self.pubsub = StoreHttp(STORE, config.get("pubsub_base_url", ""), pull_policy, auth=self._auth(PUBSUB_SCOPE),
                                read_error=read_google_error, client=self.client)

    def close(self) -> None:
        self.client.close()

    # -- auth -------------------------------------------------------------------------------------------------
    def credentials(self, scope: str) -> Any:
        """One token per scope (a Play token is not a Pub/Sub token); the key file is read and parsed once."""
        if scope not in self._credentials:
            if self._credentials:
                self._credentials[scope] = next(iter(self._credentials.values())).with_scopes([scope])
                return self._credentials[scope]
            self._credentials[scope] = _load_credentials(self.config.get("service_account_file"), scope)
        return self._credentials[scope]

    def _auth(self, scope: str) -> Callable[[bool], dict[str, str]]:
        def headers(refresh: bool) -> dict[str, str]:
            with self._refreshing:
                creds = self.credentials(scope)
                if refresh or not creds.valid:
                    self._refresh(creds)
                return {"Authorization": f"Bearer {creds.token}"}

        return headers

    def _refresh(self, creds: Any) -> None:
        from google.auth.exceptions import RefreshError

        try:
            creds.refresh(_auth_request(self.client, self.policy.timeout))
        except RefreshError as exc:
            raise StoreAuthFailed(STORE, f"Google Play's token endpoint refused our service account: {exc}") from exc

    # -- purchases and orders ---------------------------------------------------------------------------------
    def get_product_purchase(self, product_id: str, token: str) -> dict[str, Any]:
        return self.http.json("GET", f"/purchases/products/{_seg(product_id)}/tokens/{_seg(token)}",
                              what=f"purchase of {product_id} with token {token[:12]}…", endpoint="purchases")

    def voided_purchase_pages(self, start_time: datetime, end_time: datetime, *, max_results: int = 1000
                              ) -> Iterator[list[dict[str, Any]]]:
        """Voided purchases (Google keeps the last 30 days), a page at a time, quantity-based partial refunds
        included (Google leaves them out unless includeQuantityBasedPartialRefund=true)."""
        params: dict[str, Any] = {"startTime": _ms(start_time), "endTime": _ms(end_time), "maxResults": max_results,
                                  "includeQuantityBasedPartialRefund": "true"}
        while True:
            body = self.http.json("GET", "/purchases/voidedpurchases", what="voided purchases", params=params,
                                  endpoint="purchases")
            yield list(body.get("voidedPurchases") or [])
            token = (body.get("tokenPagination") or {}).get("nextPageToken")
            if not token:
                return
            params = dict(params, token=token)

    def list_voided_purchases(self, start_time: datetime, end_time: datetime) -> list[dict[str, Any]]:
        return [v for page in self.voided_purchase_pages(start_time, end_time) for v in page]

    def get_order(self, order_id: str) -> dict[str, Any]:
        return self.http.json("GET", f"/orders/{_seg(order_id)}", what=f"order {order_id}", endpoint="orders")

    def batch_get_orders(self, order_ids: list[str]) -> list[dict[str, Any]]:
        """Orders by id, 1,000 a call; ids Google does not know are absent from the answer.

        Google fails the whole batch when one id is unknown and wants the ids distinct (orders.batchget
        reference): ids are de-duplicated, and a failed batch is split in halves until the unknown ids stand
        alone, so k unknown ids among n cost about k*log2(n) extra calls, never the sync."""
        unique = list(dict.fromkeys(order_ids))
        out: list[dict[str, Any]] = []
        for start in range(0, len(unique), BATCH_LIMIT):
            out += self._batch(unique[start:start + BATCH_LIMIT])
        return out

    def _batch(self, chunk: list[str]) -> list[dict[str, Any]]:
        try:
            body = self.http.json("GET", "/orders:batchGet", what=f"{len(chunk)} orders", endpoint="orders",
                                  params=[("orderIds", oid) for oid in chunk])
        except (StoreNotFound, StoreRejected) as exc:
            if isinstance(exc, StoreRejected) and exc.status not in (400, 404):
                raise
            if len(chunk) == 1:
                if isinstance(exc, StoreRejected):
                    raise  # one distinct id refused: not an unknown order, a request Google cannot serve
                return []  # the one Google does not know
            half = len(chunk) // 2
            return self._batch(chunk[:half]) + self._batch(chunk[half:])
        return list(body.get("orders") or [])

    def refund_order(self, order_id: str, *, revoke: bool = True) -> None:
        """Refund (and by default revoke) an order. Not idempotent, so only retried when Google did not act."""
        self.http.request("POST", f"/orders/{_seg(order_id)}:refund", what=f"refund of order {order_id}",
                          idempotent=False, params={"revoke": "true" if revoke else "false"}, endpoint="orders")

    # -- real-time developer notifications (Pub/Sub pull) -----------------------------------------------------
    def pull_notifications(self, max_messages: int = 100) -> list[RtdnMessage]:
        """Pull is safe to repeat: messages not acknowledged are delivered again after the ack deadline.

        Pub/Sub holds a pull on an empty subscription for a bounded time (subscriptions.pull reference), so the
        pull waits `pull_timeout` (longer than that hold); an empty answer, or none within it, means drained."""
        what = "pulling notifications"
        body = self.pubsub.json("POST", f"/v1/{self._subscription()}:pull", what=what, idempotent=True,
                                json={"maxMessages": max_messages}, empty_on_timeout=True)
        received = body.get("receivedMessages") or []
        if not isinstance(received, list):
            require(STORE, {}, "receivedMessages", list, what)
        return [_decode_message(item) for item in received]

    def acknowledge(self, ack_ids: list[str]) -> None:
        if ack_ids:
            self.pubsub.request("POST", f"/v1/{self._subscription()}:acknowledge", what="acknowledging notifications",
                                idempotent=True, json={"ackIds": ack_ids})

    def _subscription(self) -> str:
        if not self.config.get("pubsub_base_url") or not self.config.get("subscription"):
            raise ConfigError("[stores.google] needs pubsub_base_url and subscription to pull notifications")
        return self.config["subscription"]


def _load_credentials(path: str | None, scope: str) -> Any:
    """The key file's service account, or Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, the
    gcloud user login, or the metadata server where the app runs on Google Cloud) when no file is configured."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError
    from google.oauth2 import service_account

    if path:
        try:
            return service_account.Credentials.from_service_account_file(path, scopes=[scope])
        except (OSError, ValueError) as exc:
            raise ConfigError(f"[stores.google] service_account_file {path}: {exc}") from exc
    try:
        credentials, _project = google.auth.default(scopes=[scope])
    except DefaultCredentialsError as exc:
        raise ConfigError("[stores.google] has no service_account_file and no Application Default Credentials "
                          f"were found (set GOOGLE_APPLICATION_CREDENTIALS or add service_account_file): {exc}"
                          ) from exc
    return credentials


def _decode_message(item: dict[str, Any]) -> RtdnMessage:
    message = item.get("message") or {}
    ack_id = str(item.get("ackId", ""))
    try:
        notification = json.loads(base64.b64decode(message.get("data", ""), validate=True))
        if not isinstance(notification, dict):
            raise ValueError("not an object")
    except (binascii.Error, ValueError) as exc:
        return RtdnMessage(ack_id, message.get("messageId"), None, f"undecodable notification: {exc}")
    return RtdnMessage(ack_id, message.get("messageId"), notification)


def _auth_request(client: httpx.Client, timeout: float) -> Any:
    """A google.auth transport over our httpx client; 429/5xx and lost connections become `Transient` so the
    shared policy retries the token request (google-auth's own retry loop would sleep for real)."""
    import google.auth.transport

    class Response(google.auth.transport.Response):
        def __init__(self, response: httpx.Response) -> None:
            self._response = response

        @property
        def status(self) -> int:
            return self._response.status_code

        @property
        def headers(self) -> Any:
            return self._response.headers

        @property
        def data(self) -> bytes:
            return self._response.content

    class Request(google.auth.transport.Request):
        def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                     timeout: float | None = None, **kwargs: Any) -> Response:
            try:
                response = client.request(method, url, content=body, headers=headers, timeout=timeout or default)
            except httpx.TimeoutException as exc:
                raise Transient(TIMEOUT, "token endpoint did not answer", safe=True) from exc
            except httpx.TransportError as exc:
                raise Transient(UNAVAILABLE, f"token endpoint: {exc}", safe=True) from exc
            return Response(classify(response))

    default = timeout
    return Request()


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)
