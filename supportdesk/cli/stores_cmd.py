"""`supportdesk stores ...`: talk to the stores. Thin: parse, call stores.sync, print."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from supportdesk.cli.output import cells, emit, err_console, handled, plain, say
from supportdesk.desk import Desk

stores_app = typer.Typer(help="The stores (App Store, Google Play, web): pull what they know into store records.")


@stores_app.command("sync")
def sync_cmd(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="Start: ISO 8601 or a span back from now (30d, 12h).")]
    = "30d",
    until: Annotated[str | None, typer.Option("--until", help="End: ISO 8601 or a span back (default: now).")]
    = None,
    store: Annotated[list[str] | None, typer.Option("--store", help="apple, google or web; repeatable "
                                                    "(default: every configured store).")] = None,
    account: Annotated[str | None, typer.Option("--account", help="Only this account (handle, email, id or "
                                                "store id): the stores are asked about this customer only.")]
    = None,
    json_mode: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Pull each store's transactions, refunds and chargebacks for the window into store records.

    Safe to repeat: a second run changes nothing; Ctrl+C stops between batches and keeps what was written.
    """
    with handled(json_mode):
        desk = Desk.open(ctx.obj)
        window = desk.stores.window(since, until)
        account_id = desk.account_id(account) if account is not None else None
        with _ctrl_c() as stop, _progress(json_mode) as progress:
            result = desk.stores.sync(window, stores=store, progress=progress, cancelled=stop, account_id=account_id)
        emit(result.to_json(), json_mode, _print)
    if result.failed:
        raise typer.Exit(1)




@contextmanager
def _ctrl_c() -> Iterator[Callable[[], bool]]:
    """First Ctrl+C asks the sync to stop after the current batch; a second one stops at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop.is_set
        return

    def on_sigint(_sig: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        err_console.print("[yellow]stopping after the current batch (Ctrl+C again to stop now)[/]")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield stop.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _progress(json_mode: bool) -> Iterator[Callable[[str, int, int | None], None]]:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}"),
                   console=err_console, transient=True, disable=json_mode)
    tasks: dict[str, Any] = {}

    def update(store: str, done: int, total: int | None) -> None:
        if store not in tasks:
            tasks[store] = bar.add_task(f"{store}: records", total=total)
        bar.update(tasks[store], completed=done, total=total)

    with bar:
        yield update


def _print(result: dict[str, Any]) -> None:
    from rich.table import Table

    window = result["window"]
    until = window["until"]
    whose = f" of {result['account_id']}" if result.get("account_id") else ""
    table = Table(title=plain(f"store records{whose} {window['since']:%Y-%m-%d %H:%M} → {until:%Y-%m-%d %H:%M} UTC"))
    for column in ("store", "fetched", "inserted", "updated", "unchanged", "not found"):
        table.add_column(column, justify="left" if column == "store" else "right")
    for store, c in result["synced"].items():
        table.add_row(*cells(store, *(f"{c[k]:,}" for k in ("fetched", "inserted", "updated", "unchanged", "not_found"))))
    err_console.print(table)
    for store, c in result["synced"].items():
        if c.get("skipped"):
            say(f"{store} skipped: {c['skipped']}", style="dim")
    if result["cancelled"]:
        err_console.print("[yellow]cancelled:[/] the batches above are saved; run the same command again to finish")
    for store, error in result.get("failed", {}).items():
        say((f"{store} failed", "bold red"), f" ({error['code']}): {error['message']}")
