"""One purchase: header, region then, refund decision now, flags, and our records and the store's on one timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Static
from textual.worker import Worker, get_current_worker

from supportdesk.tui.format import coins, decision_text, money, plain, shown, when
from supportdesk.tui.navigation import Open
from supportdesk.tui.screens.base import DeskScreen
from supportdesk.tui.widgets.keyed_table import PlainTable

if TYPE_CHECKING:
    from collections.abc import Callable

    from supportdesk.tui.backend import Backend

TIMELINE = ("when", "from", "what", "amount", "ref")


class PurchaseScreen(DeskScreen):
    DEFAULT_CSS = """
    PurchaseScreen #pu-body { height: 1fr; padding: 0 1; }
    PurchaseScreen #pu-timeline { height: auto; max-height: 12; margin: 1 0 0 0; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="back"),
        Binding("r", "refresh", "Reload", show=False, id="refresh"),
        Binding("f", "refund", "Refund", id="refund_purchase"),
        Binding("g", "region", "Region", id="region_at_purchase"),
        Binding("a", "audit", "Audit", id="audit_trail"),
        Binding("c", "copy_id", "Copy id", id="copy_id"),
    ]

    class Loaded(Message):
        def __init__(self, body: dict[str, Any]) -> None:
            super().__init__()
            self.body = body

    def __init__(self, backend: Backend, purchase_id: str, settled: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.purchase_id = purchase_id
        self.settled = settled  # the account screen reloads when a refund from here moved money
        self.body: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="pu-body"):
            yield Static(plain(f"Purchase {self.purchase_id}"), id="pu-head")
            yield Static("", id="pu-summary")
            table = PlainTable(id="pu-timeline", cursor_type="row", zebra_stripes=True)
            table.add_columns(*TIMELINE)
            yield table
            yield Static("", id="pu-ledger")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.action_refresh()
        self.query_one("#pu-timeline").focus()

    def action_back(self) -> None:
        self.dismiss()

    def action_refresh(self) -> None:
        self.query_one("#pu-body").loading = True
        self.load()

    @work(thread=True, exclusive=True, group="purchase", exit_on_error=False)
    def load(self) -> None:
        body = self.backend.desk.accounts.purchase(self.purchase_id).body
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(body))

    def worker_failed(self, worker: Worker[object]) -> None:
        self.query_one("#pu-body").loading = False
        if self.body is None:
            self.query_one("#pu-head", Static).update(
                plain(f"Could not load {self.purchase_id}. Press r to retry, Esc to go back."))

    def on_purchase_screen_loaded(self, message: Loaded) -> None:
        self.body = body = message.body
        self.query_one("#pu-head", Static).update(head_text(body["purchase"]))
        self.query_one("#pu-summary", Static).update(summary_text(body))
        table = self.query_one("#pu-timeline", PlainTable)
        table.clear()
        for i, e in enumerate(body["timeline"]):
            table.add_row(when(e["at"]), e["source"], e["event"], money(e["amount_minor"], e["currency"]),
                          e["ref"] or "", key=str(i))
        self.query_one("#pu-ledger", Static).update(ledger_text(body["ledger"]))
        self.query_one("#pu-body").loading = False
        table.focus()

    def _loaded(self) -> dict[str, Any] | None:
        if self.body is None:
            self.notify("Wait for the purchase to load.", severity="warning")
        return self.body

    def action_refund(self) -> None:
        def settled() -> None:  # from the apply worker's thread: show the purchase as it is now
            self.app.call_from_thread(lambda: self.action_refresh() if self.is_attached else None)
            if self.settled is not None:
                self.settled()

        self.post_message(Open.Refund(self.purchase_id, settled))

    def action_region(self) -> None:
        if (body := self._loaded()) is not None:
            p = body["purchase"]
            self.post_message(Open.Region(p["country"], p["purchased_at"].isoformat().replace("+00:00", "Z"), p))

    def action_audit(self) -> None:
        if (body := self._loaded()) is not None:
            p = body["purchase"]
            self.post_message(Open.Audit(account_id=p["account_id"], label=f"{p['handle']} {p['account_id']}"))

    def action_copy_id(self) -> None:
        self.app.copy_to_clipboard(self.purchase_id)
        self.notify(f"Copied {shown(self.purchase_id)}", markup=False)


def head_text(p: dict[str, Any]) -> Text:
    return Text.assemble((shown(p["purchase_id"]), "bold"), shown(
        f"  {p['store']}  {p['handle'] or p['account_id']}  {coins(p['coins'])} coins  "
        f"{money(p['price_minor'], p['currency'])}  {p['status']}  {when(p['purchased_at'])}"))


def summary_text(body: dict[str, Any]) -> Text:
    sr, r = body["store_record"], body["region"]
    store = "Store: no record synced" if sr is None else f"Store: {sr['state']}" + (
        f", {money(sr['refunded_minor'], sr['currency'])} back {when(sr['refunded_at'])}" if sr["refunded_at"] else "")
    text = Text.assemble(shown(store), "\nRegion then: ",
                         ("allowed", "green") if r["allowed"] else ("not allowed", "bold red"),
                         f" ({shown(r['reason'])})\nRefund now: ", decision_text(body["decision"]))
    for f in body["flags"]:
        text.append(shown(f"\nFlag {f['rule']} {f['status']} (score {f['score']})"), style="yellow")
    return text


def ledger_text(entries: list[dict[str, Any]]) -> Text:
    lines = [f"  {e['entry_id']}  {e['kind']}  {coins(e['amount'], signed=True)} {e['asset']}  {when(e['at'])}"
             for e in entries]
    return plain("\n".join(["Ledger entries:" if lines else "Ledger entries: none", *lines]), lines=True)
