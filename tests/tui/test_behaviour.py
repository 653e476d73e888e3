"""What the app does with the next key, a paste and a declined confirmation, on every screen."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sqlmodel import select
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Static, TextArea, Tree

from supportdesk.db.engine import read_session
from supportdesk.db.models import Ticket
from supportdesk.errors import InvalidInput
from supportdesk.stores.errors import StoreUnavailable
from supportdesk.tui.screens.account import AccountScreen
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.error import ErrorScreen
from supportdesk.tui.screens.new_ticket import NewTicketScreen
from supportdesk.tui.screens.reason import ReasonScreen
from supportdesk.tui.screens.reconcile import ReconcileScreen
from supportdesk.tui.screens.region import RegionScreen
from supportdesk.tui.screens.review import ReviewScreen
from supportdesk.tui.screens.search import SearchInput, SearchScreen
from supportdesk.tui.screens.tickets import TicketScreen, TicketsScreen
from supportdesk.tui.widgets.keyed_table import KeyedTable
from tests.service.test_refunds import FakeWeb
from tests.tui.test_app import SIZE, settle
from tests.tui.test_reconcile import finished, notes, text_of
from tests.tui.test_refund import open_panel
from tests.tui.test_review_screen import review_app  # noqa: F401  (a fixture)

MESSAGE = "Hi,\nI bought 350 coins yesterday.\n\nThey never arrived. Order 2000000123456789.\nThanks, Cleo"


async def paste(pilot: Pilot[None], text: str) -> None:
    """As a terminal pastes: to the app, which gives it to the focused widget."""
    await pilot.app._post_message(events.Paste(text))  # noqa: SLF001
    await pilot.pause()


async def test_a_pasted_customer_message_keeps_every_line(make_app, tui_engine) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_account("acc_0003")
        await settle(pilot)
        await pilot.press("n")
        assert isinstance(app.screen, NewTicketScreen)
        await paste(pilot, "Coins\nmissing")  # into the one-line subject: joined, and said so
        assert app.screen.query_one("#nt-subject", Input).value == "Coins missing"
        assert "Pasted 2 lines as one line: this box takes a single line." in notes(app)
        await pilot.press("tab", "tab")
        assert isinstance(app.focused, TextArea)
        await paste(pilot, MESSAGE)
        await pilot.press("enter", *"PS")  # Enter is a new line in the message
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, TicketScreen)
        with read_session(tui_engine) as s:
            ticket = s.exec(select(Ticket).where(Ticket.subject == "Coins missing")).one()
            assert ticket.body == MESSAGE + "\nPS"
        assert "They never arrived" in text_of(app.screen, "#tk-subject")


async def test_a_resolution_note_is_multi_line_and_n_goes_back_to_it(make_app, tui_engine) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(TicketScreen(app.backend, "T-1002"))
        await settle(pilot)
        await pilot.press("x")
        dialog = app.screen
        assert isinstance(dialog, ReasonScreen)
        assert "Tab" not in text_of(dialog, ".hint")  # the ticket is fixed: there is no next field
        await pilot.press("ctrl+s")
        assert "resolution note is required" in text_of(dialog, "#reason-error")
        await paste(pilot, "Clawed back the refunded coins.\nExplained the debt.")
        assert text_of(dialog, "#reason-error") == ""  # a note is there now: the complaint goes
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # not yet: back to the note, as typed
        assert isinstance(app.screen, ReasonScreen)
        assert app.screen.query_one("#reason", TextArea).text == "Clawed back the refunded coins.\nExplained the debt."
        await pilot.press("ctrl+s", "y")
        await settle(pilot)
        with read_session(tui_engine) as s:
            assert s.get(Ticket, "T-1002").resolution == "Clawed back the refunded coins.\nExplained the debt."


async def test_escape_at_a_decision_confirmation_keeps_the_reason(review_app) -> None:  # noqa: F811
    app, _ = review_app
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(ReviewScreen(app.backend))
        await settle(pilot)
        assert app.screen.flags  # type: ignore[attr-defined]
        await pilot.press("d")
        await paste(pilot, "known customer")
        await pilot.press("tab")
        await paste(pilot, "T-1002")
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, ReasonScreen)
        assert app.screen.query_one("#reason", Input).value == "known customer"
        assert app.screen.query_one("#ticket", Input).value == "T-1002"


async def test_global_keys_work_on_every_screen(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        for key, screen_type in (("ctrl+t", TicketsScreen), ("ctrl+f", ReviewScreen), ("ctrl+g", RegionScreen),
                                 ("ctrl+r", ReconcileScreen)):
            app.open_account("acc_0003")
            await settle(pilot)
            assert isinstance(app.screen, AccountScreen)
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, screen_type), key
        await finished(pilot)
        await pilot.press("ctrl+t")  # from the reconcile screen too
        await settle(pilot)
        assert isinstance(app.screen, TicketsScreen)
        await pilot.press("ctrl+g")  # and from the region screen, whose country box has focus
        await settle(pilot)
        assert isinstance(app.screen, RegionScreen)
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert isinstance(app.screen, TicketsScreen)


async def test_slash_in_the_search_box_selects_the_query_and_a_paste_replaces_it(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        box = app.screen.query_one(SearchInput)
        await paste(pilot, "@ana")
        await pilot.press("slash")
        assert box.value == "@ana" and box.selected_text == "@ana"
        await paste(pilot, "@cleo")
        assert box.value == "@cleo"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen)
        await pilot.press("escape")  # back on the search box: the next paste is a new query
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen) and app.focused is box
        await paste(pilot, "@dan")
        assert box.value == "@dan"


# --- every screen shows the state after the action, and what just happened first -----------------------------

class SlowWeb(FakeWeb):
    """A processor that answers only when the test lets it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.release = threading.Event()

    def create_refund(self, charge: str, **kwargs: Any) -> dict[str, Any]:
        assert self.release.wait(timeout=30)
        return super().create_refund(charge, **kwargs)


