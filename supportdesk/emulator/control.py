"""The emulator's own control endpoints under ``/_emulator`` (never faulted, never authenticated).

- ``GET /health``
- ``GET /faults``; ``POST /faults`` with a JSON list of spec strings or fault objects replaces the active
  faults; ``DELETE /faults`` clears them
- ``GET /consumption``: the Apple consumption answers received (``transactionId``, ``body``, ``receivedAt``)
- ``GET /clock``; ``POST /clock`` with ``{"now": ISO-8601 | null}`` (null: wall clock) or
  ``{"advance_seconds": N}`` (fixes the clock N seconds after its current now)
- ``POST /reset``: records as loaded, starting clock and faults; clears consumption answers, idempotency
  keys and Pub/Sub acks (keys and issued Google tokens stay valid)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from supportdesk.emulator.clock import parse_timestamp
from supportdesk.emulator.faults import Fault, FaultSpecError
from supportdesk.emulator.routing import json_response
from supportdesk.emulator.state import EmulatorState


def routes(emu: EmulatorState) -> list[Route]:
    control = Control(emu)
    return [
        Route("/health", control.health, methods=["GET"]),
        Route("/faults", control.faults, methods=["GET", "POST", "DELETE"]),
        Route("/consumption", control.consumption, methods=["GET"]),
        Route("/clock", control.clock, methods=["GET", "POST"]),
        Route("/reset", control.reset, methods=["POST"]),
    ]


def _bad_request(message: str) -> Response:
    return json_response({"error": {"code": "bad_request", "message": message}}, 400)


class Control:
    def __init__(self, emu: EmulatorState) -> None:
        self.emu = emu

    async def health(self, request: Request) -> Response:
        return json_response({"ok": True, **self.emu.clock.describe()})

    async def faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.emu.faults.replace([])
        elif request.method == "POST":
            body = await _json(request)
            if not isinstance(body, list):
                return _bad_request("expected a JSON list of fault specs")
            try:
                self.emu.faults.replace([Fault.from_json(item) for item in body])
            except FaultSpecError as exc:
                return _bad_request(str(exc))
        return json_response({"faults": self.emu.faults.describe()})

    async def consumption(self, request: Request) -> Response:
        return json_response({"consumption": self.emu.consumption})

    async def clock(self, request: Request) -> Response:
        if request.method == "POST":
            body = await _json(request)
            if not isinstance(body, dict):
                return _bad_request('expected {"now": ISO-8601 or null} or {"advance_seconds": N}')
            try:
                self._move_clock(body)
            except (TypeError, ValueError) as exc:
                return _bad_request(f"bad clock change: {exc}")
        return json_response(self.emu.clock.describe())

    def _move_clock(self, body: dict[str, Any]) -> None:
        if "advance_seconds" in body:
            self.emu.clock.fixed_ms = self.emu.now_ms() + int(float(body["advance_seconds"]) * 1000)
        elif "now" in body:
            now = body["now"]
            self.emu.clock.fixed_ms = None if now is None else parse_timestamp(str(now))
        else:
            raise ValueError("give now or advance_seconds")

    async def reset(self, request: Request) -> Response:
        self.emu.reset()
        return json_response({"ok": True, **self.emu.clock.describe()})


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None
