"""What every store's endpoints share: JSON answers, page tokens, and the fault + auth guard."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from supportdesk.emulator.faults import Fault

if TYPE_CHECKING:
    from supportdesk.emulator.state import EmulatorState

Handler = Callable[[Request], Awaitable[Response]]
Authorize = Callable[[Request], Response | None]
# Answers a fault in the store's own shape; None lets the handler see it in request.state.fault.
FaultAnswer = Callable[[Fault], Response | None]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # Exactly "application/json": Apple's library only reads errorCode for that content type.
    return Response(json.dumps(body, separators=(",", ":")), status, headers, media_type="application/json")


def malformed_response() -> Response:
    return Response('{"truncated": [1, 2', 200, media_type="application/json")


async def form_items(request: Request) -> list[tuple[str, str]]:
    """A url-encoded form body (the only kind the stores take), without needing python-multipart."""
    return parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)


def encode_page_token(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_page_token(token: str, *keys: str) -> dict[str, Any] | None:
    """The position a token stands for, or None when it is not one of ours."""
    try:
        position = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(position, dict) or not all(isinstance(position.get(k), int) for k in keys):
        return None
    return position


class StoreRoutes:
    """Builds a store's routes, each wrapped in fault injection, then authentication."""

    def __init__(self, emu: EmulatorState, store: str, authorize: Authorize, on_fault: FaultAnswer) -> None:
        self.emu, self.store, self.authorize, self.on_fault = emu, store, authorize, on_fault
        self.routes: list[Route] = []

    def add(
        self,
        path: str,
        handler: Handler,
        methods: list[str],
        *,
        authorize: Authorize | None = None,
        fault_kinds: tuple[str, ...] | None = None,
    ) -> None:
        check = authorize or self.authorize
        self.routes.append(Route(path, self._guard(handler, check, fault_kinds), methods=methods))

    def _guard(self, handler: Handler, authorize: Authorize, fault_kinds: tuple[str, ...] | None) -> Handler:
        async def endpoint(request: Request) -> Response:
            delay_ms, fault = self.emu.faults.draw(self.store, fault_kinds)
            if delay_ms:
                await asyncio.sleep(delay_ms / 1000)
            request.state.fault = fault
            if fault is not None:
                answer = self.on_fault(fault)
                if answer is not None:
                    return answer
            denied = authorize(request)
            return denied if denied is not None else await handler(request)

        return endpoint


def fault_kind(request: Request) -> str | None:
    fault = getattr(request.state, "fault", None)
    return fault.kind if fault is not None else None
