"""One account's money story: who, both balances, and everything that moved its money, a tab each."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static, TabbedContent, TabPane
from textual.worker import Worker, get_current_worker

from supportdesk.domain.glance import cashout_why, glance_line, refunds_line, spend_line, status_why
from supportdesk.tui.format import deadline, money, plural, shown, when
from supportdesk.tui.navigation import Open
from supportdesk.tui.screens.base import DeskScreen
from supportdesk.tui.widgets.keyed_table import KeyedTable
from supportdesk.tui.widgets.keys_footer import KeysFooter

if TYPE_CHECKING:
    from supportdesk.desk.accounts import (
        AccountInfo,
        AccountStory,
        Balances,
        CashoutRow,
        Debt,
        EntryRow,
        FlagRow,
        Gifts,
        LedgerCheck,
        LedgerPage,
        PurchaseRow,
        RefundRow,
        Summary,
        TicketRow,
    )
    from supportdesk.tui.backend import Backend

Row = Any  # a row of the story (typed: supportdesk.desk.accounts)
STATUS_STYLE = {"active": "$success", "limited": "$warning"}  # anything else (suspended, banned...) is an error
TABS = ("purchases", "ledger", "gifts", "cashouts", "tickets", "summary")
# At a wide terminal these sit in a panel beside the history instead of in tabs.
SIDE = ("cashouts", "summary")
WIDE = (140, 40)  # columns, rows
COLUMNS = {
    # What an agent reads first comes first; long ids last (the table scrolls sideways at 80 columns).
    "purchases": ("purchase", "store", "coins", "price", "status", "rgn", "when", "product", "store txn", "refund"),
    "ledger": ("entry", "asset", "amount", "kind", "when", "ref", "actor", "reason", "ticket"),
    "gifts": ("event", "dir", "gift", "qty", "coins", "diamonds", "when", "with"),
    "cashouts": ("cashout", "diamonds", "amount", "status", "when", "why"),
    "tickets": ("ticket", "due", "status", "category", "subject", "created"),
    "summary": ("rule", "score", "status", "by", "reason", "flag"),  # the review flags
}
CASHOUT_KEYS = "h hold · l release · x reject (a hold a review flag caused: leads only)"
SIDE_COLUMNS = {"side-flags": COLUMNS["summary"], "side-cashouts": ("cashout", "diamonds", "amount", "status", "why")}


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
        Binding("h", "cashout('hold')", "Hold", show=False, id="cashout_hold"),
        Binding("l", "cashout('release')", "Release", show=False, id="cashout_release"),
        Binding("x", "cashout('reject')", "Reject", show=False, id="cashout_reject"),
        Binding("m", "more_ledger", "More", show=False, id="more_ledger"),
        *(Binding(str(i), f"show_tab({name!r})", name.title(), show=False, id=f"tab_{name}")
          for i, name in enumerate(TABS, start=1)),
    ]

    class Loaded(Message):
        def __init__(self, story: AccountStory) -> None:
            super().__init__()
            self.story = story

    class Checked(Message):
        def __init__(self, checked: LedgerCheck) -> None:
            super().__init__()
            self.checked = checked

    class MoreLedger(Message):
        def __init__(self, page: LedgerPage) -> None:
            super().__init__()
            self.page = page

    def __init__(self, backend: Backend, account_id: str) -> None:
        super().__init__()
        self.backend = backend
        self.account_id = account_id
        self.story: AccountStory | None = None
        self.filled: set[str] = set()  # tabs (and "side") filled from the story: the rest fill on first view
        self.laid_wide: bool | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="story"):
            yield Static(Content(shown(self.account_id)), id="who")
            yield Static("", id="balances")
            yield Static("", id="glance")
            with Horizontal(id="body"):
                with TabbedContent(id="tabs"):
                    for name in TABS:
                        with TabPane(name.title(), id=name):
                            if name == "ledger":
                                yield Static("", id="ledger-note")
                            if name == "cashouts":
                                yield Static(CASHOUT_KEYS, classes="keys-note")
                            if name == "summary":
                                yield Static("", id="summary-text", classes="glance-text")
                            table = KeyedTable(id=f"{name}-table")
                            table.add_columns(*COLUMNS[name])
                            yield table
                # Its widgets are made the first time the terminal is wide: here when it already is (styled
                # once, with the rest), else by `lay_out` on a resize.
                wide = self.is_wide(self.app.size)
                self.set_class(wide, "-wide", update=False)
                yield Vertical(*(self.side_widgets() if wide else ()), id="side")
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        self.lay_out()
        self.action_refresh()

    def side_widgets(self) -> list[Widget]:
        tables = []
        for name, columns in SIDE_COLUMNS.items():
            table = KeyedTable(id=f"{name}-table")
            table.add_columns(*columns)
            tables.append(table)
        return [Static("", id="side-text", classes="glance-text"), *tables,
                Static(CASHOUT_KEYS, classes="keys-note")]

    @property
    def wide(self) -> bool:
        return self.is_wide(self.size)

    @staticmethod
    def is_wide(size: Size) -> bool:
        return size.width >= WIDE[0] and size.height >= WIDE[1]

    def on_resize(self) -> None:
        self.lay_out()

    def lay_out(self) -> None:
        """Wide: summary, flags and cashouts in the side panel beside the history tabs; else they are tabs.
        Only a change of width class touches the layout (a resize within one costs nothing)."""
        wide, before = self.wide, self.laid_wide
        if wide == before:
            return
        self.laid_wide = wide
        self.set_class(wide, "-wide")
        side = self.query_one("#side", Vertical)
        if wide and not side.children:
            side.mount(*self.side_widgets())
        tabs = self.query_one(TabbedContent)
        for name in SIDE:
            if wide:
                tabs.hide_tab(name)
            elif before is not None:
                tabs.show_tab(name)
        if wide and tabs.active in SIDE:
            tabs.active = "purchases"
        self.fill_visible()

    def action_refresh(self) -> None:
        self.query_one("#story").loading = True
        self.load(self.account_id)

    def action_back(self) -> None:
        self.dismiss()

    def action_reconcile_account(self) -> None:
        handle = self.story.account.handle if self.story else None
        account_id = self.story.account.account_id if self.story else self.account_id
        self.post_message(Open.Reconcile(account_id, handle))

    def action_region_at_purchase(self) -> None:
        """The region of the purchase under the cursor, as of its time (rgn: was coin purchase allowed then)."""
        table = self.query_one("#purchases-table", KeyedTable)
        purchases = self.story.purchases if self.story else ()
        chosen = next((p for p in purchases if p.purchase_id == table.focused_key), None)
        if chosen is None or self.query_one(TabbedContent).active != "purchases":
            self.notify("Pick a purchase on the Purchases tab first.", severity="warning")
            return
        at = chosen.purchased_at.isoformat().replace("+00:00", "Z")
        self.post_message(Open.Region(chosen.country, at, chosen.to_json()))

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
        a = self.story.account
        self.post_message(Open.Audit(account_id=a.account_id, label=f"{a.handle} {a.account_id}"))

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
        if self.wide and name in SIDE:
            self.query_one("#side-cashouts-table" if name == "cashouts" else "#side-flags-table").focus()
            return
        self.query_one(TabbedContent).active = name
        self.fill_visible()
        self.active_table.focus()

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_shown(self) -> None:
        self.fill_visible()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The cashout keys where cashouts are shown, `m` where the ledger has more (not in the footer: the
        Cashouts tab and the ledger note say them; each footer refresh costs a recompose)."""
        if action == "cashout":
            return self.cashouts_table is not None
        if action == "more_ledger":
            return self.query_one(TabbedContent).active == "ledger" and bool(self.story and self.story.ledger_next)
        return True

    @property
    def cashouts_table(self) -> KeyedTable | None:
        """The cashouts list the agent looks at: the side panel's when focused (wide), else the tab's when shown."""
        if self.wide:
            side = self.query_one("#side-cashouts-table", KeyedTable)
            return side if self.focused is side else None
        return self.query_one("#cashouts-table", KeyedTable) if self.query_one(TabbedContent).active == "cashouts" \
            else None

    def chosen_cashout(self) -> CashoutRow | None:
        table = self.cashouts_table
        key = table.focused_key if table is not None else None
        chosen = next((c for c in (self.story.cashouts if self.story else ()) if c.cashout_id == key), None)
        if chosen is None:
            where = "in the Cashouts panel" if self.wide else "on the Cashouts tab (4)"
            self.notify(f"Pick a cashout {where} first.", severity="warning")
        return chosen

    def action_cashout(self, action: str) -> None:
        self.post_message(Open.Cashout(self, action))

    def action_more_ledger(self) -> None:
        if self.story is None or self.story.ledger_next is None:
            return
        self.load_more(self.story.account.account_id, self.story.ledger_next)

    @work(thread=True, exclusive=True, group="ledger-more", exit_on_error=False)
    def load_more(self, account_id: str, before_seq: int) -> None:
        page = self.backend.desk.accounts.ledger_page(account_id, before_seq)
        if not get_current_worker().is_cancelled:
            self.post_message(self.MoreLedger(page))

    def on_account_screen_more_ledger(self, message: MoreLedger) -> None:
        if self.story is None:
            return
        self.story = self.story.more(message.page)
        table = self.query_one("#ledger-table", KeyedTable)
        for e in message.page.entries:
            table.add_row(*entry_cells(e), key=e.entry_id)
        self.label_ledger(self.story)

    def action_copy_id(self) -> None:
        self.active_table.action_copy_id()

    @property
    def active_table(self) -> KeyedTable:
        tabs = self.query_one(TabbedContent)
        return self.query_one(f"#{tabs.active}-table", KeyedTable)

    @work(thread=True, exclusive=True, group="story", exit_on_error=False)
    def load(self, account_id: str) -> None:
        """The story with the cached balances first, then the ledger's sums and drift (a long ledger's sum
        must not hold the screen back)."""
        story = self.backend.story(account_id, check_ledger=False)
        if get_current_worker().is_cancelled:
            return
        self.post_message(self.Loaded(story))
        checked = self.backend.ledger_check(story.account.account_id)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Checked(checked))

    def on_account_screen_checked(self, message: Checked) -> None:
        if self.story is None:
            return
        checked = message.checked
        self.story = self.story.checked(checked)
        self.query_one("#balances", Static).update(balance_lines(checked.balances, checked.debt))
        self.label_ledger(self.story)

    def worker_failed(self, worker: Worker[object]) -> None:
        self.query_one("#story").loading = False
        if self.story is None:
            self.query_one("#who", Static).update(
                Content(f"Could not load {shown(self.account_id)}. Press r to retry, Esc to go back."))

    def on_account_screen_loaded(self, message: Loaded) -> None:
        self.story = story = message.story
        self.query_one("#who", Static).update(who_line(story.account))
        self.query_one("#balances", Static).update(balance_lines(story.balances, story.account.debt))
        self.query_one("#glance", Static).update(Content(shown(glance_text(story.summary))))
        viewed, self.filled = self.filled, set()
        self.label_tabs(story)
        self.fill_visible()
        for name in viewed - self.filled:  # a reload refills what the agent has looked at, cursors kept
            self.filled.add(name)
            self.fill_part(name, story)
        self.query_one("#story").loading = False
        if not (self.wide and self.focused is not None and self.focused.id in ("side-flags-table",
                                                                             "side-cashouts-table")):
            self.active_table.focus()

    def label_tabs(self, story: AccountStory) -> None:
        tabs = self.query_one(TabbedContent)
        flags = story.summary.flags
        counts = {"purchases": len(story.purchases), "gifts": gift_count(story.gifts),
                  "cashouts": len(story.cashouts), "tickets": len(story.tickets)}
        for name, n in counts.items():
            tabs.get_tab(name).label = f"{name.title()} {n:,}"
        tabs.get_tab("summary").label = f"Summary {len(flags.open):,}" if flags.open else "Summary"
        self.label_ledger(story)

    def label_ledger(self, story: AccountStory) -> None:
        """`Ledger 200 of 200,000` (`200+` until the ledger check has counted them)."""
        listed, total, more = len(story.ledger), story.ledger_total, story.ledger_next is not None
        note = self.query_one("#ledger-note", Static)
        note.display = more or (total is not None and listed < total)
        of = f" of {plural(total, 'entry', 'entries')}" if total is not None else " entries"
        note.update(f"Newest {listed:,}{of}.{' m loads more.' if more else ''}")
        if total is None:
            ledger_label = f"{listed:,}+" if more else f"{listed:,}"
        else:
            ledger_label = f"{listed:,} of {total:,}" if listed < total else f"{total:,}"
        self.query_one(TabbedContent).get_tab("ledger").label = f"Ledger {ledger_label}"

    def fill_visible(self) -> None:
        """Fill the tab in view (and the side panel when wide) once per load: opening a long account renders
        one table, not all of them."""
        if self.story is None:
            return
        shown_now = {self.query_one(TabbedContent).active} | ({"side"} if self.wide else set())
        for name in shown_now - self.filled:
            self.filled.add(name)
            self.fill_part(name, self.story)

    def fill_part(self, name: str, story: AccountStory) -> None:
        if name == "purchases":
            refunds = {r.purchase_id: r for r in story.refunds}
            self.fill("purchases", story.purchases, "purchase_id", lambda p: purchase_cells(p, refunds))
        elif name == "ledger":
            self.fill("ledger", story.ledger, "entry_id", entry_cells)
        elif name == "gifts":
            self.fill("gifts", gift_rows(story.gifts), "event_id", gift_cells)
        elif name == "cashouts":
            self.fill("cashouts", story.cashouts, "cashout_id", cashout_cells)
        elif name == "tickets":
            self.fill("tickets", deadlines_first(story.tickets), "ticket_id", ticket_cells)
        elif name == "summary":
            self.query_one("#summary-text", Static).update(Content(shown(summary_text(story.summary), lines=True)))
            self.fill("summary", story.summary.flags.all(), "flag_id", flag_cells)
        elif name == "side":
            self.query_one("#side-text", Static).update(Content(shown(summary_text(story.summary), lines=True)))
            self.fill("side-flags", story.summary.flags.all(), "flag_id", flag_cells)
            self.fill("side-cashouts", story.cashouts, "cashout_id", side_cashout_cells)

    def fill(self, name: str, rows: Iterable[Row], key: str, cells: Callable[[Row], tuple[object, ...]]) -> None:
        """(Re)fill a table; the cursor stays on the row it was on (by database key) after a reload."""
        table = self.query_one(f"#{name}-table", KeyedTable)
        kept = table.focused_key
        table.clear()
        for row in rows:
            table.add_row(*cells(row), key=getattr(row, key))
        if kept is not None and kept in table.rows:
            table.move_cursor(row=table.get_row_index(kept), animate=False)


