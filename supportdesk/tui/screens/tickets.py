"""Tickets: the list (by status, newest first) and one ticket: what the customer wrote, everything done under it,
its account (o), working it (w: every action started afterwards carries it) and resolving it (x)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, get_current_worker

from supportdesk.desk.ticket_results import Assigned, ListedTicket, Recorded, Sent, StatusSet, TicketDetail
from supportdesk.desk.ticket_results import Resolved as Solved
from supportdesk.desk.tickets import TicketList
from supportdesk.domain.conversation import REPLY
from supportdesk.domain.tickets import DEFAULT_FILTER, DONE, FILTERS, UNSOLVED, due_first
from supportdesk.tui.format import answer_due, change_text, plain, plural, shown, when
from supportdesk.tui.navigation import Desk, Open, desk_of
from supportdesk.tui.screens.base import DeskScreen
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.reason import Answer, ReasonScreen, reason_then_confirm
from supportdesk.tui.screens.reply import Draft, Picker, ReplyScreen, macro_picker
from supportdesk.tui.widgets.keyed_table import KeyedTable

if TYPE_CHECKING:
    from supportdesk.tui.backend import Backend

STATUS_STYLE = {"new": "bold magenta", "open": "bold yellow", "pending": "bold cyan", "on-hold": "cyan",
                "solved": "green", "closed": "dim"}
TICK = 30.0  # seconds between redraws of the time left to a store's deadline


def filter_words(name: str, total: int = 2) -> str:
    """How the list names its filter: "unsolved tickets (new, open, pending, on-hold)", "1 solved ticket"..."""
    tickets = "ticket" if total == 1 else "tickets"
    if name == "all":
        return f"{tickets}, every status"
    if name == "unsolved":
        return f"unsolved {tickets} ({', '.join(UNSOLVED)})"
    return f"{name} {tickets}"


def about(t: TicketDetail) -> str:
    """How the working-ticket line names a ticket: whose, and what about."""
    return f"{t.handle or t.account_id} · {t.subject}"


class TicketsScreen(DeskScreen):
    DEFAULT_CSS = """
    #tl-status { height: auto; max-height: 2; padding: 0 1; background: $boost; }  /* wraps, never cut, at 80 columns */
    #tl-table { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="back"),
        Binding("f", "filter", "Status", id="ticket_filter"),
        Binding("m", "mine", "Mine", id="ticket_mine"),
        Binding("r", "refresh", "Reload", show=False, id="refresh"),
    ]

    class Loaded(Message):
        def __init__(self, status: str, found: TicketList, mine: bool = False) -> None:
            super().__init__()
            self.status, self.found, self.mine = status, found, mine

    def __init__(self, backend: Backend, status: str = DEFAULT_FILTER, mine: bool = False) -> None:
        super().__init__()
        self.backend = backend
        self.status_filter = status
        self.mine = mine  # only the tickets assigned to me
        self.tickets: list[ListedTicket] = []

    def compose(self) -> ComposeResult:
        yield Static("Loading tickets…", id="tl-status")
        table = KeyedTable(id="tl-table")
        self.due_column = table.add_columns("ticket", "due", "status", "created", "account", "subject", "category",
                                            "assignee")[1]
        yield table
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.set_interval(TICK, self.tick)
        self.action_refresh()

    def tick(self) -> None:
        """The time left to each store deadline, as the minutes pass (no database call)."""
        table = self.query_one("#tl-table", KeyedTable)
        for t in self.tickets:
            if t.awaiting_answer and t.ticket_id in table.rows:
                table.update_cell(t.ticket_id, self.due_column, answer_due(t))

    def action_back(self) -> None:
        self.dismiss()

    def action_filter(self) -> None:
        self.status_filter = FILTERS[(FILTERS.index(self.status_filter) + 1) % len(FILTERS)]  # f cycles
        self.action_refresh()

    def action_mine(self) -> None:
        self.mine = not self.mine  # m: my tickets, then every agent's again
        self.action_refresh()

    def action_refresh(self) -> None:
        self.query_one("#tl-table").loading = True
        self.load(self.status_filter, self.mine)

    @work(thread=True, exclusive=True, group="tickets", exit_on_error=False)
    def load(self, status: str, mine: bool = False) -> None:
        found = self.backend.desk.tickets.list(status, mine=mine)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(status, found, mine))

    def worker_failed(self, worker: Worker[object]) -> None:
        self.query_one("#tl-table").loading = False

    def on_tickets_screen_loaded(self, message: Loaded) -> None:
        if message.status != self.status_filter or message.mine != self.mine:
            return  # f or m was pressed again meanwhile
        table = self.query_one("#tl-table", KeyedTable)
        keep = table.focused_key
        self.tickets = due_first(message.found.tickets, lambda t: t.due)
        table.loading = False
        table.clear()
        for t in self.tickets:
            table.add_row(t.ticket_id, answer_due(t), plain(t.status, style=STATUS_STYLE.get(t.status, "")),
                          when(t.created_at), t.handle, t.subject, t.category, t.assignee or "", key=t.ticket_id)
        keys = [t.ticket_id for t in self.tickets]
        if keep in keys:
            table.move_cursor(row=keys.index(keep))
        listed, total = len(self.tickets), message.found.total
        which = filter_words(self.status_filter, total) + (" assigned to you" if self.mine else "")
        count = f"{listed:,} of {total:,}" if listed < total else f"{total:,}"
        waiting = sum(1 for t in self.tickets if t.awaiting_answer)
        order = f"{plural(waiting, 'store deadline')} first" if waiting else "newest first"
        self.query_one("#tl-status", Static).update(Content(
            f"{count} {which}, {order} · f status · m {'everyone' if self.mine else 'mine'} · Enter opens"))
        table.focus()

    @on(DataTable.RowSelected, "#tl-table")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(Open.Ticket(event.row_key.value, self.action_refresh))


