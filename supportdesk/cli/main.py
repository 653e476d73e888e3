"""The typer app: thin. Parse, call a service, print a table or --json.

Commands that live in their own modules are registered by name and imported when they run (or when `--help`
lists them): opening the app or running `search` imports none of them."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import typer
from typer.core import TyperGroup

from supportdesk.cli import start
from supportdesk.cli.context import AppContext
from supportdesk.cli.output import cells, emit, err_console, handled, report, say
from supportdesk.errors import internal_error

if TYPE_CHECKING:
    from supportdesk.desk.accounts import Matches

# Group -> command name -> (module, attribute, "command" | "group"), in the order `--help` lists them.
LAZY: dict[str, dict[str, tuple[str, str, str]]] = {
    "supportdesk": {
        "store-emulator": ("supportdesk.cli.emulator_cmd", "store_emulator", "command"),
        "reconcile": ("supportdesk.cli.reconcile_cmd", "reconcile_cmd", "command"),
        "listen": ("supportdesk.cli.listen_cmd", "listen_cmd", "command"),
        "region": ("supportdesk.cli.region_cmd", "region_cmd", "command"),
        "whoami": ("supportdesk.cli.policy_cmd", "whoami", "command"),
        "refund": ("supportdesk.cli.refund_cmd", "refund_cmd", "command"),
        "purchase": ("supportdesk.cli.purchase_cmd", "purchase_cmd", "command"),
        "home": ("supportdesk.cli.home_cmd", "home_cmd", "command"),
        "credit": ("supportdesk.cli.goodwill_cmd", "credit_cmd", "command"),
        "status": ("supportdesk.cli.goodwill_cmd", "status_cmd", "command"),
        "ticket": ("supportdesk.cli.ticket_cmd", "ticket_app", "group"),
        "macro": ("supportdesk.cli.conversation_cmd", "macro_app", "group"),
        "cashout": ("supportdesk.cli.cashout_cmd", "cashout_app", "group"),
        "audit": ("supportdesk.cli.audit_cmd", "audit_app", "group"),
        "policy": ("supportdesk.cli.policy_cmd", "policy_app", "group"),
        "review": ("supportdesk.cli.review_cmd", "review_app", "group"),
        "stores": ("supportdesk.cli.stores_cmd", "stores_app", "group"),
    },
    "db": {
        "roles": ("supportdesk.cli.policy_cmd", "db_roles", "command"),
        "grant": ("supportdesk.cli.policy_cmd", "db_grant", "command"),
    },
}


class _LazyCommands(MutableMapping[str, Any]):
    """A group's command table: the commands typer built, and the lazy ones, built from their module on first
    use. Listed as typer lists them: commands first, then groups, each in registration order."""

    def __init__(self, built: Mapping[str, Any], lazy: Mapping[str, tuple[str, str, str]]) -> None:
        self._built = dict(built)
        self._lazy = {name: spec for name, spec in lazy.items() if name not in self._built}
        plain = [n for n, c in self._built.items() if not isinstance(c, TyperGroup)]
        groups = [n for n, c in self._built.items() if isinstance(c, TyperGroup)]
        self._order = [*plain, *(n for n, s in self._lazy.items() if s[2] == "command"),
                       *groups, *(n for n, s in self._lazy.items() if s[2] == "group")]

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            spec = self._lazy.pop(name, None)
            command = _build(name, *spec) if spec else None
            if command is None:
                raise KeyError(name)
            self._built[name] = command
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter([n for n in self._order if n in self._built or n in self._lazy])

    def __len__(self) -> int:
        return len(list(iter(self)))

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command
        if name not in self._order:
            self._order.append(name)

    def __delitem__(self, name: str) -> None:
        self._built.pop(name, None)
        self._lazy.pop(name, None)

    def items(self) -> Any:  # listing (help) builds every command and leaves out the ones that cannot be imported
        return [(n, c) for n in list(self) if (c := self.get(n)) is not None]


def _build(name: str, module: str, attribute: str, kind: str) -> Any:
    """The click command typer would have built had `attribute` been registered on `app` under `name`."""
    # Every command's dependencies are mandatory: a failing import is a broken install and is not hidden.
    target = getattr(importlib.import_module(module), attribute)
    holder = typer.Typer()
    if kind == "group":
        holder.add_typer(target, name=name)
        return typer.main.get_group_from_info(
            holder.registered_groups[0], pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=app.rich_markup_mode, suggest_commands=app.suggest_commands)
    holder.command(name)(target)
    return typer.main.get_command_from_info(holder.registered_commands[0],
                                            pretty_exceptions_short=app.pretty_exceptions_short,
                                            rich_markup_mode=app.rich_markup_mode)


class _LazyGroup(TyperGroup):
    lazy_name: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _LazyCommands(self.commands, LAZY[self.lazy_name])


class _RootGroup(_LazyGroup):
    lazy_name = "supportdesk"


class _DbGroup(_LazyGroup):
    lazy_name = "db"


app = typer.Typer(
    name="supportdesk",
    help="Support tooling for the coin economy. Run with no command to open the app.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_RootGroup,
)
db_app = typer.Typer(help="Database schema commands.", cls=_DbGroup)
app.add_typer(db_app, name="db")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option("--db", envvar="SUPPORTDESK_DATABASE_URL",
                                           help="Database URL (sqlite:///path or postgresql://...).")] = None,
    config: Annotated[Path | None, typer.Option("--config", envvar="SUPPORTDESK_CONFIG",
                                                help="TOML config file (agent, database, stores, policy).")] = None,
) -> None:
    ctx.obj = AppContext(config_path=config, db_url=db)
    if ctx.invoked_subcommand is None:
        with handled(False):
            _open_tui(ctx.obj)


def _open_tui(state: AppContext, initial_query: str | None = None) -> None:
    start.open_tui(state, initial_query)  # an error met while connecting is raised here, `handled` reports it


def _state(ctx: typer.Context) -> AppContext:
    return ctx.obj


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="A dataset directory (docs/formats.md section 1).")],
    json_mode: JsonOpt = False,
) -> None:
    """Import a dataset directory: all or nothing; importing it again changes nothing."""
    from supportdesk.services.importer import run_import

    with handled(json_mode):
        engine = _state(ctx).engine
        if json_mode:
            result = run_import(engine, directory)
        else:
            result = _with_progress(lambda progress: run_import(engine, directory, progress))
        emit({"imported": result.imported, "already_present": result.already_present}, json_mode, _print_import)


def _with_progress(run: Any) -> Any:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done)

        return run(progress)


def _print_import(result: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table("file", "imported", "already present", title="import")
    for name, count in result["imported"].items():
        table.add_row(*cells(name, f"{count:,}", f"{result['already_present'].get(name, 0):,}"))
    err_console.print(table)


QueryArg = Annotated[str | None, typer.Argument(help="Handle, email, id or store id.", show_default=False)]
StdinOpt = Annotated[bool, typer.Option("--stdin", help="Batch: one query per line on stdin, one JSON line out each.")]


def _one_or_batch(ctx: typer.Context, query: str | None, batch: bool, json_mode: bool,
                  kind: Literal["search", "story"], human: Any) -> None:
    """One query (a table, or --json), or with --stdin every line of stdin on one engine and one session."""
    from supportdesk.desk import Desk

    if batch == (query is not None):
        raise typer.BadParameter("give one query, or --stdin for one query per line on stdin (not both)",
                                 param_hint="QUERY / --stdin")
    if batch:
        from supportdesk.cli.batch import run_batch

        with handled(True), Desk.open(_state(ctx)).accounts.batch(kind) as ask:
            run_batch(ask)
        return
    with handled(json_mode):
        accounts, text = Desk.open(_state(ctx)).accounts, query or ""
        result = accounts.search(text) if kind == "search" else accounts.story(text)
        emit(result.to_json(), json_mode, lambda _: human(result))


@app.command()
def search(ctx: typer.Context, text: QueryArg = None, json_mode: JsonOpt = False, batch: StdinOpt = False) -> None:
    """Accounts matching a handle (prefix), email, account id, purchase id, store order or transaction id."""
    _one_or_batch(ctx, text, batch, json_mode, "search", _print_search)


def _print_search(result: Matches) -> None:
    from rich.table import Table
    from rich.text import Text

    from supportdesk.domain.text import matches
    from supportdesk.services.lookup import SEARCH_LIMIT

    title = matches(len(result.accounts), result.text, SEARCH_LIMIT)
    table = Table("account", "handle", "email", "country", "status", "coins", "diamonds", title=Text(title))
    for a in result.accounts:
        table.add_row(*cells(a["account_id"], a["handle"], a["email"], a["country"], a["status"],
                             f"{a['coin_balance']:,}", f"{a['diamond_balance']:,}"))
    err_console.print(table)


@app.command()
def account(ctx: typer.Context, query: QueryArg = None, json_mode: JsonOpt = False, batch: StdinOpt = False) -> None:
    """One account's whole money story: purchases, ledger, gifts, cashouts, tickets, balances."""
    from supportdesk.cli.story import print_story

    _one_or_batch(ctx, query, batch, json_mode, "story", print_story)