def who_line(a: AccountInfo) -> Content:
    style = STATUS_STYLE.get(a.status, "$error")
    return Content.from_markup(
        f"[b]$handle[/b]  $account_id  [b {style}]$status[/]  $country  $kind  [dim]$email[/]",
        handle=shown(a.handle), account_id=shown(a.account_id), status=shown(a.status),
        country=shown(a.country), kind=shown(a.kind), email=shown(a.email),
    )


def balance_lines(balances: Balances, debt: Debt) -> Content:
    """Ledger and cached balance per asset, drift and debt; `checking…` while the ledger is being summed."""
    lines = []
    assets = (("coins   ", balances.coin, debt.coin), ("diamonds", balances.diamond, debt.diamond))
    width = max(len(f"{n:,}") for _, b, _ in assets for n in (b.ledger, b.cached) if n is not None)
    for label, b, owed in assets:
        ledger = "checking…" if b.ledger is None else f"{b.ledger:>{width},}"
        line = Content.from_markup(f"{label}  ledger [b]$ledger[/b]  cached $cached",
                                   ledger=ledger, cached=f"{b.cached:>{width},}")
        if b.drift:
            line += Content.from_markup("  [b $error]drift $drift[/]", drift=f"{b.drift:+,}")
        if owed:
            line += Content.from_markup("  [b $error]debt $debt[/]", debt=f"{owed:,}")
        lines.append(line)
    return Content("\n").join(lines)