class TicketScreen(DeskScreen):
    DEFAULT_CSS = """
    #tk-head { height: 1; padding: 0 1; background: $boost; }
    #tk-text { height: 2fr; min-height: 4; padding: 0 1; }
    #tk-due { height: 1; padding: 0 1; }
    #tk-status { height: 1; padding: 0 1; }
    #tk-actions-head { height: 1; padding: 0 1; background: $boost; }
    #tk-actions { height: 1fr; min-height: 3; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="back"),
        Binding("e", "reply", "Reply", id="ticket_reply"),
        Binding("m", "macro", "Macro", id="ticket_macro"),
        Binding("n", "note", "Note", id="ticket_note"),
        Binding("t", "take", "Take", show=False, id="ticket_take"),
        Binding("s", "status", "Status", show=False, id="ticket_status"),
        Binding("w", "work_ticket", "Work", show=False, id="work_ticket"),
        Binding("w", "stop_working", "Stop working", show=False, id="stop_working"),
        Binding("x", "resolve_ticket", "Resolve", id="resolve_ticket"),
        Binding("o", "open_account", "Account", id="ticket_account"),
        Binding("a", "audit_trail", "Audit", show=False, id="audit_trail"),
        Binding("y", "copy_reply", "Copy reply", show=False, id="copy_last_reply"),
        Binding("r", "refresh", "Reload", show=False, id="refresh"),
    ]

    class Loaded(Message):
        def __init__(self, ticket: TicketDetail) -> None:
            super().__init__()
            self.ticket = ticket

    class Resolved(Message):
        def __init__(self, result: Solved) -> None:
            super().__init__()
            self.result = result

    class Done(Message):
        """A message, a take or a status change was recorded: `words` says what happened."""

        def __init__(self, words: str) -> None:
            super().__init__()
            self.words = words

    def __init__(self, backend: Backend, ticket_id: str) -> None:
        super().__init__()
        self.backend = backend
        self.ticket_id = ticket_id
        self.ticket: TicketDetail | None = None
        self.resolving = False
        self.writing = False  # a reply, note, take or status change is being recorded
        self.show_newest = False  # scroll the conversation to its end on the next load
        self.changed = False  # resolved or written to here: whoever opened this screen reloads
        self.under_dialog = False  # what covers it is a dialog (`on_screen_suspend`), not another screen

    @property
    def desk(self) -> Desk:
        return desk_of(self.app)

    def compose(self) -> ComposeResult:
        yield Static(plain(self.ticket_id), id="tk-head")
        with VerticalScroll(id="tk-text"):
            yield Static("", id="tk-subject")
        yield Static("", id="tk-due")
        yield Static("", id="tk-status")
        yield Static("Actions under this ticket", id="tk-actions-head")
        table = KeyedTable(id="tk-actions")
        table.add_columns("when", "who", "what", "target", "change", "reason")
        yield table
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.watch(self.app, "working", lambda _: self.show_status(), init=False)
        self.set_interval(TICK, self.tick)
        self.action_refresh()

    def tick(self) -> None:
        if self.ticket is not None:
            self.query_one("#tk-due", Static).update(deadline_line(self.ticket))

    def on_screen_suspend(self) -> None:
        # A dialog of its own (a picker, the reply editor, the palette) changes nothing by itself: a write it
        # asks for reloads the ticket when it is done. Another screen (its account) may have changed it.
        self.under_dialog = isinstance(self.app.screen, ModalScreen)

    def on_screen_resume(self) -> None:
        if self.ticket is not None and not self.under_dialog:  # back from its account: what was done there
            self.action_refresh()

    # --- state and keys ------------------------------------------------------------------------------------

    @property
    def worked(self) -> bool:
        return self.desk.working_ticket == self.ticket_id

    @property
    def resolved(self) -> bool:
        return self.ticket is not None and self.ticket.status in DONE

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "work_ticket":
            return not self.worked and not self.resolved
        if action == "stop_working":
            return self.worked
        if action == "resolve_ticket":
            return False if self.resolved else None if self.resolving or self.ticket is None else True
        if action in ("open_account", "audit_trail"):
            return None if self.ticket is None else True
        if action in ("reply", "macro", "note", "take", "status"):
            if self.ticket is None or self.writing:
                return None
            if action == "take":
                return self.ticket.assignee != self.desk.state.identity.actor
            return self.ticket.status != "closed" or action in ("note", "status")
        if action == "copy_reply":
            return None if self.ticket is None or self.ticket.last_reply is None else True
        return True

    def action_back(self) -> None:
        self.dismiss()

    # --- loading -------------------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.query_one("#tk-actions").loading = True
        self.load(self.ticket_id)

    @work(thread=True, exclusive=True, group="ticket", exit_on_error=False)
    def load(self, ticket_id: str) -> None:
        ticket = self.backend.desk.tickets.show(ticket_id)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(ticket))

    def worker_failed(self, worker: Worker[object]) -> None:
        self.query_one("#tk-actions").loading = False
        if worker.group == "write":
            self.writing = False
            self.refresh_bindings()
            self.show_status(Text("Nothing was recorded (see the error).", style="bold red"))
        elif worker.group == "resolve":
            self.resolving = False
            self.refresh_bindings()
            self.show_status(Text("Not resolved (see the error).", style="bold red"))
        elif self.ticket is None:
            self.query_one("#tk-head", Static).update(
                plain(f"Could not load {self.ticket_id}. r retries, Esc goes back."))

    def on_ticket_screen_loaded(self, message: Loaded) -> None:
        self.ticket = t = message.ticket
        self.query_one("#tk-head", Static).update(Text.assemble(
            (shown(t.ticket_id), "bold"), "  ", (shown(t.status), STATUS_STYLE.get(t.status, "bold")), "  ",
            shown(t.category), "  ", (shown(t.handle or ""), "bold"), f" {shown(t.account_id)}  ",
            (when(t.created_at), "dim"), "  ", (shown(f"@{t.assignee}" if t.assignee else "unassigned"), "italic")))
        self.query_one("#tk-subject", Static).update(ticket_text(t))
        if self.show_newest:  # after a reply or note: the conversation's end, where it went
            self.show_newest = False
            self.call_after_refresh(self.query_one("#tk-text", VerticalScroll).scroll_end, animate=False)
        due = self.query_one("#tk-due", Static)
        due.display = bool(t.answer_due_at)
        due.update(deadline_line(t))
        rows = action_rows(t)
        table = self.query_one("#tk-actions", KeyedTable)
        table.loading = False
        table.clear()
        for r in rows:
            table.add_row(when(r.at), r.actor, r.what, r.target, r.change, r.reason or "", key=r.key)
        self.query_one("#tk-actions-head", Static).update(plain(
            f"{plural(len(rows), 'action')} under {t.ticket_id}, oldest first"
            if rows else f"Nothing done under {t.ticket_id} yet"))
        if self.changed and self.resolved and self.worked:  # solved by a reply here: as resolving it does
            self.desk.action_stop_working()
        self.show_status()
        self.refresh_bindings()

    def show_status(self, text: str | Text | None = None) -> None:
        if text is None:
            if self.resolved:
                text = Text(f"{self.ticket.status.capitalize() if self.ticket else 'Resolved'}: "
                            "s changes the status · y copies the last reply", style="green")
            elif self.worked:
                text = plain(f"Working {self.ticket_id}: actions you start carry it · s status · y copy reply",
                             style="bold")
            else:
                other = self.desk.working_ticket
                take = "" if self.ticket and self.ticket.assignee == self.desk.state.identity.actor else "t take · "
                text = plain(f"{take}w work it{f' instead of {other}' if other else ''} (actions carry "
                             f"{self.ticket_id}) · s status · y copy reply", style="dim")
        self.query_one("#tk-status", Static).update(text)
        self.refresh_bindings()

    # --- work, account, trail ------------------------------------------------------------------------------

    def action_work_ticket(self) -> None:
        if self.ticket is None or self.resolved:
            return
        self.desk.work_ticket(self.ticket_id, about(self.ticket), self.ticket.account_id)
        self.notify(shown(f"Working {self.ticket_id}: o opens its account; actions you start carry the ticket."),
                    markup=False)

    def action_stop_working(self) -> None:
        self.desk.action_stop_working()

    def action_open_account(self) -> None:
        """The ticket's account: back to it when it is the screen below, else over this one."""
        if self.ticket is not None:
            self.post_message(Open.Account(self.ticket.account_id, back_if_below=True))

    def action_audit_trail(self) -> None:
        self.post_message(Open.Audit(ticket_id=self.ticket_id))

    # --- the conversation: reply, macro, note, take, status, copy -------------------------------------------

    def action_reply(self, text: str = "", macro: str | None = None) -> None:
        if self.ticket is None or self.writing:
            return
        t = self.ticket
        dialog = ReplyScreen(REPLY, self.ticket_id, t.handle or t.account_id, t.status, text, macro)
        self.app.push_screen(dialog, self._drafted_reply)

    def _drafted_reply(self, draft: Draft | None) -> None:
        if draft is None or self.ticket is None:
            return
        leaves = "solve it" if draft.status == "solved" else f"leave it {draft.status or self.ticket.status}"
        question = (f"Send this reply to {self.ticket.handle or self.ticket.account_id} on "
                    f"{self.ticket_id} and {leaves}?\n\n{preview(draft.body)}")

        def answered(yes: bool | None) -> None:
            if yes:
                self.write(lambda: sent_words(self.backend.desk.tickets.send(
                    self.ticket_id, draft.body, status=draft.status, macro=draft.macro)), "Sending…")
            else:  # back to the editor with the text as it was
                self.action_reply(draft.body, draft.macro)

        self.app.push_screen(ConfirmScreen(question, title="Send to the customer?"), answered)

    def action_macro(self) -> None:
        if self.ticket is None or self.writing:
            return

        def picked(name: str | None) -> None:
            if name:
                self.start_macro(name)

        self.app.push_screen(macro_picker(self.backend.desk.tickets.macro_list().macros), picked)

    def start_macro(self, name: str) -> None:
        """Fill the macro for this ticket in a worker, then open the reply editor with it (the palette's way too)."""
        self.run_worker(lambda: self.fill_macro(name), thread=True, group="macro", exit_on_error=False)

    def fill_macro(self, name: str) -> None:
        filled = self.backend.desk.tickets.render_macro(self.ticket_id, name)
        self.app.call_from_thread(self.action_reply, filled.body, filled.macro)

    def action_note(self) -> None:
        if self.ticket is None or self.writing:
            return

        def drafted(draft: Draft | None) -> None:
            if draft is not None:
                self.write(lambda: note_words(self.backend.desk.tickets.record(self.ticket_id, "note", draft.body)),
                           "Saving the note…")

        self.app.push_screen(ReplyScreen("note", self.ticket_id, "", ""), drafted)

    def action_take(self) -> None:
        if self.ticket is None or self.writing:
            return
        self.write(lambda: take_words(self.backend.desk.tickets.take(self.ticket_id)), "Taking it…")

    def action_status(self) -> None:
        if self.ticket is None or self.writing:
            return
        current = self.ticket.status
        choices = [(s, s) for s in ("open", "pending", "on-hold", "solved", "closed") if s != current]

        def picked(status: str | None) -> None:
            if not status:
                return
            what = f"{self.ticket_id} ({about(self.ticket)})" if self.ticket else self.ticket_id
            dialog = ReasonScreen(f"{self.ticket_id}: {current} → {status}", what, ticket=self.ticket_id,
                                  ticket_locked=True)

            def given(answer: Answer | None) -> None:
                if answer is not None:
                    self.write(lambda: status_words(self.backend.desk.tickets.set_status(
                        self.ticket_id, status, answer[0])), "Saving…")

            self.app.push_screen(dialog, given)

        self.app.push_screen(Picker(f"Move {self.ticket_id} from {current} to", choices), picked)

    def action_copy_reply(self) -> None:
        reply = self.ticket.last_reply if self.ticket else None
        if reply is None:
            self.notify("No reply on this ticket yet.", severity="warning")
            return
        self.app.copy_to_clipboard(reply.body)
        self.notify(f"Copied the last reply ({when(reply.created_at)}) to the clipboard.")

    def write(self, call: Callable[[], str], doing: str) -> None:
        """Run one recording call in a worker; its words are shown, then the ticket reloads."""
        self.writing = True
        self.refresh_bindings()
        self.show_status(doing)
        self.run_worker(lambda: self.post_message(self.Done(call())), thread=True, group="write",
                        exit_on_error=False)

    def on_ticket_screen_done(self, message: Done) -> None:
        self.writing = False
        self.changed = True
        self.show_newest = True
        self.notify(shown(message.words), markup=False)
        self.action_refresh()

    # --- resolve -------------------------------------------------------------------------------------------

    def action_resolve_ticket(self) -> None:
        if self.ticket is None or self.resolving or self.resolved:
            return
        what = f"{self.ticket_id} ({about(self.ticket)})"
        dialog = ReasonScreen(f"Resolve {self.ticket_id}", what, ticket=self.ticket_id, note="resolution note",
                              ticket_locked=True, multiline=True)
        reason_then_confirm(self.app, dialog, lambda answer: ConfirmScreen(
            resolve_question(what, answer[0]), title="Resolve this ticket?"), self._confirmed)

    def _confirmed(self, answer: Answer) -> None:
        self.resolving = True
        self.refresh_bindings()
        self.show_status("Resolving…")
        self.resolve(answer[0])

    @work(thread=True, exclusive=True, group="resolve", exit_on_error=False)
    def resolve(self, note: str) -> None:
        self.post_message(self.Resolved(self.backend.desk.tickets.resolve(self.ticket_id, note)))

    def on_ticket_screen_resolved(self, message: Resolved) -> None:
        self.resolving = False
        self.changed = True
        words = "was already solved (replayed)" if message.result.replayed else "solved"
        self.notify(shown(f"{self.ticket_id} {words}."), markup=False)
        if self.worked:
            self.desk.action_stop_working()
        self.action_refresh()