@app.command()
def demo(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(help="Where to write the dataset (default: a folder in the data dir).")] = None,
    accounts: Annotated[int, typer.Option(min=44, max=100_000, help="How many accounts (at least 44: one per planted case).")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    no_open: Annotated[bool, typer.Option("--no-open", help="Build and import, do not open the app.")] = False,
) -> None:
    """Build a demo dataset with realistic anomalies, import it, and open the app."""
    from platformdirs import user_data_dir

    from supportdesk.dataset.generate import generate
    from supportdesk.services.importer import run_import

    state = _state(ctx)
    with handled(False):
        target = out or Path(user_data_dir("supportdesk", appauthor=False)) / "demo-dataset"
        generate(target, seed=seed, accounts=accounts, now=_demo_now(target))
        say(f"demo dataset written to {target}")
        result = _with_progress(lambda progress: run_import(state.engine, target, progress))
        say(f"imported {sum(result.imported.values()):,} rows ({sum(result.already_present.values()):,} already "
            "present)")
        from supportdesk.services import review

        built = review.rebuild(state.engine, state.settings.policy.get("review"))  # the queue opens as stored
        say(f"review queue: {built.raised:,} flags raised, {built.refreshed + built.unchanged:,} kept")
        if no_open:
            say(f"stores: supportdesk store-emulator --data {target} --port 0 "
                f"--write-config {target.parent / 'demo-stores.toml'}")
            return
        _open_with_emulator(state, target)


