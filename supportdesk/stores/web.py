"""The web checkout's card processor, through stripe-python's StripeClient on httpx.

stripe-python builds URLs as base address + path, so a path-prefixed base URL (the emulator's /web) works.
Its own retries are switched off (max_network_retries=0): they sleep for real and skip 429, so every call
goes through the shared policy instead, which also honours Retry-After.

Since API version 2022-11-15 a charge no longer embeds its refunds (docs.stripe.com/changelog/2022-11-15/
deprecates-charges-auto-expand, which also advises against expanding them): a refunded charge's refunds are
read from the Refunds API (`GET /v1/refunds?charge=`), which gives each refund's id, time and reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from supportdesk.errors import ConfigError, InvalidInput
from supportdesk.stores.errors import (
    StoreAuthFailed,
    StoreBadResponse,
    StoreError,
    StoreNotFound,
    StoreRejected,
)
from supportdesk.stores.http import RETRIED_STATUS
from supportdesk.stores.lookups import each, lookup_workers
from supportdesk.stores.policy import RATE_LIMITED, TIMEOUT, UNAVAILABLE, RetryPolicy, Transient, parse_retry_after
from supportdesk.stores.throttle import store_throttle

STORE = "web"
NAME = "The web payment processor"
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
OUR_REFUND = "supportdesk_refund_id"  # metadata key: finds our own refund again when a key may have been pruned
T = TypeVar("T")


class WebClient:
    def __init__(self, config: dict[str, Any], *, policy: RetryPolicy | None = None) -> None:
        missing = [key for key in ("base_url", "secret_key") if not config.get(key)]
        if missing:
            raise ConfigError(f"[stores.web] is missing {', '.join(missing)}")
        import stripe

        self.policy = policy or RetryPolicy()
        self.throttle = store_throttle(STORE, config)
        self.lookup_workers = lookup_workers(STORE, config)
        self._http = stripe.HTTPXClient(timeout=self.policy.timeout, allow_sync_methods=True)
        self.stripe = stripe.StripeClient(
            config["secret_key"], base_addresses={"api": config["base_url"].rstrip("/")},
            http_client=self._http, max_network_retries=0,
        )

    def close(self) -> None:
        self._http.close()

    # -- calls ------------------------------------------------------------------------------------------------
    def charge_pages(self, *, created_gte: int | None = None, created_lte: int | None = None,
                     customer: str | None = None, limit: int = 100) -> Iterator[list[dict[str, Any]]]:
        """Charges created in [gte, lte] (unix seconds), of one customer if given, newest first, a page at a
        time (`starting_after`)."""
        created = {k: v for k, v in (("gte", created_gte), ("lte", created_lte)) if v is not None}
        params: dict[str, Any] = {"limit": limit, **({"created": created} if created else {})}
        if customer is not None:
            params["customer"] = customer
        for page in self._pages("charges", params, lambda p: self._get("/v1/charges", p)):
            yield self._all_with_refunds(page)

    def list_charges(self, *, created_gte: int | None = None, created_lte: int | None = None
                     ) -> list[dict[str, Any]]:
        return [c for page in self.charge_pages(created_gte=created_gte, created_lte=created_lte) for c in page]

    def get_charge(self, charge_id: str) -> dict[str, Any]:
        obj = self._call(f"charge {charge_id}", lambda: self._get(f"/v1/charges/{quote(charge_id, safe='')}", {}),
                         idempotent=True)
        return self._with_refunds(_as_dict(obj, f"charge {charge_id}"))

    def refunds_of(self, charge_id: str) -> list[dict[str, Any]]:
        """The charge's refunds, newest first, from the Refunds API."""
        pages = self._pages(f"refunds of charge {charge_id}", {"charge": charge_id, "limit": 100},
                            lambda p: self._get("/v1/refunds", p))
        return [refund for page in pages for refund in page]

    def find_our_refund(self, charge_id: str, refund_id: str) -> dict[str, Any] | None:
        """Our refund of the charge (metadata names our refund id), if the processor already made it."""
        return next((r for r in self.refunds_of(charge_id)
                     if (r.get("metadata") or {}).get(OUR_REFUND) == refund_id), None)

    def _all_with_refunds(self, charges: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`_with_refunds` of each charge, the refunded ones' Refunds API reads on the lookup pool."""
        refunded = [i for i, charge in enumerate(charges) if _needs_refunds(charge)]
        out = list(charges)
        for i, refunds in each(self, lambda i: self.refunds_of(str(charges[i].get("id"))), refunded):
            if isinstance(refunds, StoreNotFound):
                raise refunds
            out[i] = _with_list(charges[i], refunds)
        return out

    def _with_refunds(self, charge: dict[str, Any]) -> dict[str, Any]:
        """The charge with its `refunds` list filled from the Refunds API when money went back and the answer
        (an API version before 2022-11-15, or an expand) did not already embed them."""
        return _with_list(charge, self.refunds_of(str(charge.get("id")))) if _needs_refunds(charge) else charge

    def create_refund(self, charge: str, *, idempotency_key: str, amount: int | None = None,
                      reason: str | None = None) -> dict[str, Any]:
        """Refund a charge (all of it when amount is None). The key makes a retry or a re-run refund once."""
        if not idempotency_key:
            raise InvalidInput("a web refund needs an idempotency key, so that a retry cannot refund twice")
        if reason is not None and reason not in REFUND_REASONS:
            raise InvalidInput(f"refund reason must be one of {', '.join(REFUND_REASONS)}, not {reason!r}")
        params: Any = {"charge": charge, "metadata": {OUR_REFUND: idempotency_key}}  # the SDK's RefundCreateParams
        if amount is not None:
            params["amount"] = amount
        if reason is not None:
            params["reason"] = reason
        what = f"refund of charge {charge}"
        obj = self._call(what, lambda: self.stripe.v1.refunds.create(
            params=params, options={"idempotency_key": idempotency_key}), idempotent=True)
        return _as_dict(obj, what)

    def dispute_pages(self, *, created_gte: int | None = None, charge: str | None = None, limit: int = 100
                      ) -> Iterator[list[dict[str, Any]]]:
        """Disputes created from `created_gte` (unix seconds), of one charge if given, a page at a time."""
        params: dict[str, Any] = {"limit": limit, **({"created": {"gte": created_gte}} if created_gte else {})}
        if charge is not None:
            params["charge"] = charge
        yield from self._pages("disputes", params, lambda p: self._get("/v1/disputes", p))

    def list_disputes(self, *, created_gte: int | None = None) -> list[dict[str, Any]]:
        return [d for page in self.dispute_pages(created_gte=created_gte) for d in page]

    # -- plumbing ---------------------------------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, Any]) -> Any:
        """A read through stripe-python's requestor (its auth, encoding and typed errors) answered as the parsed
        JSON: turning every charge into StripeObjects and back into dicts was most of a sync's CPU."""
        return self.stripe.raw_request("get", path, **params)

    def _pages(self, what: str, params: dict[str, Any], fetch: Callable[[Any], Any]
               ) -> Iterator[list[dict[str, Any]]]:
        # `fetch` takes the SDK's typed params (TypedDicts of the stripe package); ours are plain dicts.
        while True:
            body = _as_dict(self._call(what, partial(fetch, params), idempotent=True), what)
            items = body.get("data")
            if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("id") for i in items):
                raise StoreBadResponse(STORE, f"{NAME} sent a list of {what} without a valid 'data' array")
            yield items
            if not body.get("has_more") or not items:
                return
            params = dict(params, starting_after=items[-1]["id"])

    def _call(self, what: str, fn: Callable[[], T], *, idempotent: bool) -> T:
        import stripe

        def attempt(_timeout: float) -> T:
            self.throttle.wait(None)
            try:
                return fn()
            except stripe.APIConnectionError as exc:
                cause = exc.__cause__
                if isinstance(cause, httpx.TimeoutException):
                    raise Transient(TIMEOUT, "no answer in time") from exc
                raise Transient(UNAVAILABLE, f"connection failed: {type(cause).__name__}",
                                safe=isinstance(cause, httpx.ConnectError)) from exc
            except stripe.RateLimitError as exc:
                after = parse_retry_after((exc.headers or {}).get("retry-after"))
                if after:
                    self.throttle.hold(None, after)  # the other lookup workers wait too
                raise Transient(RATE_LIMITED, "HTTP 429", status=429, retry_after=after) from exc
            except stripe.StripeError as exc:
                status = exc.http_status or 0
                if status in RETRIED_STATUS or status >= 500:
                    raise Transient(UNAVAILABLE, f"HTTP {status}", status=status) from exc
                raise

        try:
            return self.policy.run(STORE, what, attempt, idempotent=idempotent)
        except stripe.StripeError as exc:
            raise final_error(exc, what) from exc


