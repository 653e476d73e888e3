"""Deliver the stores' notifications to the app's listener, signed as the real ones are.

``POST /_emulator/notify`` with ``{"store": "apple", "type": "REFUND", "transaction_id": "..."}`` (or
``{"store": "web", "type": "charge.refunded", "transaction_id": "ch_..."}``), optional ``"url"`` (the listener's
base URL, default: the ``--notify-url``; posts go to ``<url>/apple`` and ``<url>/web``) and ``"tamper": true`` (a broken signature). The answer says what the listener answered.

- Apple: App Store Server Notifications V2, ``{"signedPayload": JWS}`` signed with the emulator's x5c chain,
  exactly the payload the notification history serves for that event (same notificationUUID).
- The processor: an event ``{"id": "evt_...", "type", "data": {"object": charge}}`` with a ``Stripe-Signature``
  header ``t=<unix>,v1=<HMAC-SHA256 of "t.payload">`` under the webhook secret written into the config
  (the processor's documented scheme; the timestamp is the sending time, checked against a 5-minute tolerance).
- Google: a Pub/Sub push (``{"message": {"data", "messageId", ...}, "subscription"}``) with an OIDC token
  signed by the emulator's Google key, its JWK set served at ``GET /_emulator/push-certs``
  (``{"store": "google", "type": "oneTimeProductNotification" | "voidedPurchaseNotification",
  "transaction_id": "<orderId>"}``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import jwt
from jwt.algorithms import RSAAlgorithm
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from supportdesk.emulator.apple import AppleApi
from supportdesk.emulator.apple_notifications import _NOTIFICATION_NS, NotificationHistory, derive_notifications
from supportdesk.emulator.pki import Keys
from supportdesk.emulator.routing import json_response
from supportdesk.emulator.rtdn import purchase_notification, voided_notification
from supportdesk.emulator.state import EmulatorState
from supportdesk.emulator.web import _charge

PUSH_AUDIENCE = "supportdesk-listen"  # the audience set on the push subscription
_EVENT_NS = uuid.UUID("0d6f3c8e-2f4b-4c55-9a53-2b8e1d7c9f10")
TIMEOUT = 10.0


def webhook_secret(keys: Keys) -> str:
    """The processor webhook signing secret, derived from the emulator's keys (stable across restarts)."""
    return "whsec_" + hashlib.sha256(f"webhook:{keys.web_secret_key}".encode()).hexdigest()[:32]


def stripe_signature(payload: bytes, secret: str, at: int) -> str:
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def _tampered(signature: str) -> str:
    return signature[:-1] + ("0" if signature[-1] != "0" else "1")


def _problem(status: int, message: str) -> Response:
    return json_response({"error": {"code": "bad_request" if status == 400 else "not_found", "message": message}},
                         status)


