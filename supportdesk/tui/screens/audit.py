"""The audit trail of an account, a ticket, or everything: who did what to which target, before → after, why,
under which ticket, with which idempotency key, when; and `v` verifies the whole hash chain."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, get_current_worker

from supportdesk.desk.audit import Verification
from supportdesk.tui.format import change_text, plain, plural, shown, when
from supportdesk.tui.screens.base import DeskScreen
from supportdesk.tui.widgets.keyed_table import KeyedTable

if TYPE_CHECKING:
    from supportdesk.tui.backend import Backend

Row = dict[str, Any]


class AuditScreen(DeskScreen):
    DEFAULT_CSS = """
    #au-head { height: 1; padding: 0 1; background: $boost; }
    #au-status { height: 1; padding: 0 1; }
    #au-table { height: 1fr; min-height: 4; }
    #au-detail { height: 9; border-top: solid $primary; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="back"),
        Binding("v", "verify_chain", "Verify chain", id="verify_chain"),
        Binding("r", "refresh", "Reload", show=False, id="refresh"),
    ]

    class Loaded(Message):
        def __init__(self, records: list[Row]) -> None:
            super().__init__()
            self.records = records

    class Verified(Message):
        def __init__(self, result: Verification) -> None:
            super().__init__()
            self.result = result

    def __init__(self, backend: Backend, *, account_id: str | None = None, ticket_id: str | None = None,
                 label: str | None = None, verify: bool = False) -> None:
        super().__init__()
        self.backend = backend
        self.desk = backend.desk.audit
        self.account_id = account_id
        self.ticket_id = ticket_id
        self.label = label or ticket_id or account_id or "· every record"
        self.verify_on_load = verify
        self.records: list[Row] = []
        self.loaded = False
        self.verifying = False
        self.bad_seq: int | None = None  # the first bad record, once a verification found one

    def compose(self) -> ComposeResult:
        what = "ticket " if self.ticket_id else ""
        yield Static(Text.assemble(("Audit trail ", "bold"), (shown(what + self.label), "bold")), id="au-head")
        yield Static("Loading…", id="au-status")
        table = KeyedTable(id="au-table")
        table.add_columns("#", "when", "who", "what", "target", "change", "ticket")
        yield table
        with VerticalScroll(id="au-detail"):
            yield Static("", id="au-record")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.action_refresh()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "verify_chain":
            return None if self.verifying else True
        return True

    def action_back(self) -> None:
        self.dismiss()

    def status(self, text: str | Text) -> None:
        self.query_one("#au-status", Static).update(text)

    # --- the records ---------------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.query_one("#au-table").loading = True
        self.load()

    @work(thread=True, exclusive=True, group="audit", exit_on_error=False)
    def load(self) -> None:
        records = self.desk.trail(self.ticket_id, account_id=self.account_id).entries
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(records))

    def on_audit_screen_loaded(self, message: Loaded) -> None:
        self.records, self.loaded = message.records, True
        table = self.query_one("#au-table", KeyedTable)
        table.loading = False
        table.clear()
        for r in self.records:
            table.add_row(*record_cells(r, self.bad_seq), key=str(r["seq"]))
        n = len(self.records)
        if n >= self.desk.limit:
            self.status(f"The newest {n:,} records · v verify the chain")
        else:
            self.status(f"{plural(n, 'record')}, newest first · v verify the chain"
                        if n else "Nothing audited here yet · v verify the chain")
        self.show_record(table.focused_key)
        table.focus()
        if self.verify_on_load:
            self.verify_on_load = False
            self.action_verify_chain()

    def worker_failed(self, worker: Worker[object]) -> None:
        self.query_one("#au-table").loading = False
        if worker.group == "verify":
            self.verifying = False
            self.refresh_bindings()
            self.status(Text("Could not verify (see the error). v to try again.", style="bold red"))
        elif not self.loaded:
            self.status(Text("Could not load the trail. r to retry, Esc to go back.", style="bold red"))

    @on(DataTable.RowHighlighted, "#au-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_record(event.row_key.value if event.row_key else None)

    def show_record(self, key: str | None) -> None:
        record = next((r for r in self.records if str(r["seq"]) == key), None)
        self.query_one("#au-record", Static).update(record_detail(record) if record else "")

    # --- verify --------------------------------------------------------------------------------------------

    def action_verify_chain(self) -> None:
        if self.verifying:
            return
        self.verifying = True
        self.refresh_bindings()
        self.status("Verifying the whole chain, record by record…")
        self.verify()

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False)
    def verify(self) -> None:
        self.post_message(self.Verified(self.desk.verify()))

    def on_audit_screen_verified(self, message: Verified) -> None:
        self.verifying = False
        self.refresh_bindings()
        result = message.result
        if result.verified:
            self.bad_seq = None
            self.status(Text(f"✓ Verified: {plural(result.records, 'record')}, the chain is intact.",
                             style="bold green"))
            return
        bad = result.first_bad or {"seq": None, "problem": "unknown"}
        self.bad_seq = bad["seq"]
        where = f"record #{bad['seq']}" if bad["seq"] is not None else "the log"
        self.status(plain(f"✗ NOT verified: {where}: {bad['problem']}", style="bold red"))
        self.notify(f"The audit chain is broken at {where}.", severity="error")
        table = self.query_one("#au-table", KeyedTable)
        keys = [str(r["seq"]) for r in self.records]
        if str(bad["seq"]) in keys:  # on this trail: mark it and go there
            index = keys.index(str(bad["seq"]))
            table.update_cell_at(Coordinate(index, 0), Text(f"✗{bad['seq']}", style="bold red"))
            table.move_cursor(row=index)


def record_cells(r: Row, bad_seq: int | None = None) -> tuple[str | Text, ...]:
    seq = Text(f"✗{r['seq']}", style="bold red") if r["seq"] == bad_seq else str(r["seq"])
    return (seq, when(r["at"]), r["actor"], r["action"], r["target"], change_text(r["before"], r["after"]),
            r["ticket_id"] or "")


def record_detail(r: Row) -> Text:
    """Every field of one record, wrapped: what the table cuts at 80 columns."""
    text = Text.assemble((f"#{r['seq']} ", "bold"), (shown(r["action"]), "bold"), f"  {shown(r['target'])}\n",
                         ("who ", "dim"), shown(r["actor"]), ("  when ", "dim"), f"{r['at']:%Y-%m-%d %H:%M:%S}"
                         if hasattr(r["at"], "strftime") else shown(r["at"]), "\n")
    text.append_text(Text.assemble(("change ", "dim"), shown(change_text(r["before"], r["after"]) or "–"), "\n"))
    text.append_text(Text.assemble(("reason ", "dim"), shown(r["reason"] or "–"), "\n"))
    text.append_text(Text.assemble(("ticket ", "dim"), shown(r["ticket_id"] or "–"), ("  account ", "dim"),
                                   shown(r["account_id"] or "–"), "\n"))
    text.append_text(Text.assemble(("key ", "dim"), shown(r["idempotency_key"] or "–"), "\n"))
    text.append_text(Text.assemble(("before ", "dim"), shown(compact(r["before"])), "\n", ("after ", "dim"),
                                   shown(compact(r["after"]))))
    return text


def compact(d: Row | None) -> str:
    return json.dumps(d, ensure_ascii=False, separators=(", ", ": "), default=str) if d else "–"
