"""Deliver the stores' notifications to the app's listener, signed as the real ones are.

``POST /_emulator/notify`` with ``{"store": "apple", "type": "REFUND", "transaction_id": "..."}`` (or
``{"store": "web", "type": "charge.refunded", "transaction_id": "ch_..."}``), optional ``"url"`` (the listener's
base URL, default: the ``--notify-url``; posts go to ``<url>/apple`` and ``<url>/web``) and ``"tamper": true`` (a broken signature). The answer says what the listener answered.

- Apple: App Store Server Notifications V2, ``{"signedPayload": JWS}`` signed with the emulator's x5c chain,
  exactly the payload the notification history serves for that event (same notificationUUID).
- The processor: an event ``{"id": "evt_...", "type", "data": {"object": charge}}`` with a ``Stripe-Signature``
  header ``t=<unix>,v1=<HMAC-SHA256 of "t.payload">`` under the webhook secret written into the config
  (the processor's documented scheme; the timestamp is the sending time, checked against a 5-minute tolerance).
- After a refund made through the processor's or Google's API, the notification the store sends follows on its
  own (``NotifyAfterRefunds``). ``GET|POST /_emulator/notify-url`` reads or changes where deliveries go.
- Google: a Pub/Sub push (``{"message": {"data", "messageId", ...}, "subscription"}``) with an OIDC token
  signed by the emulator's Google key, its JWK set served at ``GET /_emulator/push-certs``
  (``{"store": "google", "type": "oneTimeProductNotification" | "voidedPurchaseNotification",
  "transaction_id": "<orderId>"}``).
"""

from __future__ import annotations

import asyncio
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
        return json_response(await self.send(url, *built))

    async def send(self, url: str, content: bytes, headers: dict[str, str], notification_id: str) -> dict[str, Any]:
        """POST one delivery; what the listener answered (a delivery that fails is reported, never raised)."""
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            try:
                answer = await client.post(url, content=content, headers=headers)
            except httpx.HTTPError as exc:
                return {"delivered_to": url, "notification_id": notification_id, "status": None,
                        "error": str(exc) or type(exc).__name__}
        try:
            said: Any = answer.json()
        except ValueError:
            said = answer.text
        return {"delivered_to": url, "notification_id": notification_id, "status": answer.status_code,
                "response": said}

    async def after_refund(self, store: str, target: str) -> None:
        """A refund made through the store's API: the store notifies the listener, as the real ones do."""
        if not self.emu.notify_url:
            return
        built = (self._web("charge.refunded", target, False) if store == "web"
                 else self._google("voidedPurchaseNotification", target, False))
        if not isinstance(built, Response):
            await self.send(f"{self.emu.notify_url.rstrip('/')}/{store}", *built)

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

    async def notify_url(self, request: Request) -> Response:
        """GET: where notifications go; POST {"url": URL | null}: change it while running (the demo, tests)."""
        if request.method == "POST":
            try:
                url = json.loads(await request.body())["url"]
                if url is not None and not isinstance(url, str):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                return _problem(400, 'expected {"url": "http://host:port" or null}')
            self.emu.notify_url = url
        return json_response({"url": self.emu.notify_url})

    async def push_certs(self, request: Request) -> Response:
        """The JWK set the push tokens verify against (Google's is https://www.googleapis.com/oauth2/v3/certs)."""
        key = RSAAlgorithm.to_jwk(self.emu.keys.google_public_key, as_dict=True)
        return json_response({"keys": [{**key, "kid": self.emu.keys.google_key_id, "use": "sig", "alg": "RS256"}]})


class NotifyAfterRefunds:
    """ASGI middleware: after a successful refund through the web processor's or Google's API, deliver the
    notification the real store sends (charge.refunded; a voidedPurchaseNotification) to --notify-url, in the
    background, so the API call's answer is not held up."""

    def __init__(self, app: Any, emu: EmulatorState) -> None:
        self.app, self.deliverer = app, Deliverer(emu)
        self.pending: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        target = _refund_target(scope) if scope["type"] == "http" and self.deliverer.emu.notify_url else None
        if target is None:
            await self.app(scope, receive, send)
            return
        status: list[int] = []
        body: list[bytes] = []

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body" and target[1] is None:
                body.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, watch)
        if status and status[0] == 200:
            store, ident = target
            if ident is None:  # the processor names the charge in the refund it answers with
                ident = str(json.loads(b"".join(body) or b"{}").get("charge") or "")
            if ident:
                task = asyncio.get_running_loop().create_task(self.deliverer.after_refund(store, ident))
                self.pending.add(task)  # held until done: the loop keeps only weak references to tasks
                task.add_done_callback(self.pending.discard)


def _refund_target(scope: Any) -> tuple[str, str | None] | None:
    path = scope.get("path", "")
    if scope.get("method") != "POST":
        return None
    if path == "/web/v1/refunds":
        return "web", None
    if path.startswith("/google/") and path.endswith(":refund"):
        return "google", path.rsplit("/", 1)[1].removesuffix(":refund")
    return None


def routes(emu: EmulatorState) -> list[Route]:
    deliverer = Deliverer(emu)
    return [Route("/notify", deliverer.notify, methods=["POST"]),
            Route("/notify-url", deliverer.notify_url, methods=["GET", "POST"]),
            Route("/push-certs", deliverer.push_certs, methods=["GET"])]