class Deliverer:
    def __init__(self, emu: EmulatorState) -> None:
        self.emu = emu
        self.history = NotificationHistory(AppleApi(emu))

    async def notify(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            store, kind, tid = body["store"], str(body["type"]), str(body["transaction_id"])
        except (ValueError, KeyError, TypeError):
            return _problem(400, 'expected {"store": "apple"|"web", "type": ..., "transaction_id": ...}')
        base = body.get("url") or self.emu.notify_url
        if not base:
            return _problem(400, "no listener to deliver to: start the emulator with --notify-url or pass \"url\"")
        url = f"{str(base).rstrip('/')}/{store}"
        if store == "apple":
            built = self._apple(request, kind, tid, bool(body.get("tamper")))
        elif store == "web":
            built = self._web(kind, tid, bool(body.get("tamper")))
        elif store == "google":
            built = self._google(kind, tid, bool(body.get("tamper")))
        else:
            return _problem(400, f"store must be apple, google or web, not {store!r}")
        if isinstance(built, Response):
            return built
        content, headers, notification_id = built
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            try:
                answer = await client.post(url, content=content, headers=headers)
            except httpx.HTTPError as exc:
                return json_response({"delivered_to": url, "notification_id": notification_id, "status": None,
                                      "error": str(exc) or type(exc).__name__})
        try:
            said: Any = answer.json()
        except ValueError:
            said = answer.text
        return json_response({"delivered_to": url, "notification_id": notification_id, "status": answer.status_code,
                              "response": said})

    def _apple(self, request: Request, kind: str, tid: str, tamper: bool) -> Any:
        record = self.emu.apple.get(tid)
        if record is None:
            return _problem(404, f"no Apple transaction {tid}")
        event = next((e for e in derive_notifications([record]) if e[1] == kind), None)
        if event is None:
            return _problem(404, f"Apple would send no {kind} notification for transaction {tid}")
        item = self.history._item(request, event)
        signed = item["signedPayload"]
        if tamper:
            head, payload, signature = signed.split(".")
            signed = f"{head}.{payload}.{('B' if signature[0] == 'A' else 'A') + signature[1:]}"
        notification_id = str(uuid.uuid5(_NOTIFICATION_NS, f"{kind}:{tid}"))
        return json.dumps({"signedPayload": signed}).encode(), {"content-type": "application/json"}, notification_id

    def _web(self, kind: str, tid: str, tamper: bool) -> Any:
        record = self.emu.charges.get(tid)
        if record is None:
            return _problem(404, f"no charge {tid}")
        charge = _charge(record)
        refunded = charge["amount_refunded"]  # a later refund of the same charge is another event
        event_id = f"evt_{uuid.uuid5(_EVENT_NS, f'{kind}:{tid}:{refunded}').hex[:24]}"
        event = {"id": event_id, "object": "event", "type": kind, "created": self.emu.now_ms() // 1000,
                 "livemode": False, "pending_webhooks": 1, "data": {"object": charge}}
        content = json.dumps(event).encode()
        signature = stripe_signature(content, webhook_secret(self.emu.keys), int(time.time()))
        headers = {"content-type": "application/json", "stripe-signature": _tampered(signature) if tamper else signature}
        return content, headers, event_id


    def _google(self, kind: str, order_id: str, tamper: bool) -> Any:
        """A Pub/Sub push: the RTDN message as the subscription holds it, with a Google-signed OIDC token
        (audience PUSH_AUDIENCE, the push service account's email) that google-auth verifies."""
        purchase = self.emu.google_by_order.get(order_id)
        if purchase is None:
            return _problem(404, f"no Google Play order {order_id}")
        package = self.emu.identity.package_name
        if kind == "voidedPurchaseNotification":
            if purchase.get("voidedTimeMillis") is None:
                return _problem(404, f"Google Play order {order_id} was not voided")
            notification = voided_notification(package, purchase)
        else:
            notification = purchase_notification(package, purchase)
        message_id = str(uuid.uuid5(_EVENT_NS, f"google:{kind}:{order_id}").int % 10**16)
        data = base64.b64encode(json.dumps(notification).encode()).decode()
        body = {"message": {"data": data, "messageId": message_id, "publishTime": notification["eventTimeMillis"]},
                "subscription": self.emu.identity.subscription}
        keys, now = self.emu.keys, int(time.time())  # the token is checked against the wall clock
        claims = {"iss": "https://accounts.google.com", "aud": PUSH_AUDIENCE, "email": keys.google_client_email,
                  "email_verified": True, "sub": keys.google_client_email, "iat": now, "exp": now + 3600}
        token = jwt.encode(claims, keys.google_key, algorithm="RS256", headers={"kid": keys.google_key_id})
        if tamper:
            head, payload, signature = token.split(".")
            token = f"{head}.{payload}.{('B' if signature[0] == 'A' else 'A') + signature[1:]}"
        headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
        return json.dumps(body).encode(), headers, message_id

    async def push_certs(self, request: Request) -> Response:
        """The JWK set the push tokens verify against (Google's is https://www.googleapis.com/oauth2/v3/certs)."""
        key = RSAAlgorithm.to_jwk(self.emu.keys.google_public_key, as_dict=True)
        return json_response({"keys": [{**key, "kid": self.emu.keys.google_key_id, "use": "sig", "alg": "RS256"}]})


def routes(emu: EmulatorState) -> list[Route]:
    deliverer = Deliverer(emu)
    return [Route("/notify", deliverer.notify, methods=["POST"]),
            Route("/push-certs", deliverer.push_certs, methods=["GET"])]
