"""One account's money story: who, both balances, and everything that moved its money, a tab each."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane
from textual.worker import Worker, get_current_worker

from supportdesk.domain.tickets import deadlines_first
from supportdesk.tui.format import answer_due, money, plural, shown, when
from supportdesk.tui.navigation import Open
from supportdesk.tui.screens.base import DeskScreen
from supportdesk.tui.widgets.keyed_table import KeyedTable

if TYPE_CHECKING:
    from supportdesk.tui.backend import Backend

Row = dict[str, Any]
STATUS_STYLE = {"active": "$success", "limited": "$warning"}  # anything else (suspended, banned...) is an error
TABS = ("purchases", "ledger", "gifts", "cashouts", "tickets")
COLUMNS = {
    # What an agent reads first comes first; long ids last (the table scrolls sideways at 80 columns).
    "purchases": ("purchase", "store", "coins", "price", "status", "rgn", "when", "product", "store txn", "refund"),
    "ledger": ("entry", "asset", "amount", "kind", "when", "ref", "actor", "reason", "ticket"),
    "gifts": ("event", "dir", "gift", "qty", "coins", "diamonds", "when", "with"),
    "cashouts": ("cashout", "diamonds", "amount", "status", "when"),
    "tickets": ("ticket", "due", "status", "category", "subject", "created"),
}


class AccountScreen(DeskScreen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="back"),
        Binding("r", "refresh", "Reload", show=False, id="refresh"),
        Binding("c", "copy_id", "Copy id", id="copy_id"),
        Binding("R", "reconcile_account", "Reconcile", id="reconcile_account"),
        Binding("f", "refund_purchase", "Refund", show=False, id="refund_purchase"),
        Binding("g", "region_at_purchase", "Region", id="region_at_purchase"),
        Binding("n", "new_ticket", "New ticket", id="new_ticket"),
        Binding("a", "audit_trail", "Audit", id="audit_trail"),
        Binding("plus", "credit", "Credit", show=False, id="credit"),
        Binding("S", "change_status", "Status", show=False, id="change_status"),
        *(Binding(str(i), f"show_tab({name!r})", name.title(), show=False, id=f"tab_{name}")
          for i, name in enumerate(TABS, start=1)),
    ]

    class Loaded(Message):
        def __init__(self, story: dict[str, Any]) -> None:
            super().__init__()
            self.story = story

    def __init__(self, backend: Backend, account_id: str) -> None:
        super().__init__()
        self.backend = backend
        self.account_id = account_id
        self.story: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="story"):
            yield Static(Content(shown(self.account_id)), id="who")
            yield Static("", id="balances")
            with TabbedContent(id="tabs"):
                for name in TABS:
                    with TabPane(name.title(), id=name):
                        if name == "ledger":
                            yield Static("", id="ledger-note")
                        table = KeyedTable(id=f"{name}-table")
                        table.add_columns(*COLUMNS[name])
                        yield table
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        self.query_one("#story").loading = True
        self.load(self.account_id)

    def action_back(self) -> None:
        self.dismiss()

    def action_reconcile_account(self) -> None:
        handle = self.story["account"]["handle"] if self.story else None
        account_id = self.story["account"]["account_id"] if self.story else self.account_id
        self.post_message(Open.Reconcile(account_id, handle))

    def action_region_at_purchase(self) -> None:
        """The region of the purchase under the cursor, as of its time (rgn: was coin purchase allowed then)."""
        table = self.query_one("#purchases-table", KeyedTable)
        chosen = next((p for p in (self.story or {}).get("purchases", []) if p["purchase_id"] == table.focused_key),
                      None)
        if chosen is None or self.query_one(TabbedContent).active != "purchases":
            self.notify("Pick a purchase on the Purchases tab first.", severity="warning")
            return
        at = chosen["purchased_at"].isoformat().replace("+00:00", "Z")
        self.post_message(Open.Region(chosen["country"], at, chosen))

    def action_refund_purchase(self) -> None:
        self.post_message(Open.AccountRefund(self))

    def action_new_ticket(self) -> None:
        self.post_message(Open.NewTicket(self))

    def action_credit(self) -> None:
        self.post_message(Open.Credit(self))

    def action_change_status(self) -> None:
        self.post_message(Open.Status(self))

    def action_audit_trail(self) -> None:
        if self.story is None:
            self.notify("Wait for the account to load.", severity="warning")
            return
        a = self.story["account"]
        self.post_message(Open.Audit(account_id=a["account_id"], label=f"{a['handle']} {a['account_id']}"))

    @on(DataTable.RowSelected, "#purchases-table")
    def _purchase_chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(Open.Purchase(event.row_key.value, self._reload_from_thread))

    def _reload_from_thread(self) -> None:
        self.app.call_from_thread(lambda: self.action_refresh() if self.is_attached else None)

    @on(DataTable.RowSelected, "#tickets-table")
    def _ticket_chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(Open.Ticket(event.row_key.value, self.action_refresh))

    def action_show_tab(self, name: str) -> None:
        self.query_one(TabbedContent).active = name
        self.active_table.focus()

    def action_copy_id(self) -> None:
        self.active_table.action_copy_id()

    @property
    def active_table(self) -> KeyedTable:
        tabs = self.query_one(TabbedContent)
        return self.query_one(f"#{tabs.active}-table", KeyedTable)

    @work(thread=True, exclusive=True, group="story", exit_on_error=False)
    def load(self, account_id: str) -> None:
        story = self.backend.story(account_id)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(story))

    def worker_failed(self, worker: Worker[object]) -> None:
        self.query_one("#story").loading = False
        if self.story is None:
            self.query_one("#who", Static).update(
                Content(f"Could not load {shown(self.account_id)}. Press r to retry, Esc to go back."))

    def on_account_screen_loaded(self, message: Loaded) -> None:
        self.story = story = message.story
        self.query_one("#who", Static).update(who_line(story["account"]))
        self.query_one("#balances", Static).update(balance_lines(story["balances"], story["account"]["debt"]))
        self.fill_tables(story)
        self.query_one("#story").loading = False
        self.active_table.focus()

    def fill_tables(self, story: dict[str, Any]) -> None:
        gifts = gift_rows(story["gifts"])
        refunds = {r["purchase_id"]: r for r in story["refunds"]}
        self.fill("purchases", story["purchases"], "purchase_id", lambda p: purchase_cells(p, refunds))
        self.fill("ledger", story["ledger"], "entry_id", entry_cells)
        self.fill("gifts", gifts, "event_id", gift_cells)
        self.fill("cashouts", story["cashouts"], "cashout_id", cashout_cells)
        self.fill("tickets", deadlines_first(story["tickets"]), "ticket_id", ticket_cells)
        listed, total = len(story["ledger"]), story["ledger_total"]
        note = self.query_one("#ledger-note", Static)
        note.display = listed < total
        note.update(f"Newest {listed:,} of {plural(total, 'entry', 'entries')}.")
        tabs = self.query_one(TabbedContent)
        counts = {"purchases": len(story["purchases"]), "gifts": len(gifts),
                  "cashouts": len(story["cashouts"]), "tickets": len(story["tickets"])}
        for name, n in counts.items():
            tabs.get_tab(name).label = f"{name.title()} {n:,}"
        ledger_label = f"{listed:,} of {total:,}" if listed < total else f"{total:,}"
        tabs.get_tab("ledger").label = f"Ledger {ledger_label}"

    def fill(self, name: str, rows: Iterable[Row], key: str, cells: Callable[[Row], tuple[object, ...]]) -> None:
        table = self.query_one(f"#{name}-table", KeyedTable)
        table.clear()
        for row in rows:
            table.add_row(*cells(row), key=row[key])


def who_line(a: Row) -> Content:
    style = STATUS_STYLE.get(a["status"], "$error")
    return Content.from_markup(
        f"[b]$handle[/b]  $account_id  [b {style}]$status[/]  $country  $kind  [dim]$email[/]",
        handle=shown(a["handle"]), account_id=shown(a["account_id"]), status=shown(a["status"]),
        country=shown(a["country"]), kind=shown(a["kind"]), email=shown(a["email"]),
    )


def balance_lines(balances: dict[str, Row], debt: dict[str, int]) -> Content:
    lines = []
    width = max(len(f"{b[k]:,}") for b in balances.values() for k in ("ledger", "cached"))
    for asset, label in (("coin", "coins   "), ("diamond", "diamonds")):
        b = balances[asset]
        line = Content.from_markup(f"{label}  ledger [b]$ledger[/b]  cached $cached",
                                   ledger=f"{b['ledger']:>{width},}", cached=f"{b['cached']:>{width},}")
        if b["drift"]:
            line += Content.from_markup("  [b $error]drift $drift[/]", drift=f"{b['drift']:+,}")
        if debt.get(asset):
            line += Content.from_markup("  [b $error]debt $debt[/]", debt=f"{debt[asset]:,}")
        lines.append(line)
    return Content("\n").join(lines)


def gift_rows(gifts: dict[str, list[Row]]) -> list[Row]:
    """Sent and received in one list, newest first; an event seen twice (a self-gift) is listed once."""
    rows: dict[str, Row] = {}
    for direction, other in (("sent", "creator_id"), ("received", "sender_id")):
        for g in gifts[direction]:
            rows.setdefault(g["event_id"], {**g, "dir": direction, "with": g[other]})
    return sorted(rows.values(), key=lambda g: g["at"], reverse=True)


def purchase_cells(p: Row, refunds: dict[str, Row]) -> tuple[str, ...]:
    r = refunds.get(p["purchase_id"])
    refund = f"{r['status']} {money(r['amount_minor'], r['currency'])}" if r else ""
    verdict = p.get("region_at_purchase")
    rgn = "" if verdict is None else "✓" if verdict["allowed"] else "✗"
    return (p["purchase_id"], p["store"], f"{p['coins']:,}", money(p["price_minor"], p["currency"]), p["status"],
            rgn, when(p["purchased_at"]), p["product_id"], p["store_transaction_id"], refund)


def entry_cells(e: Row) -> tuple[str, ...]:
    return (e["entry_id"], e["asset"], f"{e['amount']:+,}", e["kind"], when(e["at"]), e["ref"] or "",
            e["actor"], e["reason"] or "", e["ticket_id"] or "")


def gift_cells(g: Row) -> tuple[str, ...]:
    return (g["event_id"], g["dir"], g["gift_id"], f"{g['quantity']:,}", f"{g['coins']:,}",
            f"{g['diamonds']:,}", when(g["at"]), g["with"])


def cashout_cells(c: Row) -> tuple[str, ...]:
    return (c["cashout_id"], f"{c['diamonds']:,}", money(c["amount_minor"], c["currency"]), c["status"],
            when(c["at"]))


def ticket_cells(t: Row) -> tuple[object, ...]:
    return (t["ticket_id"], answer_due(t), t["status"], t["category"], t["subject"], when(t["created_at"]))