def purchase_row(account: AccountScreen, purchase_id: str) -> str:
    return " ".join(str(c) for c in account.query_one("#purchases-table", KeyedTable).get_row(purchase_id))


async def apply_refund(pilot: Pilot[None], reason: str) -> None:
    await pilot.press("a", "tab")  # past the amount (all of it)
    await paste(pilot, reason)
    await pilot.press("enter")
    await settle(pilot)  # decided again with what was typed, then the confirmation
    await pilot.press("y")


async def test_after_a_refund_the_panel_says_refunded_first(make_app) -> None:
    app = make_app(clients={"web": FakeWeb()})
    async with app.run_test(size=SIZE) as pilot:
        panel = await open_panel(pilot, "acc_0000", "pur_0001")
        await apply_refund(pilot, "double charge")
        await settle(pilot)
        assert app.screen is panel
        lines = [str(w.render()) for w in panel.query("#rf-body > Static").results(Static)]
        assert lines[1].startswith("Refunded: 0.99 USD") and "70 coins clawed back" in lines[1]
        assert lines[2].startswith("Decision now: deny")  # the rule as it is now, said as such
        await pilot.press("escape")
        await settle(pilot)
        assert "refunded" in purchase_row(app.screen, "pur_0001")


async def test_a_failed_refund_shows_the_account_as_it_is(make_app) -> None:
    app = make_app(clients={"web": FakeWeb(fail=StoreUnavailable("web", "The processor is unavailable"))})
    async with app.run_test(size=SIZE) as pilot:
        panel = await open_panel(pilot, "acc_0000", "pur_0001")
        account = app.screen_stack[-2]
        assert "requested" not in purchase_row(account, "pur_0001")
        await apply_refund(pilot, "customer asked")
        await settle(pilot)
        assert isinstance(app.screen, ErrorScreen)
        assert "run the same command" not in app.screen.text and "applying it again" in app.screen.text
        await pilot.press("escape")
        assert text_of(panel, "#rf-status").startswith("Not applied")
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is account and "requested" in purchase_row(account, "pur_0001")


async def test_a_refund_left_running_updates_the_account_when_it_ends(make_app) -> None:
    web = SlowWeb()
    app = make_app(clients={"web": web})
    async with app.run_test(size=SIZE) as pilot:
        await open_panel(pilot, "acc_0000", "pur_0001")
        await apply_refund(pilot, "double charge")
        await pilot.pause()
        await pilot.press("escape")  # back to the account while the store call is in flight
        await pilot.pause()
        account = app.screen
        assert isinstance(account, AccountScreen) and "refunded" not in purchase_row(account, "pur_0001")
        web.release.set()
        await settle(pilot)
        assert app.screen is account and "refunded" in purchase_row(account, "pur_0001")
        assert app.focused is account.active_table


async def test_a_refused_decision_does_not_leave_the_review_header_saving(review_app) -> None:  # noqa: F811
    app, _ = review_app

    def refuse(*args: Any) -> dict[str, Any]:
        raise InvalidInput("no ticket 'T-9999'")

    app.backend.review_act = refuse
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(ReviewScreen(app.backend))
        await settle(pilot)
        screen = app.screen
        await pilot.press("d")
        await paste(pilot, "looks fine")
        await pilot.press("enter", "y")
        await settle(pilot)
        assert isinstance(app.screen, ErrorScreen)
        await pilot.press("escape")
        status = text_of(screen, "#rv-status")
        assert "Saving" not in status and status.startswith("Not saved (see the error) · ")
        assert app.focused is screen.query_one(KeyedTable)


