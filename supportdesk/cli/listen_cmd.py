"""`supportdesk listen`: receive the stores' notifications (App Store Server Notifications V2, processor
webhooks) as they happen, verified, once each, into store records and consumption-request tickets."""

from __future__ import annotations

from typing import Annotated

import typer

from supportdesk.cli.output import err_console, handled


def listen_cmd(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (behind your TLS proxy).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8787,
) -> None:
    """Serve POST /apple (App Store notifications), POST /web (processor webhooks) and POST /google (Pub/Sub
    push, optional) until interrupted."""
    import uvicorn

    from supportdesk.listen.app import build_app

    with handled(False):
        state = ctx.obj
        app = build_app(state.engine, state.settings)
        stores = ", ".join(s for s in ("apple", "google", "web") if state.settings.stores.get(s)) or "none configured"
    err_console.print(f"listening on http://{host}:{port} (POST /apple, /web, /google; stores: {stores})",
                      highlight=False, markup=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