def final_error(exc: Any, what: str) -> StoreError:
    import stripe

    status = exc.http_status
    message = getattr(exc, "user_message", None) or str(exc)
    code = getattr(exc, "code", None)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return StoreAuthFailed(STORE, f"{NAME} refused our secret key ({what}): {message}", status=status)
    if status == 404:
        return StoreNotFound(STORE, f"{NAME} has no such record ({what}): {message}", status=status,
                             store_code=code)
    if status is None or status < 400:
        return StoreBadResponse(STORE, f"{NAME} sent a response we cannot read ({what}): {message[:120]}",
                                status=status)
    return StoreRejected(STORE, f"{NAME} rejected the request ({what}, HTTP {status}): {message}", status=status,
                         store_code=code)


def _needs_refunds(charge: dict[str, Any]) -> bool:
    return charge.get("refunds") is None and bool(charge.get("amount_refunded") or charge.get("refunded"))


def _with_list(charge: dict[str, Any], refunds: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(charge, refunds={"object": "list", "data": refunds, "has_more": False})


def _as_dict(obj: Any, what: str) -> dict[str, Any]:
    import stripe

    if isinstance(obj, stripe.StripeResponse):  # a raw read (`_get`): the JSON as parsed
        if not isinstance(obj.data, dict):
            raise StoreBadResponse(STORE, f"{NAME} sent something that is not an object ({what})")
        return obj.data
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is None:
        raise StoreBadResponse(STORE, f"{NAME} sent something that is not an object ({what})")
    return to_dict(for_json=True)
