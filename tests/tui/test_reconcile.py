"""The reconcile screen as an agent uses it: run, open a finding, fix it with a reason and a confirmation,
see the new balance; run for everyone with progress and cancel; a replayed fix; a report-only finding."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlmodel import select
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, ProgressBar, Static, TextArea, Tree

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import Account, LedgerEntry
from supportdesk.domain.findings import KINDS
from supportdesk.services import reconcile as reconcile_service
from supportdesk.services.audit import ActionContext
from supportdesk.services.fixes import apply_fix
from supportdesk.services.reconcile import Scope
from supportdesk.tui.app import SupportDeskApp
from supportdesk.tui.screens.account import AccountScreen
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.error import ErrorScreen
from supportdesk.tui.screens.reason import ReasonScreen
from supportdesk.tui.screens.reconcile import ReconcileScreen
from supportdesk.tui.screens.search import SearchScreen
from tests.tui.test_app import SIZE, settle

ALL_KINDS = sorted(["missing_purchase", "uncredited_purchase", "duplicate_credit", "unapplied_refund",
                    "balance_drift", "amount_mismatch"])


async def finished(pilot: Pilot[None]) -> ReconcileScreen:
    """Wait for the reconcile run on screen to show its result (an event the screen sets, not a sleep)."""
    screen = pilot.app.screen
    assert isinstance(screen, ReconcileScreen), f"expected the reconcile screen, got {screen!r}"
    await asyncio.wait_for(screen.run_done.wait(), timeout=30)
    await pilot.pause()
    return screen


async def type_into(pilot: Pilot[None], text: str) -> None:
    """Paste into the focused input, as an agent pastes a reason or a ticket id."""
    box = pilot.app.focused
    assert isinstance(box, (Input, TextArea)), f"expected an input to have focus, got {box!r}"
    box.post_message(events.Paste(text))
    await pilot.pause()


def text_of(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def detail_of(screen: ReconcileScreen) -> str:
    """The detail pane as plain text (it holds Rich renderables)."""
    from rich.console import Console

    console = Console(width=78, record=True, color_system=None)
    console.print(screen.query_one("#rc-detail-text", Static).content)  # type: ignore[arg-type]
    return console.export_text()


def labels(screen: ReconcileScreen) -> list[str]:
    tree = screen.query_one("#rc-tree", Tree)
    out = []
    for kind in tree.root.children:
        out.append(str(kind.label))
        out.extend("  " + str(leaf.label) for leaf in kind.children)
    return out


def notes(app: SupportDeskApp) -> list[str]:
    return [n.message for n in app._notifications]


async def open_account_reconcile(pilot: Pilot[None], account_id: str) -> ReconcileScreen:
    app = pilot.app
    app.open_account(account_id)  # type: ignore[attr-defined]
    await settle(pilot)
    assert isinstance(app.screen, AccountScreen)
    await pilot.press("R")
    return await finished(pilot)


async def test_one_account_open_a_finding_fix_it_and_see_the_new_balance(make_reconcile_app, reconcile_engine):
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_account_reconcile(pilot, "acc_0001")
        assert "Reconcile @user1 acc_0001" in text_of(screen, "#rc-head")
        assert "offline: no stores configured" in text_of(screen, "#rc-head")
        assert [f.kind for f in screen.findings] == ["uncredited_purchase"]
        assert "uncredited_purchase (1)" in labels(screen)[1]
        assert screen.current == 0  # the first finding is highlighted
        assert "1 finding, 1 fixable" in text_of(screen, "#rc-status")

        await pilot.press("enter")  # open it: the detail takes the screen
        assert screen.detail_open and not screen.query_one("#rc-tree").display
        detail = detail_of(screen)
        assert "Credit 70 coins to acc_0001 for purchase pur_0002" in detail
        assert "ch_uncredited" in detail and "0.99 USD" in detail and "completed" in detail

        await pilot.press("f")
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press("enter")  # no reason yet: asked again, nothing posted
        assert isinstance(app.screen, ReasonScreen)
        assert "reason is required" in text_of(app.screen, "#reason-error")
        await type_into(pilot, "paid, no coins [web]")
        await pilot.press("tab")
        await type_into(pilot, "T-2001")
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.text == ("Credit 70 coins to acc_0001 for purchase pur_0002, "
                                   "reason 'paid, no coins [web]', ticket T-2001?")
        await pilot.press("y")
        await settle(pilot)

        assert app.screen is screen
        assert screen.outcomes[0].replayed is False
        assert "Fix applied" in text_of(screen, "#rc-status")
        assert "coins 70 (cached 70)" in text_of(screen, "#rc-status")
        assert "✓ fixed" in labels(screen)[2] and "1 fixed" in labels(screen)[1]
        assert "Balances now: coins 70 (cached 70)" in detail_of(screen)
        assert "Fix applied." in notes(app)
        with read_session(reconcile_engine) as s:
            assert s.get(Account, "acc_0001").coin_balance == 70
            (entry,) = s.exec(select(LedgerEntry).where(LedgerEntry.ref == "pur_0002")).all()
            assert (entry.amount, entry.kind, entry.actor, entry.reason, entry.ticket_id) == \
                (70, "purchase", "tester", "paid, no coins [web]", "T-2001")

        await pilot.press("f")  # fixed here already: no second dialog
        assert app.screen is screen and "Already fixed here: applied." in notes(app)

        await pilot.press("escape", "escape")  # close the detail, then back to the account
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen)
        assert "ledger 70  cached 70" in text_of(app.screen, "#balances")  # reloaded on the way back


async def test_all_accounts_progress_cancel_and_rerun(make_reconcile_app, monkeypatch):
    reached, release = threading.Event(), threading.Event()
    first, second, *rest = reconcile_service.DETECTORS

    def gated(session: Any, scope: Scope) -> Any:  # the second check waits until the test lets it go
        reached.set()
        release.wait(timeout=30)
        yield from second(session, scope)

    monkeypatch.setattr(reconcile_service, "DETECTORS", (first, gated, *rest))
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")  # from the search screen: reconcile all
        screen = app.screen
        assert isinstance(screen, ReconcileScreen) and screen.account_id is None
        assert await asyncio.to_thread(reached.wait, 30)
        await pilot.pause()
        bar = screen.query_one("#rc-bar", ProgressBar)
        assert bar.display and (bar.progress, bar.total) == (1, len(KINDS))
        assert f"Checked 1 of {len(KINDS)} kinds · Esc to cancel" in text_of(screen, "#rc-status")
        assert "checking…" in labels(screen)[0]

        await pilot.press("escape")  # cancel: the run stops between checks
        assert "Cancelling" in text_of(screen, "#rc-status")
        assert isinstance(app.screen, ReconcileScreen)  # Esc cancelled, it did not leave
        release.set()
        await finished(pilot)
        assert f"Cancelled after 2 of {len(KINDS)} checks: 2 findings so far" in text_of(screen, "#rc-status")
        assert sorted(f.kind for f in screen.findings) == ["missing_purchase", "uncredited_purchase"]
        assert "not checked" in labels(screen)[-1]
        assert not bar.display

        await pilot.press("r")  # run again, to the end
        await finished(pilot)
        assert sorted(f.kind for f in screen.findings) == ALL_KINDS
        assert (bar.progress, bar.total) == (len(KINDS), len(KINDS))
        assert "6 findings on 6 accounts, 5 fixable" in text_of(screen, "#rc-status")
        assert any("@user4" in line and "-70" in line and "apple" in line for line in labels(screen))

        await pilot.press("escape")
        assert isinstance(app.screen, SearchScreen)


async def test_a_fix_another_agent_already_made_shows_already_done(make_reconcile_app, reconcile_engine):
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_account_reconcile(pilot, "acc_0001")
        with write_session(reconcile_engine) as s:  # meanwhile, another agent fixes the same finding
            apply_fix(s, screen.findings[0], ActionContext("agent-2", "same ticket"))
        await pilot.press("f")
        await type_into(pilot, "paid, no coins")
        await pilot.press("enter", "y")
        await settle(pilot)
        assert screen.outcomes[0].replayed is True
        assert "Fix already done (replayed)" in text_of(screen, "#rc-status")
        assert "✓ done before" in labels(screen)[2]
        assert "Fix already done (replayed)." in notes(app)
        with read_session(reconcile_engine) as s:  # moved once
            assert s.get(Account, "acc_0001").coin_balance == 70
            assert len(s.exec(select(LedgerEntry).where(LedgerEntry.ref == "pur_0002")).all()) == 1


async def test_amount_mismatch_is_report_only(make_reconcile_app):
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_account_reconcile(pilot, "acc_0006")
        assert [f.kind for f in screen.findings] == ["amount_mismatch"]
        shown = labels(screen)
        leaf = next(i for i, line in enumerate(shown) if line.startswith("amount_mismatch")) + 1
        assert "report only" in shown[leaf]
        detail = detail_of(screen)
        assert "Report only" in detail and "charged 1.49 USD" in detail and "0.99 USD for 70 coins" in detail
        await pilot.press("f")
        assert app.screen is screen  # no reason, no confirmation
        assert any("amount_mismatch cannot be fixed here" in n for n in notes(app))


async def test_refund_fix_claws_back_and_the_confirmation_says_so(make_reconcile_app, reconcile_engine):
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_account_reconcile(pilot, "acc_0004")
        detail = detail_of(screen)
        assert "store record" in detail and "our purchase" in detail and "refunded" in detail
        assert "160 JPY" in detail or "¥160" in detail
        await pilot.press("f")
        await type_into(pilot, "Apple refunded it")
        await pilot.press("enter")
        assert app.screen.text == ("Mark pur_0004 revoked and claw back 70 coins from acc_0004 (a shortfall stays "
                                   "as a debt and limits the account), reason 'Apple refunded it', no ticket?")
        await pilot.press("y")
        await settle(pilot)
        assert "coins 0 (cached 0)" in text_of(screen, "#rc-status")
        with read_session(reconcile_engine) as s:
            assert s.get(Account, "acc_0004").coin_balance == 0


def _web_refunded(engine, refunded_minor: int) -> None:
    from supportdesk.db.models import StoreRecord

    with write_session(engine) as s:
        sr = s.exec(select(StoreRecord).where(StoreRecord.store_transaction_id == "ch_abc123")).one()
        sr.state, sr.refunded_minor, sr.refunded_at = "refunded", refunded_minor, sr.purchased_at
        s.add(sr)


async def test_a_refund_grown_at_the_store_says_what_was_clawed_and_claws_the_rest(make_reconcile_app,
                                                                                    reconcile_engine):
    """A web charge refunded a third (clawed back by an earlier fix), then two thirds at the processor: the
    detail and the confirmation say what was clawed back already and how much more goes now."""
    _web_refunded(reconcile_engine, 33)
    reconcile_service.reconcile(reconcile_engine, Scope(account_id="acc_0000"), fix=True,
                                ctx=ActionContext("agent-2", "the first part"))
    _web_refunded(reconcile_engine, 66)
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_account_reconcile(pilot, "acc_0000")
        detail = " ".join(detail_of(screen).split())
        assert "23 coins clawed back already; claw back 23 more. Purchase stays refunded." in detail, detail
        await pilot.press("f")
        await type_into(pilot, "processor refunded more")
        await pilot.press("enter")
        assert app.screen.text.startswith("Claw back 23 more coins from acc_0000 for pur_0001: web has now refunded ")
        assert "23 coins were clawed back for the earlier part" in app.screen.text
        await pilot.press("y")
        await settle(pilot)
        with read_session(reconcile_engine) as s:
            assert s.get(Account, "acc_0000").coin_balance == 70 - 46


async def test_a_failed_fix_goes_to_the_error_modal_and_keeps_the_reason(make_reconcile_app):
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_account_reconcile(pilot, "acc_0001")
        await pilot.press("f")
        await type_into(pilot, "paid, no coins")
        await pilot.press("tab")
        await type_into(pilot, "T-nope")
        await pilot.press("enter", "y")
        await settle(pilot)
        assert isinstance(app.screen, ErrorScreen) and "no ticket 'T-nope'" in app.screen.text
        await pilot.press("escape")
        assert "nothing was posted" in text_of(screen, "#rc-status")
        assert 0 not in screen.outcomes
        await pilot.press("f")  # try again: the reason and ticket are still there to correct
        assert app.screen.query_one("#reason", Input).value == "paid, no coins"
        assert app.screen.query_one("#ticket", Input).value == "T-nope"


async def test_palette_reconcile_all(make_reconcile_app):
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", *"Reconcile all")
        await settle(pilot)
        await pilot.press("down", "enter")
        await pilot.pause()
        screen = await finished(pilot)
        assert screen.account_id is None and len(screen.findings) == 6


class FakeSync:
    cancelled = False
    synced: dict[str, Any] = {}
    failed: dict[str, Any] = {}


async def test_sync_first_when_stores_are_configured_and_s_goes_offline(make_reconcile_app, monkeypatch):
    calls = []

    def fake_sync(self: Any, account_id: Any = None, *, progress: Any = None, cancelled: Any = None) -> FakeSync:
        calls.append("sync")
        assert account_id == "acc_0001"  # one account: the stores are asked about that customer only
        progress("web", 6, None)
        return FakeSync()

    monkeypatch.setattr("supportdesk.tui.backend.Backend.sync_stores", fake_sync)
    app = make_reconcile_app(stores={"web": {"base_url": "http://127.0.0.1:9", "secret_key": "sk_test"}})
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_account_reconcile(pilot, "acc_0001")
        assert calls == ["sync"]
        assert "sync first: web" in text_of(screen, "#rc-head")
        assert "0 store records synced" in text_of(screen, "#rc-status")
        await pilot.press("s")
        assert "offline: store records synced before" in text_of(screen, "#rc-head")
        await pilot.press("r")
        await finished(pilot)
        assert calls == ["sync"]  # not synced again
        assert "synced" not in text_of(screen, "#rc-status")


async def test_a_store_that_failed_to_sync_is_named_and_its_findings_marked_stale(make_reconcile_app, monkeypatch):
    holder: dict[str, str] = {}

    def fake_sync(self: Any, account_id: Any = None, *, progress: Any = None, cancelled: Any = None) -> FakeSync:
        result = FakeSync()
        result.failed = {holder["store"]: {"message": "the store answered 503 three times"}}
        return result

    monkeypatch.setattr("supportdesk.tui.backend.Backend.sync_stores", fake_sync)
    app = make_reconcile_app(stores={"web": {"base_url": "http://127.0.0.1:9", "secret_key": "sk_test"}})
    async with app.run_test(size=SIZE) as pilot:
        app.open_account("acc_0001")  # type: ignore[attr-defined]
        await settle(pilot)
        with read_session(app.backend.state.engine) as session:  # type: ignore[attr-defined]
            holder["store"] = next(iter(reconcile_service.find(session, Scope(account_id="acc_0001")))).store or ""
        await pilot.press("R")
        screen = await finished(pilot)
        status = text_of(screen, "#rc-status")
        assert f"{holder['store']} could not be synced (the store answered 503 three times)" in status
        assert "1 finding" in status  # the findings are still shown
        assert labels(screen)[2].endswith("stale")


@pytest.mark.parametrize("key", ["f", "s", "r"])
async def test_keys_while_running_do_nothing_harmful(make_reconcile_app, monkeypatch, key):
    release = threading.Event()
    first, *rest = reconcile_service.DETECTORS

    def gated(session: Any, scope: Scope) -> Any:
        release.wait(timeout=30)
        yield from first(session, scope)

    monkeypatch.setattr(reconcile_service, "DETECTORS", (gated, *rest))
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        screen = app.screen
        await pilot.press(key)
        assert app.screen is screen and screen.running and screen.run == 1
        release.set()
        await finished(pilot)
        assert len(screen.findings) == 6


async def test_leaving_and_coming_back_keeps_the_last_findings(make_reconcile_app):
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        screen = await finished(pilot)
        await pilot.press("escape")
        assert isinstance(app.screen, SearchScreen)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.screen is screen and screen.run == 1 and len(screen.findings) == 6  # not run again
        assert any("r runs again" in n for n in notes(app))


async def test_brackets_jump_between_kinds(make_reconcile_app):
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        screen = await finished(pilot)
        kinds = []
        for _ in range(6):
            kinds.append(screen.findings[screen.current].kind)  # type: ignore[index]
            await pilot.press("right_square_bracket")
        assert kinds == ["missing_purchase", "uncredited_purchase", "duplicate_credit", "unapplied_refund",
                         "balance_drift", "amount_mismatch"]
        await pilot.press("left_square_bracket")
        assert screen.findings[screen.current].kind == "balance_drift"  # type: ignore[index]


async def test_o_opens_the_findings_account_and_esc_comes_back(make_reconcile_app):
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        screen = await finished(pilot)
        assert screen.findings[screen.current].account_id == "acc_0003"  # type: ignore[index]
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen) and app.screen.account_id == "acc_0003"
        await pilot.press("escape")
        assert app.screen is screen


async def test_o_is_hidden_when_reconciling_one_account(make_reconcile_app):
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_account_reconcile(pilot, "acc_0001")
        assert screen.check_action("open_account", ()) is False
        assert "o" not in screen.active_bindings
        await pilot.press("o")
        assert app.screen is screen


async def test_a_finding_that_changed_after_it_was_shown_is_not_applied(make_reconcile_app, reconcile_engine):
    """The screen applies the finding it showed and confirmed, re-checked first; it never applies a new one."""
    from supportdesk.domain.ledger import Posting
    from supportdesk.services.ledger import post

    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_account_reconcile(pilot, "acc_0001")
        with write_session(reconcile_engine) as s:  # meanwhile, someone credits it by hand, under another key
            post(s, [Posting("acc_0001", "coin", 70, "purchase", ref="pur_0002")],
                 ActionContext("agent-2", "by hand"), key="user:by-hand")
        await pilot.press("f")
        await type_into(pilot, "paid, no coins")
        await pilot.press("enter", "y")
        await settle(pilot)
        assert 0 not in screen.outcomes and "✓" not in labels(screen)[2]
        assert "Fix not applied: uncredited_purchase no longer stands" in text_of(screen, "#rc-status")
        with read_session(reconcile_engine) as s:  # moved once, by hand
            assert s.get(Account, "acc_0001").coin_balance == 70
            assert len(s.exec(select(LedgerEntry).where(LedgerEntry.ref == "pur_0002")).all()) == 1


async def test_a_diamond_drift_fix_reports_diamonds_and_no_stale_drift(make_reconcile_app, reconcile_engine):
    """Issue 10 item 7."""
    with write_session(reconcile_engine) as s:
        s.get(Account, "acc_0000").diamond_balance = 25  # the ledger holds no diamonds
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_account_reconcile(pilot, "acc_0000")
        assert [(f.kind, f.detail["asset"]) for f in screen.findings] == [("balance_drift", "diamond")]
        await pilot.press("f")
        await type_into(pilot, "cache out of step")
        await pilot.press("enter", "y")
        await settle(pilot)
        status = text_of(screen, "#rc-status")
        assert "Fix applied" in status and "diamonds 0 (cached 0)" in status and "coins" not in status
        await pilot.press("enter")
        detail = detail_of(screen)
        assert "Balances now: diamonds 0 (cached 0)" in detail and "Before the fix: diamond balance" in detail
        with read_session(reconcile_engine) as s:
            assert s.get(Account, "acc_0000").diamond_balance == 0
