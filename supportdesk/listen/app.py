"""The listener's ASGI app (Starlette, like the emulator).

- ``POST /apple``: App Store Server Notifications V2, ``{"signedPayload": JWS}``, verified with Apple's own
  ``SignedDataVerifier.verify_and_decode_notification`` against the configured root ([stores.apple]).
- ``POST /web``: the processor's webhooks, verified with ``stripe.Webhook.construct_event`` and the signing
  secret ([stores.web] webhook_secret).
- ``POST /google``: Pub/Sub push of Play's real-time notifications, its OIDC token verified with google-auth's
  ``id_token.verify_token`` (audience and service account: [stores.google] push_audience, push_service_account).
- ``GET /health``.

A notification is accepted once per notificationUUID / event id (services.notifications); a bad signature is
answered 400 and nothing is written. The store redelivers what is not answered 2xx, so a failure is a 5xx.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import jwt
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from supportdesk.config import Settings
from supportdesk.errors import ConfigError, SupportdeskError
from supportdesk.services.notifications import Notification, accept
from supportdesk.stores.errors import StoreBadSignature
from supportdesk.stores.google import _decode_message
from supportdesk.stores.records import apple_record, web_record
from supportdesk.stores.sources import _google_from_notifications

LOG = logging.getLogger("supportdesk.listen")  # one line per delivery: what came, what was done with it
GOOGLE_CERTS = "https://www.googleapis.com/oauth2/v3/certs"  # Google's JWK set for OIDC tokens
# Processor events that carry a charge, and those that carry a dispute of one.
CHARGE_EVENTS = ("charge.succeeded", "charge.refunded", "charge.refund.updated", "charge.updated")
DISPUTE_EVENTS = ("charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status)


def _refused(status: int, exc: SupportdeskError) -> JSONResponse:
    LOG.warning("refused (%s): %s", status, exc.message)
    return _error(status, exc.code, exc.message)


class Listener:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self._apple: Any = None
        self._web: Any = None
        self._google: Any = None

    def apple_client(self) -> Any:
        if self._apple is None:
            from supportdesk.stores.apple import AppleClient

            self._apple = AppleClient(self._config("apple"))
        return self._apple

    def google_client(self) -> Any:
        if self._google is None:
            from supportdesk.stores.google import GoogleClient

            self._google = GoogleClient(self._config("google"))
        return self._google

    def web_client(self) -> Any:
        if self._web is None:
            from supportdesk.stores.web import WebClient

            self._web = WebClient(self._config("web"))
        return self._web

    def _config(self, store: str) -> dict[str, Any]:
        config = self.settings.stores.get(store)
        if not config:
            raise ConfigError(f"no [stores.{store}] table in the config: the listener cannot verify {store} "
                              "notifications")
        return config

    async def apple(self, request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
            signed = body["signedPayload"]
            if not isinstance(signed, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return _error(400, "bad_request", 'expected a JSON body {"signedPayload": "<JWS>"}')
        return await self._handle(self._apple_notification, signed)

    def _apple_notification(self, signed: str) -> Notification:
        payload = self.apple_client().verify_notification(signed)
        txn = payload.get("transaction")
        signed_at = payload.get("signedDate")
        return Notification("apple", str(payload.get("notificationUUID") or ""), str(payload.get("notificationType")),
                            [apple_record(txn)] if txn else [],
                            datetime.fromtimestamp(signed_at / 1000, UTC) if signed_at else None)

    async def web(self, request: Request) -> JSONResponse:
        payload = await request.body()
        header = request.headers.get("stripe-signature", "")
        return await self._handle(self._web_notification, (payload, header))

    def _web_notification(self, delivery: tuple[bytes, str]) -> Notification:
        import stripe

        secret = self._config("web").get("webhook_secret")
        if not secret:
            raise ConfigError("[stores.web] has no webhook_secret: the processor's webhooks cannot be verified")
        payload, header = delivery
        try:
            event = stripe.Webhook.construct_event(payload.decode("utf-8"), header, secret).to_dict()
        except stripe.SignatureVerificationError as exc:
            raise StoreBadSignature("web", f"the webhook's Stripe-Signature does not verify: {exc}") from None
        except ValueError as exc:
            raise StoreBadSignature("web", f"the webhook body is not an event: {exc}") from None
        kind, obj = str(event["type"]), event["data"]["object"]
        records = []
        if kind in CHARGE_EVENTS:
            records = [web_record(obj)]
        elif kind in DISPUTE_EVENTS:
            records = [web_record(self.web_client().get_charge(str(obj["charge"])), obj)]
        signed_at = datetime.fromtimestamp(int(event.get("created") or 0), UTC) if event.get("created") else None
        return Notification("web", str(event["id"]), kind, records, signed_at)

    async def google(self, request: Request) -> JSONResponse:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        return await self._handle(self._google_notification, (token, await request.body()))

    def _google_notification(self, delivery: tuple[str, bytes]) -> Notification:
        """A Pub/Sub push: its OIDC token verified with google-auth (audience and the push service account as
        configured), then the RTDN completed from the Play APIs exactly as a pulled message is."""
        from google.auth import exceptions as google_errors
        from google.auth.transport.requests import Request as GoogleRequest
        from google.oauth2 import id_token

        config = self._config("google")
        audience, account = config.get("push_audience"), config.get("push_service_account")
        if not audience or not account:
            raise ConfigError("[stores.google] needs push_audience and push_service_account to accept Pub/Sub push")
        token, body = delivery
        try:
            claims = id_token.verify_token(token, GoogleRequest(), audience=audience,
                                           certs_url=config.get("push_certs_url") or GOOGLE_CERTS)
        except (ValueError, google_errors.GoogleAuthError, jwt.PyJWTError) as exc:
            raise StoreBadSignature("google", f"the Pub/Sub push token does not verify: {exc}") from None
        if claims.get("email") != account or not claims.get("email_verified"):
            raise StoreBadSignature("google", f"the Pub/Sub push token is not from {account}")
        try:
            message = _decode_message(json.loads(body))
        except ValueError:
            raise StoreBadSignature("google", "the Pub/Sub push body is not a message") from None
        note = message.notification or {}
        kind = next((k for k in note if k.endswith("Notification")), "unknown")
        records, _ = _google_from_notifications(self.google_client(), [note] if note else [])
        return Notification("google", message.message_id or "", kind, records)

    async def _handle(self, decode: Any, delivery: Any) -> JSONResponse:
        """Verify and write in a worker thread (crypto and the database block); 400 for what will never verify,
        500 for what a redelivery may get through."""
        try:
            note = await run_in_threadpool(decode, delivery)
            if not note.notification_id:
                return _error(400, "bad_request", "the notification has no id")
            result = await run_in_threadpool(accept, self.engine, note)
        except StoreBadSignature as exc:
            return _refused(400, exc)
        except ConfigError as exc:
            return _refused(503, exc)
        except SupportdeskError as exc:
            return _refused(422 if exc.code in ("invalid_input", "store_bad_response") else 500, exc)
        except Exception:
            LOG.exception("a notification failed; the store will deliver it again")
            return _error(500, "internal", "the notification could not be written; deliver it again")
        LOG.info("%s %s %s: %s", note.source, note.kind, note.notification_id,
                 "duplicate, nothing written" if result["duplicate"] else
                 f"{result['inserted']} record(s) new, {result['updated']} updated"
                 + (f", ticket {result['ticket']['ticket_id']}" if result.get("ticket") else ""))
        return JSONResponse(json.loads(json.dumps(result, default=str)))

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})


def build_app(engine: Engine, settings: Settings) -> Starlette:
    listener = Listener(engine, settings)
    return Starlette(routes=[
        Route("/apple", listener.apple, methods=["POST"]),
        Route("/web", listener.web, methods=["POST"]),
        Route("/google", listener.google, methods=["POST"]),
        Route("/health", listener.health, methods=["GET"]),
    ])
