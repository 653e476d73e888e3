"""The HTTP side of the shared policy: one httpx request classified into success, `Transient`, or a typed error."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from functools import cache
from typing import Any

import certifi
import httpx

from supportdesk.stores.errors import (
    StoreAuthFailed,
    StoreBadResponse,
    StoreError,
    StoreNotFound,
    StoreRejected,
    store_title,
)
from supportdesk.stores.policy import RATE_LIMITED, TIMEOUT, UNAVAILABLE, RetryPolicy, Transient, parse_retry_after
from supportdesk.stores.throttle import Throttle

# Headers for a call; called with refresh=True once after a 401 so an expired token is replaced.
AuthHeaders = Callable[[bool], dict[str, str]]
# Reads a store's error body: (store's own code, store's own message).
ErrorReader = Callable[[Any], tuple[Any, str | None]]

RETRIED_STATUS = {409, 500, 502, 503, 504}


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())  # loading the CA bundle is slow: once


def new_client() -> httpx.Client:
    return httpx.Client(verify=_tls())


class StoreHttp:
    def __init__(self, store: str, base_url: str, policy: RetryPolicy | None = None, *,
                 auth: AuthHeaders | None = None, read_error: ErrorReader | None = None,
                 client: httpx.Client | None = None, throttle: Throttle | None = None,
                 retry_after_epoch_ms: bool = False) -> None:
        self.store = store
        self.throttle = throttle
        self.retry_after_epoch_ms = retry_after_epoch_ms
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.auth = auth
        self.read_error = read_error or (lambda body: (None, None))
        self.client = client or new_client()

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, url: str, *, what: str, idempotent: bool | None = None,
                endpoint: str | None = None, empty_on_timeout: bool = False, **kwargs: Any) -> httpx.Response:
        """Send with retries; return a 2xx response or raise a typed error. `url` may be a path under base_url;
        `endpoint` names the throttle bucket every attempt takes a token from; `empty_on_timeout` makes an
        attempt that gets no answer in time an empty 200 (a held long-poll that had nothing to say)."""
        full = url if url.startswith("http") else self.base_url + url
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD", "PUT", "DELETE")

        def attempt(timeout: float) -> httpx.Response:
            try:
                return self._attempt(method, full, timeout, endpoint, **kwargs)
            except Transient as exc:
                if empty_on_timeout and exc.kind == TIMEOUT:
                    return httpx.Response(200, json={})
                raise

        response = self.policy.run(self.store, what, attempt, idempotent=idempotent)
        if response.status_code >= 400:
            raise self.error_for(response, what)
        return response

    def json(self, method: str, url: str, *, what: str, idempotent: bool | None = None,
             endpoint: str | None = None, empty_on_timeout: bool = False, **kwargs: Any) -> dict[str, Any]:
        response = self.request(method, url, what=what, idempotent=idempotent, endpoint=endpoint,
                                empty_on_timeout=empty_on_timeout, **kwargs)
        return parse_object(self.store, response, what)

    def _attempt(self, method: str, url: str, timeout: float, endpoint: str | None, **kwargs: Any
                 ) -> httpx.Response:
        if self.throttle is not None:
            self.throttle.wait(endpoint)
        response = self._send(method, url, timeout, False, **kwargs)
        if response.status_code == 401 and self.auth is not None:
            response = self._send(method, url, timeout, True, **kwargs)
        try:
            return classify(response, epoch_ms=self.retry_after_epoch_ms)
        except Transient as exc:
            if self.throttle is not None and exc.retry_after:
                self.throttle.hold(endpoint, exc.retry_after)  # the other lookup workers wait too
            raise

    def _send(self, method: str, url: str, timeout: float, refresh: bool, *, headers: dict[str, str] | None = None,
              **kwargs: Any) -> httpx.Response:
        headers = dict(headers or {})
        if self.auth is not None:
            headers.update(self.auth(refresh))
        try:
            return self.client.request(method, url, headers=headers, timeout=timeout, **kwargs)
        except httpx.TimeoutException as exc:
            raise Transient(TIMEOUT, f"no answer within {timeout:.0f} s") from exc
        except httpx.ConnectError as exc:
            raise Transient(UNAVAILABLE, f"cannot connect: {exc}", safe=True) from exc
        except httpx.TransportError as exc:
            raise Transient(UNAVAILABLE, f"connection failed: {exc}") from exc

    def error_for(self, response: httpx.Response, what: str) -> StoreError:
        code, message = self.read_error(_body(response))
        return error_for_status(self.store, response.status_code, what, code, message)


def classify(response: httpx.Response, *, epoch_ms: bool = False) -> httpx.Response:
    status = response.status_code
    if status == 429:
        raise Transient(RATE_LIMITED, "HTTP 429", status=429,
                        retry_after=parse_retry_after(response.headers.get("retry-after"), epoch_ms=epoch_ms))
    if status in RETRIED_STATUS or status >= 500:
        raise Transient(UNAVAILABLE, f"HTTP {status}", status=status)
    return response


def error_for_status(store: str, status: int, what: str, code: Any, message: str | None) -> StoreError:
    """A final (non-retried) 4xx: auth, not found, or the store's own refusal in its own words."""
    title = store_title(store)
    said = f": {message}" if message else ""
    if status in (401, 403):
        return StoreAuthFailed(store, f"{title} refused our credentials ({what}, HTTP {status}){said}",
                               status=status, store_code=code)
    if status in (404, 410):
        return StoreNotFound(store, f"{title} has no such record ({what}){said}",
                             status=status, store_code=code)
    return StoreRejected(store, f"{title} rejected the request ({what}, HTTP {status}){said}",
                         status=status, store_code=code)


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def parse_object(store: str, response: httpx.Response, what: str) -> dict[str, Any]:
    """The body as a JSON object, or a StoreBadResponse that quotes the start of what came instead."""
    if not response.content.strip():
        return {}
    try:
        body = json.loads(response.content)
    except ValueError:
        snippet = response.text[:80].replace("\n", " ")
        raise StoreBadResponse(
            store, f"{store_title(store)} sent a response that is not JSON ({what}, HTTP "
            f"{response.status_code}): {snippet!r}", status=response.status_code) from None
    if not isinstance(body, dict):
        raise StoreBadResponse(
            store, f"{store_title(store)} sent a JSON {type(body).__name__}, not an object ({what})",
            status=response.status_code)
    return body


def require(store: str, body: dict[str, Any], key: str, kind: type, what: str) -> Any:
    """A field the store's contract promises; missing or mistyped means a bad response, not a crash."""
    value = body.get(key)
    if not isinstance(value, kind):
        raise StoreBadResponse(
            store, f"{store_title(store)} sent a response without a valid {key!r} ({what})")
    return value
