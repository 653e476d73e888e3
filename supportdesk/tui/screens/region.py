"""A country's region as of a date: what it allows, its price table, and its history as a timeline.

The country box searches names and codes as the agent types; the as-of box takes ISO 8601 or a span (30d).
Choosing a history entry shows the region as it was from that entry's date.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option
from textual.worker import Worker, get_current_worker

from supportdesk.errors import SupportdeskError
from supportdesk.tui.format import day, money, plain, shown
from supportdesk.tui.screens.base import DeskScreen
from supportdesk.tui.widgets.query_input import QueryInput

if TYPE_CHECKING:
    from supportdesk.desk.regions import CountryChoice, HistoryEntry, Price, Region
    from supportdesk.tui.backend import Backend

DEBOUNCE_SECONDS = 0.15
PRICE_COLUMNS = ("store", "bundle", "coins", "bonus", "price", "from", "to")
RIGHT = {2, 3, 4}  # the numbers


def _mark(flag: bool) -> str:
    return "[b $success]✓[/]" if flag else "[b $error]✗[/]"


class RegionScreen(DeskScreen):
    DEFAULT_CSS = """
    RegionScreen #region-bar { height: 3; }
    RegionScreen #country { width: 1fr; }
    RegionScreen #at { width: 28; }
    RegionScreen #countries { height: 9; display: none; }
    RegionScreen #countries.-open { display: block; }
    RegionScreen #summary { height: auto; padding: 0 1; }
    RegionScreen #summary.-error { color: $error; }
    RegionScreen #region-tabs { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="back"),
        Binding("f", "pick_country", "Country", id="region_country"),
        Binding("d", "focus_at", "As of", id="region_as_of"),
        Binding("p", "show_tab('prices')", "Prices", id="region_prices"),
        Binding("h", "show_tab('history')", "History", id="region_history"),
        Binding("down", "focus_picker", "Countries", show=False, id="region_picker"),
    ]

    class Loaded(Message):
        def __init__(self, region: Region | None, error: str | None = None) -> None:
            super().__init__()
            self.region = region
            self.error = error

    class Found(Message):
        def __init__(self, text: str, countries: list[CountryChoice]) -> None:
            super().__init__()
            self.text = text
            self.countries = countries

    def __init__(self, backend: Backend, country: str | None = None, at: str | None = None,
                 purchase: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.desk = backend.desk.regions
        self.country = country
        self.at = at
        self.purchase = purchase  # opened from a purchase: its verdict heads the summary
        self.current: Region | None = None  # the region shown
        self.shown: str | None = country  # what the screen itself put in the country box (not a search)
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="region-bar"):
            yield QueryInput(self.country or "", placeholder="Country: name or code (VN, Vietnam)", id="country")
            yield QueryInput(self.at or "", placeholder="As of: now, 2026-07-01", id="at")
        yield OptionList(id="countries")
        with Vertical(id="region"):
            yield Static("Pick a country: type a name or code, then Enter.", id="summary")
            with TabbedContent(id="region-tabs"):
                with TabPane("Prices", id="prices"):
                    table: DataTable[object] = DataTable(id="prices-table", cursor_type="row", zebra_stripes=True)
                    table.add_columns(*(Text(c, justify="right" if i in RIGHT else "left")
                                        for i, c in enumerate(PRICE_COLUMNS)))
                    yield table
                with TabPane("History", id="history"):
                    yield OptionList(id="timeline")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = getattr(self.app, "CURSOR_BLINK", True)
        if self.country:
            self.reload()
        else:
            self.action_pick_country()
            self.find("")

    # --- the picker ----------------------------------------------------------------------------------------

    def action_pick_country(self) -> None:
        box = self.query_one("#country", Input)
        box.focus()
        box.select_all()
        self.query_one("#countries", OptionList).add_class("-open")

    def action_focus_picker(self) -> None:
        picker = self.query_one("#countries", OptionList)
        if picker.has_class("-open") and picker.option_count:
            picker.focus()
            picker.highlighted = picker.highlighted or 0

    def action_focus_at(self) -> None:
        box = self.query_one("#at", Input)
        box.focus()
        box.select_all()

    @on(Input.Changed, "#country")
    def _typed(self, event: Input.Changed) -> None:
        if event.value == self.shown:
            return  # set by the screen (the country shown), not typed
        self.query_one("#countries", OptionList).add_class("-open")
        if self._debounce is not None:
            self._debounce.stop()
        text = event.value
        self._debounce = self.set_timer(DEBOUNCE_SECONDS, lambda: self.find(text))

    @work(thread=True, exclusive=True, group="countries", exit_on_error=False)
    def find(self, text: str) -> None:
        found = self.desk.countries(text)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Found(text, found))

    def on_region_screen_found(self, message: Found) -> None:
        if message.text != self.query_one("#country", Input).value:
            return  # typed on since
        picker = self.query_one("#countries", OptionList)
        picker.clear_options()
        picker.add_options(Option(Content.from_markup(
            "$code  $name" + ("" if c.has_region else "  [dim](no region rows)[/]"),
            code=shown(c.code), name=shown(c.name)), id=c.code) for c in message.countries)
        if message.countries:
            picker.highlighted = 0

    @on(Input.Submitted, "#country")
    def _country_entered(self, event: Input.Submitted) -> None:
        picker = self.query_one("#countries", OptionList)
        text = event.value.strip()
        if event.value == self.shown and self.country:
            self.choose(self.country)
            return
        typed_code = text.upper() if len(text) in (2, 3) else None
        if picker.has_class("-open") and picker.option_count and picker.highlighted is not None and not typed_code:
            option_id = picker.get_option_at_index(picker.highlighted).id
            self.choose(option_id or text)
        elif text:
            self.choose(text)  # resolved by the service: a code, or a name; errors show in the summary

    @on(OptionList.OptionSelected, "#countries")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.choose(event.option.id)

    def choose(self, country: str) -> None:
        self.country = country
        self.query_one("#countries", OptionList).remove_class("-open")
        self.reload()

    # --- the as-of date and the timeline --------------------------------------------------------------------

    @on(Input.Submitted, "#at")
    def _at_entered(self, event: Input.Submitted) -> None:
        self.at = event.value.strip() or None
        if self.country:
            self.reload()
        else:
            self.action_pick_country()

    @on(OptionList.OptionSelected, "#timeline")
    def _entry_chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.at = event.option.id  # the entry's valid_from: the region as it was from then
            self.query_one("#at", Input).value = event.option.id
            self.reload()

    # --- loading and showing -------------------------------------------------------------------------------

    def reload(self) -> None:
        self.query_one("#region").loading = True
        self.load(self.country or "", self.at)

    @work(thread=True, exclusive=True, group="region", exit_on_error=False)
    def load(self, country: str, at: str | None) -> None:
        try:
            message = self.Loaded(self.desk.region(country, at))
        except SupportdeskError as exc:  # a bad country or time is an answer, shown inline
            message = self.Loaded(None, exc.message)
        if not get_current_worker().is_cancelled:
            self.post_message(message)

    def worker_failed(self, worker: Worker[object]) -> None:
        self.query_one("#region").loading = False

    def on_region_screen_loaded(self, message: Loaded) -> None:
        self.query_one("#region").loading = False
        summary = self.query_one("#summary", Static)
        summary.set_class(message.error is not None, "-error")
        if message.region is None:
            summary.update(Content(f"{shown(message.error)}. Press f to pick a country, d to change the date."))
            return
        self.current = region = message.region
        self.country = region.country
        if self.purchase and self.purchase["country"] != region.country:
            self.purchase = None  # another country now: the purchase's verdict no longer applies
        self.shown = f"{region.country}  {region.name}"
        self.query_one("#country", Input).value = self.shown
        summary.update(summary_lines(region, self.purchase))
        self.fill_prices(region.prices)
        self.fill_timeline(region.history)
        tabs = self.query_one("#region-tabs", TabbedContent)
        tabs.get_tab("prices").label = f"Prices {len(region.prices)}"
        tabs.get_tab("history").label = f"History {len(region.history)}"
        self.query_one("#prices-table", DataTable).focus()

    def fill_prices(self, prices: tuple[Price, ...]) -> None:
        table = self.query_one("#prices-table", DataTable)
        table.clear()
        for p in prices:
            style = "yellow" if p.promotion else "dim" if not p.store_offered else ""
            cells = (p.store + ("" if p.store_offered else "*"), p.product_id, f"{p.coins:,}",
                     f"+{p.bonus_coins:,}" if p.bonus_coins else "", money(p.price_minor, p.currency),
                     day(p.valid_from), day(p.valid_to) or "open")
            table.add_row(*(Text(shown(c), style=style, justify="right" if i in RIGHT else "left")
                            for i, c in enumerate(cells)),
                          key=f"{p.store}:{p.product_id}:{p.valid_from.isoformat()}:{p.bonus_coins}")

    def fill_timeline(self, history: tuple[HistoryEntry, ...]) -> None:
        timeline = self.query_one("#timeline", OptionList)
        timeline.clear_options()
        for h in reversed(history):  # newest first, as the agent reads back from now
            timeline.add_option(Option(timeline_entry(h), id=h.valid_from.isoformat().replace("+00:00", "Z")))

    def action_show_tab(self, name: str) -> None:
        self.query_one("#region-tabs", TabbedContent).active = name
        target = "#prices-table" if name == "prices" else "#timeline"
        self.query_one(target).focus()

    def action_back(self) -> None:
        self.dismiss()