def resolve_question(what: str, note: str) -> str:
    """The note quoted on one line, or shown line by line when it has several."""
    if "\n" not in note:
        return f"Resolve {what} with the note {note!r}?"
    return f"Resolve {what} with this note?\n\n" + textwrap.indent(note, "  ")


def deadline_line(t: TicketDetail) -> Text:
    """Apple's question under this ticket and when it must be answered (Apple ignores a later answer)."""
    if not t.answer_due_at:
        return Text("")
    line = Text(f"App Store consumption request: answer by {when(t.answer_due_at)} UTC")
    return line.append_text(Text(" · ") + answer_due(t)) if t.awaiting_answer else line


def ticket_text(t: TicketDetail) -> Text:
    """The subject, then the conversation oldest first (what the customer wrote, replies, notes), then how it
    was resolved."""
    text = plain(t.subject, style="bold")
    for m in t.messages:
        label, style = MESSAGE_STYLE.get(m.kind, (m.kind, "bold"))
        text.append(f"\n── {label} ", style=style)
        text.append(f"{shown(m.author)} · {when(m.created_at)}", style="dim")
        if m.macro:
            text.append(f" · macro {shown(m.macro)}", style="dim")
        if m.kind == "reply":
            text.append(" · sent" if m.sent_at else " · NOT SENT: e and the same text sends it",
                        style="dim" if m.sent_at else "bold red")
        text.append("\n" + shown(m.body, lines=True))
    if t.resolution:
        text.append(f"\nResolved by {shown(t.resolved_by or '')} {when(t.resolved_at)}: ", style="green")
        text.append(shown(t.resolution, lines=True))
    return text


