"""Printing: one JSON object on stdout under --json, human text (rich) on stderr otherwise.

Human lines are built from parts that are text as it is (`say`, `plain`, `cells`), never rich markup: handles,
subjects, reasons and the agent's own query are data, and their control and bidi characters are shown escaped.
"""

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
from rich.text import Text

from supportdesk.domain.text import is_hidden, shown
from supportdesk.errors import SupportdeskError, internal_error

err_console = Console(stderr=True)
out_console = Console()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


Part = str | tuple[str, str]  # text as it is, or (text, style)


def plain(value: object, style: str = "") -> Text:
    """Stored or typed text for a rich table cell or line: never markup, controls shown escaped."""
    return Text(shown("" if value is None else value), style=style)


def cells(*values: object) -> list[Text]:
    return [plain(v) for v in values]


def say(*parts: Part, style: str = "") -> None:
    """One human line on stderr from plain parts; a (text, style) pair colours its text."""
    line = Text(style=style)
    for part in parts:
        text, part_style = part if isinstance(part, tuple) else (part, "")
        line.append(shown(text), style=part_style)
    err_console.print(line, highlight=False)


def to_json(value: Any) -> str:
    """JSON with non-ASCII text as is, except what a terminal would act on: C1 controls and bidi overrides are
    written as \\u escapes too (json.dumps escapes only C0), so `--json` on a terminal is safe to read."""
    text = json.dumps(value, default=_default, ensure_ascii=False)
    if text.isprintable() or not any(is_hidden(c) for c in text):  # every hidden character is unprintable
        return text
    return "".join(f"\\u{ord(c):04x}" if is_hidden(c) else c for c in text)


def emit(result: dict[str, Any], json_mode: bool, human: Callable[[dict[str, Any]], None]) -> None:
    if json_mode:
        sys.stdout.write(to_json(result) + "\n")
    else:
        human(result)


# typer bundles its own click: its ClickException (BadParameter's grandparent) is not click's.
_BUNDLED_CLICK_EXCEPTION: type[Exception] = typer.BadParameter.__mro__[2]


@contextmanager
def handled(json_mode: bool) -> Iterator[None]:
    """Map our errors to exit 1 with the `error` JSON (or a red line), never a traceback; anything unexpected
    becomes an `internal` error that names its log file and prints no data (a database error's text can hold
    other customers' rows)."""
    try:
        yield
    except (typer.Exit, typer.Abort, _BUNDLED_CLICK_EXCEPTION, click.exceptions.Exit, click.exceptions.Abort,
            click.ClickException, KeyboardInterrupt):  # typer bundles its own click: both kinds pass through
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
    say(("error", "bold red"), f" ({exc.code}): {exc.message}")
    if isinstance(exc.details, list):
        for line in exc.details:
            say(f"  {line}")


def confirm(question: str, yes: bool, json_mode: bool) -> None:
    """Ask before moving money unless --yes; under --json there is no prompt, so --yes is required."""
    if yes:
        return
    if json_mode or not sys.stdin.isatty():
        from supportdesk.errors import InvalidInput

        raise InvalidInput(f"{question} Re-run with --yes to confirm (no prompt under --json or without a terminal).")
    if not typer.confirm(shown(question), default=False, err=True):
        raise typer.Exit(1)