@dataclass(frozen=True, slots=True)
class GiftLine:
    """A gift event in the one list of sent and received: its direction and the account on the other side."""

    event_id: str
    dir: str
    gift_id: str
    quantity: int
    coins: int
    diamonds: int
    at: datetime
    with_: str


def gift_rows(gifts: Gifts) -> list[GiftLine]:
    """Sent and received in one list, newest first; an event seen twice (a self-gift) is listed once."""
    rows: dict[str, GiftLine] = {}
    for direction, found in (("sent", gifts.sent), ("received", gifts.received)):
        for g in found:
            if g.event_id not in rows:
                rows[g.event_id] = GiftLine(g.event_id, direction, g.gift_id, g.quantity, g.coins, g.diamonds, g.at,
                                            g.creator_id if direction == "sent" else g.sender_id)
    return sorted(rows.values(), key=lambda g: g.at, reverse=True)


def gift_count(gifts: Gifts) -> int:
    """How many lines `gift_rows` makes (an event seen twice is one), without making them."""
    return len({g.event_id for g in gifts.sent} | {g.event_id for g in gifts.received})


def purchase_cells(p: PurchaseRow, refunds: dict[str, RefundRow]) -> tuple[str, ...]:
    r = refunds.get(p.purchase_id)
    refund = f"{r.status} {money(r.amount_minor, r.currency)}" if r else ""
    rgn = "✓" if p.region_at_purchase.allowed else "✗"
    return (p.purchase_id, p.store, f"{p.coins:,}", money(p.price_minor, p.currency), p.status, rgn,
            when(p.purchased_at), p.product_id, p.store_transaction_id, refund)