# --- focus: always on a widget that takes the next key --------------------------------------------------------

async def test_after_a_failed_sync_and_an_offline_rerun_the_findings_have_focus(make_reconcile_app) -> None:
    app = make_reconcile_app(stores={"web": {"base_url": "http://127.0.0.1:9", "secret_key": "sk_test"}})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        screen = app.screen
        assert isinstance(screen, ReconcileScreen)
        await asyncio.wait_for(screen.run_done.wait(), timeout=60)
        await settle(pilot)
        assert app.screen is screen  # the store is down: named, its findings stale, the run still ends
        assert "web" in text_of(screen, "#rc-status") and "stale" in text_of(screen, "#rc-status")
        assert app.focused is screen.query_one(Tree)
        await pilot.press("s", "r")
        await finished(pilot)
        assert screen.findings and app.focused is screen.query_one(Tree)
        await pilot.press("enter")  # read the finding, then run again from there
        await pilot.pause()
        await pilot.press("r")
        await finished(pilot)
        assert app.focused is screen.query_one(Tree) and screen.current == 0  # highlighted, as it shows
        await pilot.press("f")  # the fix dialog opens: the reason typed next goes into it, not to the keys
        assert isinstance(app.screen, ReasonScreen) and isinstance(app.focused, Input)


async def test_every_screen_has_focus_after_its_load(make_app) -> None:
    from supportdesk.tui.screens.audit import AuditScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screens = [lambda: AccountScreen(app.backend, "acc_0003"), lambda: TicketsScreen(app.backend),
                   lambda: TicketScreen(app.backend, "T-1002"), lambda: ReviewScreen(app.backend),
                   lambda: RegionScreen(app.backend, "US"), lambda: AuditScreen(app.backend),
                   lambda: TicketScreen(app.backend, "T-0000")]  # the last one fails to load
        for make in screens:
            app.push_screen(make())
            await settle(pilot)
            if isinstance(app.screen, ErrorScreen):
                await pilot.press("escape")
                await settle(pilot)
            screen = app.screen
            assert app.focused is not None and app.focused in screen.focus_chain, screen
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, SearchScreen) and isinstance(app.focused, SearchInput)


# --- cancel does not wait for the store call in flight ----------------------------------------------------------

async def test_cancelling_a_sync_returns_at_once_and_drops_the_late_answer(make_reconcile_app, monkeypatch) -> None:
    answer = threading.Event()
    calls: list[str] = []

    def slow_store(self: Any, account_id: str | None = None, *, progress: Any = None, cancelled: Any = None) -> Any:
        calls.append("sync")
        progress("web", 10, None)
        assert answer.wait(timeout=30)  # a store call in flight: it ends when the store answers, not on cancel
        raise StoreUnavailable("web", "the store went away")  # what it says late must reach nobody

    monkeypatch.setattr("supportdesk.tui.backend.Backend.sync_stores", slow_store)
    app = make_reconcile_app(stores={"web": {"base_url": "http://127.0.0.1:9", "secret_key": "sk_test"}})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        screen = app.screen
        assert isinstance(screen, ReconcileScreen)
        while not calls:
            await pilot.pause()
        await pilot.press("escape")
        await asyncio.wait_for(screen.run_done.wait(), timeout=2)  # not the store's 30 s
        assert not screen.running and "Cancelled before any check" in text_of(screen, "#rc-status")
        assert app.focused is screen.query_one(Tree)
        answer.set()
        await settle(pilot)
        assert app.screen is screen  # no error modal for the abandoned call
        assert "Cancelled before any check" in text_of(screen, "#rc-status")
        await pilot.press("s", "r")  # and the next run works
        await finished(pilot)
        assert screen.findings


# --- small things an agent reads -------------------------------------------------------------------------------

async def test_the_help_shows_the_ticket_bar_as_it_is_and_the_app_says_who_acts(make_app) -> None:
    from supportdesk.tui.screens.help import HELP
    from supportdesk.tui.widgets.ticket_bar import TicketBar, Working

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()  # who acts is read in the connect worker, after the first paint
        await pilot.pause()
        assert "Acting as tester (agent)." in text_of(app.screen, "#status")
        app.working = Working("T-1001", "@ana · subject")
        await pilot.pause()
        banner = str(app.screen.query_one(TicketBar).render()).strip()
        assert banner == "Working T-1001  @ana · subject  ×"
        assert f'"{banner}"' in HELP.read_text(encoding="utf-8")
