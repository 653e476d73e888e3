"""``supportdesk store-emulator``: serve a dataset's ``store/`` folder as Apple, Google and the web processor.

The emulator modules are imported inside the command so the CLI starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer

FAULTS_HELP = (
    "Inject failures: comma-separated STORE:KIND=ARG@RATE*COUNT (=ARG, @RATE, *COUNT optional). "
    "STORE: apple|google|web|all. "
    "KIND: latency=MS, timeout[=MS] (default 30000), 429[=RETRY_AFTER_S], 500, 503, malformed (200 with a "
    "body that is not JSON), bad_signature (Apple JWS with a broken signature), expired_token (Google issues "
    "expired tokens and answers 401; Apple and web answer 401). RATE: probability 0..1 (seeded by --seed). "
    "COUNT: only the next N matching requests. Example: google:429=1*2,apple:latency=200@0.5"
)


def store_emulator(
    data: Path = typer.Option(..., "--data", help="Dataset directory; its store/ folder is served."),
    port: int = typer.Option(0, "--port", help="Port on 127.0.0.1; 0 picks a free one (printed to stderr)."),
    write_config: Path | None = typer.Option(
        None,
        "--write-config",
        help="Write the app's TOML config here, with the Google service-account file and the generated keys "
        "(<stem>-keys.json, reused on restart) beside it.",
    ),
    now: str | None = typer.Option(
        None, "--now", help="Fix the emulator clock at this ISO 8601 time (default: the wall clock)."
    ),
    faults: str | None = typer.Option(None, "--faults", help=FAULTS_HELP),
    seed: int = typer.Option(0, "--seed", help="Seed of the fault RNG, so runs repeat."),
    environment: str = typer.Option(
        "Production", "--environment",
        help="Apple's environment: Production (180 days of notification history) or Sandbox (30 days, "
        "10 percent of Production's rate limits).",
    ),
    pull_hold: float = typer.Option(2.0, "--pull-hold", min=0, help="Seconds an empty Pub/Sub pull is held."),
    ack_deadline: float = typer.Option(10.0, "--ack-deadline", min=0,
                                       help="Seconds before an un-acked Pub/Sub message is delivered again."),
    rate_limits: bool = typer.Option(True, "--rate-limits/--no-rate-limits",
                                     help="Enforce Apple's per-endpoint rate limits (429 past them)."),
    notify_url: str | None = typer.Option(
        None, "--notify-url", help="The app's listener (supportdesk listen), e.g. http://127.0.0.1:8787: "
        "POST /_emulator/notify delivers signed notifications to <url>/apple and <url>/web."),
) -> None:
    """Serve DIR/store with the stores' real paths, auth, JSON shapes and errors on 127.0.0.1."""
    from supportdesk.emulator.faults import FaultSpecError
    from supportdesk.emulator.records import StoreDataError
    from supportdesk.emulator.server import EmulatorStartError, prepare, serve
    from supportdesk.emulator.state import Realism

    if environment not in ("Production", "Sandbox"):
        _fail(f"--environment must be Production or Sandbox, not {environment!r}")
    realism = Realism(rate_limits=rate_limits, pull_hold_s=pull_hold, ack_deadline_s=ack_deadline)
    try:
        prepared = prepare(data, port=port, config_path=write_config, now=now, faults=faults, seed=seed,
                           environment=environment, realism=realism, notify_url=notify_url)
    except (StoreDataError, FaultSpecError, EmulatorStartError) as exc:
        _fail(str(exc))
    except ValueError as exc:
        _fail(f"--now: {exc}")
    except OSError as exc:  # reading the data or writing the config and keys
        _fail(f"{exc.filename or ''}: {exc.strerror or exc}")
    where = f" (config: {prepared.config_path})" if prepared.config_path else ""
    typer.echo(f"store emulator listening on {prepared.base_url}{where}", err=True)
    serve(prepared)


def _fail(message: str) -> NoReturn:
    typer.echo(f"store-emulator: {message}", err=True)
    raise typer.Exit(1)
