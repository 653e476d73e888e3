"""Printing: one JSON object on stdout under --json, human text (rich) on stderr otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import click
import typer
from rich.console import Console
from rich.markup import escape

from supportdesk.errors import SupportdeskError, internal_error

err_console = Console(stderr=True)
out_console = Console()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(value: Any) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False)


def emit(result: dict[str, Any], json_mode: bool, human: Callable[[dict[str, Any]], None]) -> None:
    if json_mode:
        sys.stdout.write(to_json(result) + "\n")
    else:
        human(result)


@contextmanager
def handled(json_mode: bool) -> Iterator[None]:
    """Map our errors to exit 1 with the `error` JSON (or a red line), never a traceback; anything unexpected
    becomes an `internal` error that names its log file and prints no data (a database error's text can hold
    other customers' rows)."""
    try:
        yield
    except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, KeyboardInterrupt):
        raise
    except SupportdeskError as exc:
        report(exc, json_mode)
        raise typer.Exit(1) from None
    except Exception as exc:  # noqa: BLE001 - the one place an unexpected failure becomes a message
        report(internal_error(exc), json_mode)
        raise typer.Exit(1) from None


def report(exc: SupportdeskError, json_mode: bool) -> None:
    if json_mode:
        sys.stdout.write(to_json(exc.to_json()) + "\n")
        return
    err_console.print(f"[bold red]error[/] ({exc.code}): {escape(exc.message)}", highlight=False)
    if isinstance(exc.details, list):
        for line in exc.details:
            err_console.print(f"  {line}", highlight=False, markup=False)


def confirm(question: str, yes: bool, json_mode: bool) -> None:
    """Ask before moving money unless --yes; under --json there is no prompt, so --yes is required."""
    if yes:
        return
    if json_mode or not sys.stdin.isatty():
        from supportdesk.errors import InvalidInput

        raise InvalidInput(f"{question} Re-run with --yes to confirm (no prompt under --json or without a terminal).")
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(1)