def timeline_entry(h: HistoryEntry) -> Table:
    """One row of the timeline: a dot, the date, and what changed, wrapped under itself."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=3)
    grid.add_column(width=10)
    grid.add_column(ratio=1)
    what = plain(h.summary)
    if h.in_force:
        what.append("  (in force)", style="dim")
    dot = Text("▶ ●", style="bold") if h.in_force else Text("  ○")
    grid.add_row(dot, Text(day(h.valid_from), style="bold"), what)
    return grid


def summary_lines(region: Region, purchase: dict[str, Any] | None = None) -> Content:
    """Who and when, the verdict, what is allowed, and the row's note; a purchase's own verdict first."""
    lines: list[Content] = []
    said = None
    if purchase and (v := purchase.get("region_at_purchase")):
        said = v["reason"]
        lines.append(Content.from_markup(
            f"{_mark(v['allowed'])} purchase $pid via $store: $reason",
            pid=shown(purchase["purchase_id"]), store=shown(purchase["store"]), reason=shown(v["reason"])))
    state = "[b $success]available[/]" if region.available else "[b $error]unavailable[/]"
    lines.append(Content.from_markup(f"[b]$name[/b] ($code) as of $at: {state}", name=shown(region.name),
                                     code=shown(region.country), at=region.at.strftime("%Y-%m-%d %H:%M UTC")))
    if region.reason != said:
        lines.append(Content(shown(region.reason)))
    row = region.in_force
    if row:
        a = region.allows
        lines.append(Content.from_markup(
            f"buy coins {_mark(a.buy_coins)}  send gifts {_mark(a.send_gifts)}  "
            f"cash out {_mark(a.cash_out)}  min age $age  $currency  stores $stores",
            age=str(row.min_age), currency=shown(row.currency), stores=shown(", ".join(row.stores) or "none")))
        if row.note and row.note not in region.reason:
            lines.append(Content.from_markup("[dim]note:[/] $note", note=shown(row.note)))
    return Content("\n").join(lines)
