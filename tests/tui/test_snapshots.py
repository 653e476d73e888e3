"""What the agent sees at 80x24: one account with a refund clawed back into a debt, and a drift."""

from __future__ import annotations

from textual.pilot import Pilot

from tests.tui.test_app import settle


def test_account_screen(make_app, snap_compare) -> None:
    async def open_cleo(pilot: Pilot[None]) -> None:
        pilot.app.open_account("acc_0003")  # type: ignore[attr-defined]
        await settle(pilot)
        assert pilot.app.screen.story is not None  # type: ignore[attr-defined]

    app = make_app()
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_cleo)


def test_reconcile_screen(make_reconcile_app, snap_compare) -> None:
    """Every account: findings grouped by kind, the first one highlighted with both sides' records."""
    from tests.tui.test_reconcile import finished

    async def reconcile_all(pilot: Pilot[None]) -> None:
        await pilot.press("ctrl+r")
        await finished(pilot)
        await pilot.press("down", "down", "down", "down")  # the duplicate credit: its extra entries

    app = make_reconcile_app()
    assert snap_compare(app, terminal_size=(80, 24), run_before=reconcile_all)


def test_new_ticket_with_a_pasted_message(make_app, snap_compare) -> None:
    """A customer's message pasted into the new ticket dialog: every line kept, in a multi-line editor."""
    from textual import events

    from tests.tui.test_behaviour import MESSAGE

    async def paste_message(pilot: Pilot[None]) -> None:
        pilot.app.open_account("acc_0003")  # type: ignore[attr-defined]
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        for text in ("Coins missing", None, None, MESSAGE):
            if text is None:
                await pilot.press("tab")
            else:
                await pilot.app._post_message(events.Paste(text))  # noqa: SLF001
                await pilot.pause()

    app = make_app()
    assert snap_compare(app, terminal_size=(80, 24), run_before=paste_message)



def test_resolve_confirmation_says_who_acts(make_app, snap_compare) -> None:
    """The resolution note kept on several lines, and the confirmation naming the actor and role."""
    from textual import events

    from supportdesk.tui.screens.tickets import TicketScreen

    async def resolve(pilot: Pilot[None]) -> None:
        pilot.app.push_screen(TicketScreen(pilot.app.backend, "T-1002"))  # type: ignore[attr-defined]
        await settle(pilot)
        await pilot.press("x")
        await pilot.app._post_message(events.Paste("Clawed back the refunded coins.\nExplained the debt."))  # noqa: SLF001
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()

    app = make_app()
    assert snap_compare(app, terminal_size=(80, 24), run_before=resolve)


def test_purchase_screen(make_app, snap_compare) -> None:
    """@cleo's refunded Apple purchase: header in major units, region then, the decision now, the timeline."""
    from tests.tui.test_purchase import open_purchase

    async def open_it(pilot: Pilot[None]) -> None:
        await open_purchase(pilot, "acc_0003", "pur_0002")

    app = make_app()
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_it)


def test_credit_dialog(make_app, snap_compare) -> None:
    """The goodwill credit dialog: the account's coins, the coins to credit, the reason and the ticket."""
    from tests.tui.test_goodwill import open_credit

    async def fill(pilot: Pilot[None]) -> None:
        await open_credit(pilot, "700", "late coins", "T-1001")

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=fill)


def test_status_dialog(make_app, snap_compare) -> None:
    """The status dialog on an active account: limit picked, a reason typed."""
    from tests.tui.test_goodwill import paste

    async def fill(pilot: Pilot[None]) -> None:
        pilot.app.open_account("acc_0000")  # type: ignore[attr-defined]
        await settle(pilot)
        await pilot.press("S", "tab")
        await paste(pilot, "chargeback pending")

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=fill)


def test_ticket_conversation(make_app, tui_engine, snap_compare) -> None:
    """What the customer wrote, a reply from a macro (sent) and an internal note, oldest first, with the assignee."""
    from datetime import UTC, datetime

    from supportdesk.db.engine import write_session
    from supportdesk.db.models import Ticket, TicketMessage
    from supportdesk.tui.screens.tickets import TicketScreen

    at = datetime(2026, 9, 30, 12, tzinfo=UTC)
    with write_session(tui_engine) as s:
        ticket = s.get(Ticket, "T-1002")
        ticket.body, ticket.assignee = "Why is my balance -320?\nI never spent that much.", "tester"
        s.add_all([
            TicketMessage(message_id="msg_1", ticket_id="T-1002", kind="note", author="tester", created_at=at,
                          body="Refund of pur_0002 clawed back 350 coins after 400 were gifted.", idempotency_key="k1"),
            TicketMessage(message_id="msg_2", ticket_id="T-1002", kind="reply", author="tester", macro="goodwill",
                          created_at=at.replace(minute=5), sent_at=at.replace(minute=5), idempotency_key="k2",
                          body="Hi @cleo,\n\nThe store refunded a purchase after its coins were spent.\n\nBest,\ntester"),
        ])

    async def open_it(pilot: Pilot[None]) -> None:
        pilot.app.push_screen(TicketScreen(pilot.app.backend, "T-1002"))  # type: ignore[attr-defined]


# --- one snapshot per screen and dialog not shown above (issue #13) ------------------------------------------


