"""The ASGI app: the three stores and the control endpoints on one port, under path prefixes."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

from supportdesk.emulator import apple, control, deliver, google, web
from supportdesk.emulator.state import EmulatorState


def build_app(emu: EmulatorState) -> Starlette:
    # Run as Production, Apple's Sandbox is a host of its own: here a path beside it.
    sandbox = ([Mount("/apple-sandbox", routes=apple.routes(emu, "Sandbox").routes)]
               if emu.identity.environment == "Production" else [])
    return Starlette(
        routes=[
            Mount("/apple", routes=apple.routes(emu).routes),
            *sandbox,
            Mount("/google", routes=google.routes(emu).routes),
            Mount("/web", routes=web.routes(emu).routes),
            Mount("/_emulator", routes=[*control.routes(emu), *deliver.routes(emu)]),
        ],
        middleware=[Middleware(deliver.NotifyAfterRefunds, emu=emu)],
    )
