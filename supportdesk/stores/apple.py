"""App Store Server API client: ES256 JWT auth, every signed payload verified with Apple's own verifier.

Apple's library cannot be pointed at another base URL, so the HTTP calls are ours (httpx, the shared policy);
its `SignedDataVerifier` does the chain, signature, bundle id and environment checks.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import jwt

from supportdesk.errors import ConfigError
from supportdesk.stores.errors import StoreBadSignature, StoreNotFound
from supportdesk.stores.http import StoreHttp, require
from supportdesk.stores.lookups import lookup_workers
from supportdesk.stores.policy import RetryPolicy
from supportdesk.stores.roots import load_roots
from supportdesk.stores.throttle import store_throttle

STORE = "apple"
TOKEN_LIFETIME = 300  # Apple allows up to an hour; a short token limits the damage of a leaked one
TOKEN_MARGIN = 60  # mint a new token this long before the cached one expires
KEYS = ("base_url", "issuer_id", "key_id", "private_key", "bundle_id", "environment", "root_certificates")
MAX_CHAINS = 32  # Apple signs with one or two chains at a time
TRANSACTION_NOT_FOUND = 4040010  # TransactionIdNotFoundError: the fallback to Sandbox looks there next


def read_apple_error(body: Any) -> tuple[Any, str | None]:
    if isinstance(body, dict) and "errorCode" in body:
        return body.get("errorCode"), f"{body.get('errorMessage') or 'error'} (errorCode {body.get('errorCode')})"
    return None, None


def check_config(config: dict[str, Any]) -> None:
    missing = [key for key in KEYS if not config.get(key)]
    if missing:
        raise ConfigError(f"[stores.apple] is missing {', '.join(missing)}")
    if config["environment"] not in ("Sandbox", "Production"):
        # Xcode and LocalTesting make Apple's verifier skip the signature check: never accept them here.
        raise ConfigError(f"[stores.apple] environment must be Sandbox or Production, not {config['environment']!r}")
    app_id = config.get("app_apple_id")
    if config["environment"] == "Production" and (isinstance(app_id, bool) or not isinstance(app_id, int)
                                                  or app_id <= 0):
        # Apple's verifier needs it to check Production payloads are for our app (else a bare ValueError).
        raise ConfigError("[stores.apple] app_apple_id is required for environment Production: the app's Apple ID "
                          f"(a number, App Store Connect > App Information), not {app_id!r}")


class AppleClient:
    def __init__(self, config: dict[str, Any], *, policy: RetryPolicy | None = None,
                 client: httpx.Client | None = None, clock: Callable[[], float] = time.time) -> None:
        check_config(config)
        self.config = config
        self.clock = clock
        self._token: tuple[str, float] | None = None
        self._verifiers: dict[str, Any] = {}
        self._chains: dict[tuple[str, ...], tuple[Any, int, int]] = {}  # x5c -> (leaf key, valid from, until)
        self._chains_lock = threading.Lock()
        self._minting = threading.Lock()  # lookup workers share the API token
        self.lookup_workers = lookup_workers(STORE, config)
        throttle = store_throttle(STORE, config)
        self.http = StoreHttp(STORE, config["base_url"], policy, auth=self._auth, read_error=read_apple_error,
                              client=client, throttle=throttle, retry_after_epoch_ms=True)
        # A production app also sees Sandbox transactions (TestFlight, App Review): Apple's advice is to look
        # in Production and, on "transaction id not found", in Sandbox (Get Transaction Info reference).
        sandbox = config.get("sandbox_base_url") if config["environment"] == "Production" else None
        self.sandbox = StoreHttp(STORE, sandbox, policy, auth=self._auth, read_error=read_apple_error,
                                 client=self.http.client, throttle=store_throttle(STORE, {"environment": "Sandbox"}),
                                 retry_after_epoch_ms=True) if sandbox else None

    def close(self) -> None:
        self.http.close()

    # -- auth -------------------------------------------------------------------------------------------------
    def api_token(self, refresh: bool = False) -> str:
        with self._minting:
            return self._api_token(refresh)

    def _api_token(self, refresh: bool) -> str:
        now = self.clock()
        if refresh or self._token is None or self._token[1] - TOKEN_MARGIN <= now:
            claims = {
                "iss": self.config["issuer_id"], "iat": int(now), "exp": int(now) + TOKEN_LIFETIME,
                "aud": "appstoreconnect-v1", "bid": self.config["bundle_id"],
            }
            try:
                token = jwt.encode(claims, self.config["private_key"], algorithm="ES256",
                                   headers={"kid": self.config["key_id"], "typ": "JWT"})
            except (ValueError, TypeError, jwt.PyJWTError) as exc:
                raise ConfigError(f"[stores.apple] private_key cannot sign an ES256 token: {exc}") from exc
            self._token = (token, now + TOKEN_LIFETIME)
        return self._token[0]

    def _auth(self, refresh: bool) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token(refresh)}"}

    # -- verification -----------------------------------------------------------------------------------------
    def verifier(self, environment: str | None = None) -> Any:
        environment = environment or self.config["environment"]
        if environment not in self._verifiers:
            from appstoreserverlibrary.models.Environment import Environment
            from appstoreserverlibrary.signed_data_verifier import SignedDataVerifier

            self._verifiers[environment] = SignedDataVerifier(
                load_roots(self.config["root_certificates"]), False, Environment(environment),
                self.config["bundle_id"], self.config.get("app_apple_id"),
            )
        return self._verifiers[environment]

    def verify_transaction(self, signed: str, environment: str | None = None) -> dict[str, Any]:
        """The decoded transaction, only after its chain (Apple's verifier, once per chain), signature, bundle and
        environment were checked."""
        from appstoreserverlibrary.signed_data_verifier import VerificationException, VerificationStatus

        environment = environment or self.config["environment"]
        try:
            payload = self._jws(signed, environment)
            if payload.get("bundleId") != self.config["bundle_id"]:
                raise VerificationException(VerificationStatus.INVALID_APP_IDENTIFIER)
            if payload.get("environment") != environment:
                raise VerificationException(VerificationStatus.INVALID_ENVIRONMENT)
        except VerificationException as exc:
            raise _bad_signature("a transaction", exc) from None
        return payload

    def verify_notification(self, signed: str) -> dict[str, Any]:
        """The decoded notification; its signedTransactionInfo, if any, verified and decoded as `transaction`.
        The app and environment it names are checked as Apple's verifier does."""
        from appstoreserverlibrary.signed_data_verifier import VerificationException, VerificationStatus

        environment = self.config["environment"]
        try:
            payload = self._jws(signed, environment)
            named = next((payload[k] for k in ("data", "summary", "appData") if isinstance(payload.get(k), dict)),
                         None)
            token = payload.get("externalPurchaseToken")
            if named is None and isinstance(token, dict):
                sandbox = str(token.get("externalPurchaseId") or "").startswith("SANDBOX")
                named = {**token, "environment": "Sandbox" if sandbox else "Production"}
            named = named or {}
            if named.get("bundleId") != self.config["bundle_id"] or (
                    environment == "Production" and named.get("appAppleId") != self.config.get("app_apple_id")):
                raise VerificationException(VerificationStatus.INVALID_APP_IDENTIFIER)
            if named.get("environment") != environment:
                raise VerificationException(VerificationStatus.INVALID_ENVIRONMENT)
        except VerificationException as exc:
            raise _bad_signature("a notification", exc) from None
        info = (payload.get("data") or {}).get("signedTransactionInfo")
        payload["transaction"] = self.verify_transaction(info) if info else None
        return payload

    def _jws(self, signed: str, environment: str) -> dict[str, Any]:
        """A JWS's claims, decoded once, after its ES256 signature verified with the leaf key of its x5c chain.
        A chain is verified by Apple's own chain verifier (roots, intermediates, Apple's OIDs) the first time it
        is seen, and its key is kept while the JWS's date is within the chain's certificates' validity: Apple
        signs every payload of a period with the same chain, so re-verifying it for each was most of a sync."""
        from appstoreserverlibrary.signed_data_verifier import VerificationException, VerificationStatus

        try:
            head, body, signature = signed.split(".")
            header, payload = json.loads(_b64(head)), json.loads(_b64(body))
            raw_signature = _b64(signature)
        except (ValueError, TypeError, binascii.Error):
            raise VerificationException(VerificationStatus.VERIFICATION_FAILURE) from None
        if not isinstance(header, dict) or not isinstance(payload, dict) or header.get("alg") != "ES256":
            raise VerificationException(VerificationStatus.VERIFICATION_FAILURE)
        x5c = header.get("x5c")
        if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
            raise VerificationException(VerificationStatus.VERIFICATION_FAILURE)
        stamp = payload.get("signedDate") or payload.get("receiptCreationDate")
        try:
            when = int(stamp) // 1000 if stamp is not None else int(self.clock())
        except (TypeError, ValueError):
            raise VerificationException(VerificationStatus.VERIFICATION_FAILURE) from None
        key = self._chain_key(tuple(x5c), when, environment)
        if len(raw_signature) != 64:
            raise VerificationException(VerificationStatus.VERIFICATION_FAILURE)
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        der = encode_dss_signature(int.from_bytes(raw_signature[:32], "big"), int.from_bytes(raw_signature[32:], "big"))
        try:
            key.verify(der, f"{head}.{body}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            raise VerificationException(VerificationStatus.VERIFICATION_FAILURE) from None
        return payload

    def _chain_key(self, x5c: tuple[str, ...], when: int, environment: str) -> Any:
        with self._chains_lock:
            cached = self._chains.get(x5c)
        if cached is not None and cached[1] <= when <= cached[2]:
            return cached[0]
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        chain = self.verifier(environment)._chain_verifier  # Apple's checks, not ours
        key = load_pem_public_key(chain.verify_chain(list(x5c), False, when).encode())
        certs = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in x5c[:2]]
        start = max(int(c.not_valid_before_utc.timestamp()) for c in certs)
        end = min(int(c.not_valid_after_utc.timestamp()) for c in certs)
        with self._chains_lock:
            if len(self._chains) >= MAX_CHAINS:
                self._chains.clear()
            self._chains[x5c] = (key, start, end)
        return key

    def _transactions(self, body: dict[str, Any], what: str) -> list[dict[str, Any]]:
        signed = require(STORE, body, "signedTransactions", list, what)
        return [self.verify_transaction(item) for item in signed]

    # -- calls ------------------------------------------------------------------------------------------------
    def get_transaction_info(self, transaction_id: str) -> dict[str, Any]:
        """One transaction; in Production, one Apple does not know there is looked up in Sandbox (when
        `sandbox_base_url` is configured) before it counts as not found."""
        what = f"transaction {transaction_id}"
        path = f"/inApps/v1/transactions/{_seg(transaction_id)}"
        try:
            body = self.http.json("GET", path, what=what, endpoint="transaction")
        except StoreNotFound as exc:
            if self.sandbox is None or exc.store_code != TRANSACTION_NOT_FOUND:
                raise
            body = self.sandbox.json("GET", path, what=f"{what} (Sandbox)", endpoint="transaction")
            return self.verify_transaction(require(STORE, body, "signedTransactionInfo", str, what), "Sandbox")
        return self.verify_transaction(require(STORE, body, "signedTransactionInfo", str, what))

    def get_transaction_history(self, transaction_id: str, *, revision: str | None = None) -> list[dict[str, Any]]:
        """All of the customer's transactions (v2), following `revision` while `hasMore`."""
        return [t for page in self.transaction_history_pages(transaction_id, revision=revision) for t in page]

    def transaction_history_pages(self, transaction_id: str, *, start: datetime | None = None,
                                  end: datetime | None = None, revision: str | None = None
                                  ) -> Iterator[list[dict[str, Any]]]:
        """The customer's transactions (v2) a verified page (up to 20) at a time; `start`/`end` filter on the
        purchase date, start inclusive and end exclusive, as Apple does."""
        params = {"sort": "ASCENDING"}
        if start is not None:
            params["startDate"] = str(_ms(start))
        if end is not None:
            params["endDate"] = str(_ms(end))
        yield from self._pages(f"/inApps/v2/history/{_seg(transaction_id)}", f"history of {transaction_id}",
                               params, revision, "history")

    def get_refund_history(self, transaction_id: str) -> list[dict[str, Any]]:
        return [t for page in self.refund_history_pages(transaction_id) for t in page]

    def refund_history_pages(self, transaction_id: str) -> Iterator[list[dict[str, Any]]]:
        """The customer's refunded transactions (v2), a verified page at a time."""
        yield from self._pages(f"/inApps/v2/refund/lookup/{_seg(transaction_id)}", f"refunds of {transaction_id}",
                               {}, None, "refund_history")

    def _pages(self, path: str, what: str, params: dict[str, str], revision: str | None, endpoint: str
               ) -> Iterator[list[dict[str, Any]]]:
        while True:
            query = dict(params, **({"revision": revision} if revision else {}))
            body = self.http.json("GET", path, what=what, params=query, endpoint=endpoint)
            yield self._transactions(body, what)
            revision = body.get("revision")
            if not body.get("hasMore") or not revision:
                return

    def look_up_order_id(self, order_id: str) -> list[dict[str, Any]]:
        what = f"order {order_id}"
        body = self.http.json("GET", f"/inApps/v1/lookup/{_seg(order_id)}", what=what, endpoint="order_lookup")
        if body.get("status") != 0:
            raise StoreNotFound(STORE, f"The App Store has no valid order {order_id} (lookup status "
                                       f"{body.get('status')})", store_code=body.get("status"))
        return self._transactions(body, what)

    def notification_history_pages(self, start: datetime, end: datetime, notification_type: str | None = None
                                   ) -> Iterator[list[dict[str, Any]]]:
        """Verified notifications a page (up to 20) at a time. The POST only reads, so it is retried."""
        request: dict[str, Any] = {"startDate": _ms(start), "endDate": _ms(end)}
        if notification_type:
            request["notificationType"] = notification_type
        what = f"notification history {notification_type or ''}".strip()
        token: str | None = None
        while True:
            params = {"paginationToken": token} if token else None
            body = self.http.json("POST", "/inApps/v1/notifications/history", what=what, idempotent=True,
                                  params=params, json=request, endpoint="notification_history")
            items = require(STORE, body, "notificationHistory", list, what)
            yield [self.verify_notification(_signed_payload(item, what)) for item in items]
            token = body.get("paginationToken")
            if not body.get("hasMore") or not token:
                return

    def get_notification_history(self, start: datetime, end: datetime, notification_type: str | None = None
                                 ) -> list[dict[str, Any]]:
        return [n for page in self.notification_history_pages(start, end, notification_type) for n in page]

    def send_consumption_information(self, transaction_id: str, *, customer_consented: bool,
                                     delivery_status: str, refund_preference: str | None = None,
                                     consumption_percentage: int | None = None,
                                     sample_content_provided: bool = False) -> None:
        """Answer a CONSUMPTION_REQUEST (v2). consumption_percentage is in milliunits: 100000 = all spent."""
        body: dict[str, Any] = {
            "customerConsented": customer_consented, "deliveryStatus": delivery_status,
            "sampleContentProvided": sample_content_provided,
        }
        if refund_preference is not None:
            body["refundPreference"] = refund_preference
        if consumption_percentage is not None:
            body["consumptionPercentage"] = consumption_percentage
        self.http.request("PUT", f"/inApps/v2/transactions/consumption/{_seg(transaction_id)}",
                          what=f"consumption information for {transaction_id}", json=body, endpoint="consumption")


def _bad_signature(what: str, exc: Any) -> StoreBadSignature:
    status = getattr(getattr(exc, "status", None), "name", "VERIFICATION_FAILURE")
    why = {
        "INVALID_APP_IDENTIFIER": "it is for another app (bundle id)",
        "INVALID_ENVIRONMENT": "it is from another environment",
        "INVALID_CHAIN_LENGTH": "its certificate chain is not three certificates",
        "INVALID_CERTIFICATE": "its certificates cannot be read",
    }.get(status, "its certificate chain or signature does not verify against the configured Apple root")
    return StoreBadSignature(STORE, f"The App Store sent {what} we refuse to trust: {why} ({status})",
                             store_code=status)


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _signed_payload(item: Any, what: str) -> str:
    if isinstance(item, dict) and isinstance(item.get("signedPayload"), str):
        return item["signedPayload"]
    return require(STORE, {}, "signedPayload", str, what)


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)
