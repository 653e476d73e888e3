"""The console script (`supportdesk`, `python -m supportdesk.cli`): a bare `supportdesk` (`--db`, `--config` and
nothing else) opens the app without loading typer, click or any command, since the first paint is most of what an
agent waits for; anything else is a command for the typer app (cli/main.py). Whichever is asked for is imported
here, once, and the other never is (bench/bench_startup.py measures the first paint).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from supportdesk.desk.context import AppContext
from supportdesk.errors import SupportdeskError, internal_error


def run() -> None:
    options = bare_tui_args(sys.argv[1:])
    if options is None:
        from supportdesk.cli.main import run_command  # a command: typer, click and the command tree

        run_command()
        return
    config = options.get("--config") or os.environ.get("SUPPORTDESK_CONFIG") or None
    state = AppContext(config_path=Path(config) if config else None,
                       db_url=options.get("--db") or os.environ.get("SUPPORTDESK_DATABASE_URL") or None)
    try:
        open_tui(state)
    except Exception as exc:  # noqa: BLE001 - reported as the CLI reports any error: one line, exit 1
        from supportdesk.cli.output import report  # printing an error (rich, typer): only when there is one

        report(exc if isinstance(exc, SupportdeskError) else internal_error(exc), False)
        sys.exit(1)


def open_tui(state: AppContext, initial_query: str | None = None) -> None:
    """The app. The screen draws first; the app reads the settings, connects, checks the schema and reads the
    policy and who acts in a worker. A database or config file that cannot be used ends the app and its error is
    raised here, once the terminal is back (the caller reports it, exit 1)."""
    from supportdesk.tui.app import SupportDeskApp  # the app and its first screen: Textual

    SupportDeskApp(state, initial_query=initial_query).run_checked()


def bare_tui_args(args: list[str]) -> dict[str, str] | None:
    """`--db URL` / `--config PATH` (either form, each at most once) and nothing else: what a bare `supportdesk`
    takes. None for anything else (a command, --help, an unknown or repeated option): typer handles that."""
    options: dict[str, str] = {}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if name not in ("--db", "--config") or name in options:
            return None
        if not eq:
            if not rest or rest[0].startswith("-"):
                return None  # a missing value: typer says so
            value = rest.pop(0)
        if not value:
            return None
        options[name] = value
    return options
