"""Command palette: jump to an account by any key, or go to the search box.

It opens screens as any screen does, by posting `Open.X` to the App (tui/navigation.py); it does not import the
App: what else it needs of it (the backend, the ticket being worked) comes through the `Desk` protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape
from textual.message import Message

from supportdesk.domain.tickets import TICKET_ID, ticket_id_of
from supportdesk.errors import SupportdeskError
from supportdesk.tui.format import shown
from supportdesk.tui.navigation import Desk, Open, desk_of
from supportdesk.tui.screens.account import AccountScreen
from supportdesk.tui.screens.tickets import TicketScreen

HOME = "Home"
HOME_HELP = "Open tickets (mine and unassigned) and their deadlines, open flags by rule, stale stores (Ctrl+O)"
SEARCH_COMMAND = "Search accounts"
SEARCH_HELP = "Go to the search box"
RECONCILE_ALL = "Reconcile all accounts"
RECONCILE_ALL_HELP = "Find missing coins, double credits, unapplied refunds and drift on every account"
RECONCILE_ONE_HELP = "Reconcile the account on screen"
REGIONS = "Regions"
REGIONS_HELP = "What a country allows (coins, gifts, cash out), its prices and history, as of any date"
REVIEW = "Review queue"
REVIEW_HELP = "Suspicious charges by score: duplicates, region, age, velocity, gift laundering, refund abuse"
TICKETS = "Tickets"
TICKETS_HELP = "Unsolved tickets (new, open, pending, on-hold), newest first; f shows each status"
AUDIT = "Audit trail"
AUDIT_HELP = "Every audited action, newest first: who, what, before → after, why, which ticket"
VERIFY = "Verify the audit chain"
VERIFY_HELP = "Check every record's hash against the one before it; names the first bad record"
MAX_HITS = 20


class AccountsProvider(Provider):
    @property
    def desk(self) -> Desk:
        return desk_of(self.app)

    def open(self, message: Callable[[], Message]) -> Callable[[], object]:
        """A command that asks the App to open a screen (the message is made when the command runs)."""
        return lambda: self.app.post_message(message())

    def commands(self) -> list[tuple[str, Callable[[], object], str]]:
        """Fixed commands: search, reconcile all, and reconcile the account on screen (if one is)."""
        out: list[tuple[str, Callable[[], object], str]] = [
            (HOME, self.open(Open.Home), HOME_HELP),
            (SEARCH_COMMAND, self.open(Open.Search), SEARCH_HELP),
            (RECONCILE_ALL, self.open(Open.Reconcile), RECONCILE_ALL_HELP),
            (REGIONS, self.open(Open.Region), REGIONS_HELP),
            (REVIEW, self.open(Open.Review), REVIEW_HELP),
            (TICKETS, self.open(Open.Tickets), TICKETS_HELP),
            (AUDIT, self.open(Open.Audit), AUDIT_HELP),
            (VERIFY, self.open(partial(Open.Audit, verify=True)), VERIFY_HELP),
        ]
        working = self.desk.working_ticket
        if working:
            out.append((f"Open {working}", self.open(partial(Open.Ticket, working)), "The ticket you are working"))
            out.append((f"Stop working {working}", self.desk.action_stop_working,
                        "Actions you start no longer carry it"))
        screen = self.screen  # the screen the palette was opened over
        out += ticket_commands(screen)
        if isinstance(screen, AccountScreen) and screen.story is not None:
            handle = screen.story.account.handle
            out.append((f"Reconcile {handle}", screen.action_reconcile_account, RECONCILE_ONE_HELP))
            out.append((f"New ticket on {handle}", screen.action_new_ticket, "Subject, category, what they wrote"))
            out.append((f"Audit trail of {handle}", screen.action_audit_trail, AUDIT_HELP))
        return out

    async def discover(self) -> Hits:
        for name, action, text in self.commands():
            yield DiscoveryHit(markup(name), action, help=markup(text))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, text in self.commands():
            if (score := matcher.match(name)) > 0:
                yield Hit(score, matcher.highlight(markup(name)), action, help=markup(text))
        ticket_id = ticket_id_of(query)
        if TICKET_ID.match(ticket_id):
            yield Hit(1.0, markup(f"Open ticket {ticket_id}"), self.open(partial(Open.Ticket, ticket_id)),
                      help="The ticket, everything done under it; w works it")
        for account in await self.find(query):
            label = f"{account['handle']}  {account['account_id']}"
            yield Hit(max(matcher.match(label), 0.5), markup(label),
                      self.open(partial(Open.Account, account["account_id"], from_search=True)),
                      help=markup(f"Open account · {account['email']} · {account['country']} · {account['status']}"))

    async def find(self, query: str) -> list[dict[str, Any]]:
        """Accounts for the palette; the query runs in a thread so typing never waits on the database."""
        if len(query.strip()) < 2:
            return []
        try:
            accounts = await asyncio.to_thread(lambda: self.desk.backend.desk.accounts.search(query).accounts)
        except SupportdeskError:
            return []  # a half-typed id is not an error worth showing in the palette
        return accounts[:MAX_HITS]


def ticket_commands(screen: object) -> list[tuple[str, Callable[[], object], str]]:
    """On an open ticket: reply, note, take, and a reply from each macro (filled for the ticket, then edited)."""
    if not isinstance(screen, TicketScreen) or screen.ticket is None:
        return []
    tid = screen.ticket_id
    out: list[tuple[str, Callable[[], object], str]] = [
        (f"Reply on {tid}", screen.action_reply, "Write to the customer (e)"),
        (f"Note on {tid}", screen.action_note, "An internal note: agents only (n)"),
        (f"Take {tid}", screen.action_take, "Assign it to me (t)"),
    ]
    for m in screen.backend.desk.tickets.macro_list().macros:
        out.append((f"Macro: {m.name}", partial(screen.start_macro, m.name),
                    f"{m.title}: filled for {tid}, then edited and sent"))
    return out


def markup(text: str) -> str:
    """The palette parses its prompts and help as markup: stored text (handles, emails) goes in escaped."""
    return escape(shown(text))