def entry_cells(e: EntryRow) -> tuple[str, ...]:
    return (e.entry_id, e.asset, f"{e.amount:+,}", e.kind, when(e.at), e.ref or "", e.actor, e.reason or "",
            e.ticket_id or "")


def gift_cells(g: GiftLine) -> tuple[str, ...]:
    return (g.event_id, g.dir, g.gift_id, f"{g.quantity:,}", f"{g.coins:,}", f"{g.diamonds:,}", when(g.at), g.with_)


def cashout_cells(c: CashoutRow) -> tuple[str, ...]:
    return (c.cashout_id, f"{c.diamonds:,}", money(c.amount_minor, c.currency), c.status, when(c.at),
            cashout_why(c))


def side_cashout_cells(c: CashoutRow) -> tuple[str, ...]:
    return (c.cashout_id, f"{c.diamonds:,}", money(c.amount_minor, c.currency), c.status, cashout_why(c))


def flag_cells(f: FlagRow) -> tuple[object, ...]:
    return (f.rule, f"{f.score:,}", f.status, f.decided_by or "", f.reason or "", f.flag_id)


def glance_text(summary: Summary) -> str:
    """The one line under the balances: why a status that is not active, then the rest at a glance."""
    st = summary.status
    why = f"{st.status}: {st.reason} · " if st.source == "audit" and st.status != "active" else ""
    return why + glance_line(summary)


def summary_text(summary: Summary) -> str:
    flags = summary.flags
    return "\n".join((f"Status   {status_why(summary.status)}",
                      f"Refunds  {refunds_line(summary.refunds)}",
                      f"Spend    {spend_line(summary.spend)}",
                      f"Flags    {len(flags.open):,} open, {len(flags.decided):,} decided"))


def deadlines_first(tickets: Iterable[TicketRow]) -> list[TicketRow]:
    """Tickets with a store deadline still to meet first, the soonest first; the rest keep their order."""
    waiting = sorted((t for t in tickets if t.awaiting_answer), key=lambda t: str(t.answer_due_at))
    return waiting + [t for t in tickets if not t.awaiting_answer]


def ticket_cells(t: TicketRow) -> tuple[object, ...]:
    due = deadline(t.answer_due_at) if t.awaiting_answer else Text("")
    return (t.ticket_id, due, t.status, t.category, t.subject, when(t.created_at))