MESSAGE_STYLE = {"customer": ("customer", "bold"), "reply": ("reply", "bold green"),
                 "note": ("internal note", "bold yellow")}
PREVIEW_LINES = 8


def preview(body: str) -> str:
    """A reply as its confirmation quotes it: the first lines, and how many more there are."""
    lines = body.splitlines()
    shown_lines = textwrap.indent("\n".join(lines[:PREVIEW_LINES]), "  ")
    more = len(lines) - PREVIEW_LINES
    return shown_lines + (f"\n  … {plural(more, 'more line')}" if more > 0 else "")


def sent_words(result: Sent) -> str:
    m, t = result.message, result.ticket
    if result.replayed and not result.sent_now:
        return f"That reply was already sent ({m.message_id}); nothing sent again."
    return f"Reply sent to the outbox ({m.message_id}); {t.ticket_id} is {t.status}."


def note_words(result: Recorded) -> str:
    return "That note is already there." if result.replayed else f"Note added to {result.ticket.ticket_id}."


def take_words(result: Assigned) -> str:
    t = result.ticket
    was = f" (was {result.previous}'s)" if result.previous else ""
    return f"{t.ticket_id} is {'now' if result.changed else 'already'} yours{was}."


def status_words(result: StatusSet) -> str:
    t = result.ticket
    return f"{t.ticket_id} is {'now' if result.changed else 'already'} {t.status}."


@dataclass(frozen=True)
class ActionRow:
    """One line of the actions table: an audit record, or a ledger entry no audit record covers."""

    key: str
    at: datetime
    actor: str
    what: str
    target: str
    change: str
    reason: str | None


def action_rows(t: TicketDetail) -> list[ActionRow]:
    """The audit records under the ticket, and the ledger entries under it that have none (imported ones),
    oldest first: one line per thing done."""
    audited = {a.target for a in t.actions}
    rows = [ActionRow(f"#{a.seq}", a.at, a.actor, a.action, a.target, change_text(a.before, a.after), a.reason)
            for a in t.actions]
    rows += [ActionRow(e.entry_id, e.at, e.actor, f"ledger.{e.kind}", e.entry_id, f"{e.amount:+,} {e.asset}",
                       e.reason) for e in t.entries if e.entry_id not in audited]
    return sorted(rows, key=lambda r: r.at.isoformat()[:26])