def test_search_screen(make_app, snap_compare) -> None:
    """The first screen: '@user' typed and Enter, the accounts it matches."""
    from textual import events

    from supportdesk.tui.screens.search import SearchScreen

    async def type_query(pilot: Pilot[None]) -> None:
        from supportdesk.tui.screens.search import SearchInput

        pilot.app.screen.query_one(SearchInput).post_message(events.Paste("@user"))  # as agents paste
        await pilot.pause()
        await pilot.press("enter")  # several match: Enter lists them (one would open its account)
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, SearchScreen) and screen.results_for == "@user"

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=type_query)


def test_help_screen(make_app, snap_compare) -> None:
    """'?' from the search box: the help over the screen, its first page."""
    assert snap_compare(make_app(), terminal_size=(80, 24), press=["question_mark"])


def test_error_dialog(make_app, snap_compare) -> None:
    """A failed load: the error modal with the service's message, over the account screen."""
    async def open_missing(pilot: Pilot[None]) -> None:
        pilot.app.open_account("acc_gone")  # type: ignore[attr-defined]
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=open_missing)


def test_tickets_screen(make_app, snap_compare) -> None:
    """Ctrl+T: every open ticket with its account, category and age."""
    async def open_list(pilot: Pilot[None]) -> None:
        await pilot.press("ctrl+t")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=open_list)


def test_ticket_screen(make_app, snap_compare) -> None:
    """One ticket: its header, the customer's message, what was done under it (nothing yet)."""
    from supportdesk.tui.screens.tickets import TicketScreen

    async def open_it(pilot: Pilot[None]) -> None:
        pilot.app.push_screen(TicketScreen(pilot.app.backend, "T-1001"))  # type: ignore[attr-defined]
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=open_it)


def test_reply_editor_from_a_macro(make_app, snap_compare) -> None:
    """The goodwill macro filled for @user0, in the editor, with the status to leave the ticket in."""
    from supportdesk.tui.screens.tickets import TicketScreen

    async def reply(pilot: Pilot[None]) -> None:
        pilot.app.push_screen(TicketScreen(pilot.app.backend, "T-1001"))  # type: ignore[attr-defined]
        await settle(pilot)
        await pilot.press("m", "down", "down", "enter")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=reply)


def test_account_screen_wide(creator_engine, snap_compare) -> None:
    """At 160x45 @dan's summary, flags and cashouts (one held by a review flag) sit beside the history."""
    from tests.tui.test_cashouts import factory

    async def open_dan(pilot: Pilot[None]) -> None:
        pilot.app.open_account("acc_0004")  # type: ignore[attr-defined]
        await settle(pilot)

    assert snap_compare(factory(creator_engine)(), terminal_size=(160, 45), run_before=open_dan)


def test_cashout_reason_dialog(creator_engine, snap_compare) -> None:
    """Release on a review hold: what the cashout is, that only a lead may lift it, the reason typed."""
    from tests.tui.test_cashouts import factory, open_cashouts
    from tests.tui.test_goodwill import focused_on, paste

    async def fill(pilot: Pilot[None]) -> None:
        await open_cashouts(pilot, row=1)
        await pilot.press("l")
        await focused_on(pilot, "reason")
        await paste(pilot, "gifts were genuine")

    assert snap_compare(factory(creator_engine, role="lead")(), terminal_size=(80, 24), run_before=fill)


def test_cashout_confirmation(creator_engine, snap_compare) -> None:
    """The lead's release confirmed in the service's words: what moves, the flag lifted, who acts."""
    from tests.tui.test_cashouts import ask, factory, open_cashouts

    async def confirm(pilot: Pilot[None]) -> None:
        await open_cashouts(pilot, row=1)
        await ask(pilot, "l", "gifts were genuine")

    assert snap_compare(factory(creator_engine, role="lead")(), terminal_size=(80, 24), run_before=confirm)


def test_refund_screen(make_app, snap_compare) -> None:
    """@user0's web purchase two days on: the decision (refund, web.full, 0.99 USD) and the Apply key."""
    from tests.service.test_refunds import FakeWeb
    from tests.tui.test_refund import open_panel

    app = make_app(clients={"web": FakeWeb()})

    async def open_it(pilot: Pilot[None]) -> None:
        await open_panel(pilot, "acc_0000", "pur_0001")  # the refund clock fixed two days after the purchase

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_it)


def test_audit_screen(make_app, tui_engine, monkeypatch, snap_compare) -> None:
    """@user0's trail after a limit and an unlimit (audited at a fixed time, fixed keys), the newest highlighted
    with every field in the detail pane."""
    from datetime import UTC, datetime

    from supportdesk.db.engine import write_session
    from supportdesk.services import audit
    from supportdesk.services.accounts import set_status
    from supportdesk.services.audit import ActionContext

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
            return datetime(2026, 10, 2, 9, 30, tzinfo=UTC)

    monkeypatch.setattr(audit, "datetime", Frozen)
    lead = ActionContext("tester", "chargeback pending", role="lead")
    with write_session(tui_engine) as s:
        set_status(s, "acc_0000", "limited", lead, key="snap-limit")
    with write_session(tui_engine) as s:
        set_status(s, "acc_0000", "active", ActionContext("tester", "chargeback won", role="lead"),
                   key="snap-unlimit")

    async def open_trail(pilot: Pilot[None]) -> None:
        pilot.app.open_audit(account_id="acc_0000", label="@user0")  # type: ignore[attr-defined]
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=open_trail)