def _demo_now(target: Path) -> datetime | None:
    """The date an earlier demo dataset in `target` was made for: the same seed then makes the same rows, so the
    import finds them already present instead of refusing changed content."""
    import json

    try:
        return datetime.fromisoformat(json.loads((target / "planted.json").read_text())["now"].replace("Z", "+00:00"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _open_with_emulator(state: AppContext, dataset: Path) -> None:
    """The demo talks to the stores over real HTTP: the emulator serves the dataset while the app is open, and
    delivers the stores' notifications (a refund made in the app among them) to the listener, in a thread too."""
    from platformdirs import user_log_dir

    from supportdesk.emulator.server import start_in_thread
    from supportdesk.listen import server as listener_server

    # Nothing may write to the terminal under the running app: the emulator and the listener log to files.
    logs = Path(user_log_dir("supportdesk", appauthor=False))
    sock = listener_server.bind_local()
    try:
        emulator = start_in_thread(dataset, config_path=dataset.parent / "demo-stores.toml",
                                   log_file=logs / "demo-emulator.log", notify_url=listener_server.url_of(sock))
    except BaseException:
        sock.close()
        raise
    listener = None
    try:
        if state.config_path is None:
            state.use_config(emulator.config_path)
        listener = listener_server.start_in_thread(state.engine, state.settings, sock, logs / "demo-listener.log")
        say(f"store emulator on {emulator.base_url} (config {emulator.config_path}, log {logs / 'demo-emulator.log'})")
        say(f"listener on {listener.url}: the emulator delivers the stores' notifications there "
            f"(log {logs / 'demo-listener.log'})")
        _open_tui(state)
    finally:
        if listener is not None:
            listener.stop()
        emulator.stop()
        sock.close()


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Bring the database schema up to this version (Alembic)."""
    from supportdesk.db.engine import check_connect, make_engine
    from supportdesk.db.schema import current_revision, head_revision, upgrade

    with handled(False):
        engine = make_engine(_state(ctx).settings.database_url)
        check_connect(engine)
        before = current_revision(engine)
        upgrade(engine)
        say(f"schema: {before or 'empty'} -> {head_revision()}")


def run_command() -> None:
    """A command (or --help): even a failure outside a command's own handling is one line (or the error JSON).
    A bare `supportdesk` never gets here (cli/start.py opens the app without typer)."""
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - typer and click handled theirs; this is everything else
        report(internal_error(exc), "--json" in sys.argv)
        sys.exit(1)


def run() -> None:
    """The console script as installed before pyproject.toml named `supportdesk.cli.start:run`: the same entry."""
    start.run()
