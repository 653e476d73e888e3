"""Pub/Sub REST ``:pull`` and ``:acknowledge`` for the RTDN subscription, under ``/google/pubsub``.

An empty subscription holds the pull open before answering ``{}``: without ``returnImmediately`` "the system may
wait (for a bounded amount of time) until at least one message is available" (PullRequest, subscriptions.pull
reference, cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions/pull). The hold is
``Realism.pull_hold_s``; a message published meanwhile (a refund through the API) ends it early.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from supportdesk.emulator.routing import Authorize, StoreRoutes, json_response

if TYPE_CHECKING:
    from supportdesk.emulator.state import EmulatorState

SUBSCRIPTION = "/pubsub/v1/projects/{project}/subscriptions/{subscription}"
POLL_S = 0.05


def add_routes(store: StoreRoutes, emu: EmulatorState, authorize: Authorize) -> None:
    api = PubSubApi(emu)
    store.add(SUBSCRIPTION + ":pull", api.pull, ["POST"], authorize=authorize)
    store.add(SUBSCRIPTION + ":acknowledge", api.acknowledge, ["POST"], authorize=authorize)


def _error(code: int, status: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message, "status": status}}, code)


class PubSubApi:
    def __init__(self, emu: EmulatorState) -> None:
        self.emu = emu

    async def pull(self, request: Request) -> Response:
        problem = self._check_subscription(request)
        body = await _body(request)
        max_messages = body.get("maxMessages") if body is not None else None
        if problem is None and (not isinstance(max_messages, int) or max_messages < 1):
            problem = _error(400, "INVALID_ARGUMENT", "maxMessages must be a positive integer.")
        if problem is not None or body is None or not isinstance(max_messages, int):
            return problem or _error(400, "INVALID_ARGUMENT", "maxMessages must be a positive integer.")
        received = await self._held_pull(max_messages, body.get("returnImmediately") is True)
        return json_response({"receivedMessages": received} if received else {})

    async def _held_pull(self, max_messages: int, immediately: bool) -> list[dict[str, Any]]:
        until = time.monotonic() + (0 if immediately else self.emu.realism.pull_hold_s)
        while True:
            received = self.emu.rtdn.pull(self.emu.now_ms(), max_messages)
            if received or time.monotonic() >= until:
                return received
            await asyncio.sleep(min(POLL_S, max(0.0, until - time.monotonic())))

    async def acknowledge(self, request: Request) -> Response:
        problem = self._check_subscription(request)
        body = await _body(request)
        ack_ids = body.get("ackIds") if body is not None else None
        if problem is None and (not isinstance(ack_ids, list) or not ack_ids):
            problem = _error(400, "INVALID_ARGUMENT", "ackIds must be a non-empty list.")
        if problem is not None or not isinstance(ack_ids, list):
            return problem or _error(400, "INVALID_ARGUMENT", "ackIds must be a non-empty list.")
        unknown = self.emu.rtdn.acknowledge([str(a) for a in ack_ids])
        if unknown:
            return _error(
                400, "INVALID_ARGUMENT", f"Some acknowledgement ids in the request were invalid: {unknown}"
            )
        return json_response({})

    def _check_subscription(self, request: Request) -> Response | None:
        params = request.path_params
        name = f"projects/{params['project']}/subscriptions/{params['subscription']}"
        if name != self.emu.identity.subscription:
            return _error(404, "NOT_FOUND", f"Resource not found (resource={params['subscription']}).")
        return None


async def _body(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
