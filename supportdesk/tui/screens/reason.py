"""Why an action is taken: a required reason and an optional ticket, asked before the confirmation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static, TextArea

from supportdesk.tui.format import VisibleControls, shown
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.widgets.note_area import NoteArea
from supportdesk.tui.widgets.one_line import OneLineInput
from supportdesk.tui.widgets.ticket_bar import Working

Answer = tuple[str, str | None]  # (reason, ticket id or None)
NOTE_LIMIT = 2000


class ReasonScreen(ModalScreen[Answer | None]):
    """Dismisses with (reason, ticket) once a reason is typed; None on Esc.

    A one-line reason is submitted with Enter; a multi-line note (`multiline`) takes Enter as a new line and
    is submitted with Ctrl+S (or Enter in the ticket box)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_reason"),
                Binding("ctrl+s", "submit", "Save", id="submit_reason")]

    def __init__(self, title: str, what: str, reason: str = "", ticket: str = "", *, note: str = "reason",
                 ticket_locked: bool = False, multiline: bool = False, ticket_as_typed: bool = False,
                 account_id: str | None = None) -> None:
        """`ticket` is the last one typed; the ticket the agent works (the app's) takes its place unless locked
        or `ticket_as_typed` (back from a declined confirmation: what the agent typed stays), or unless the action
        is on another account than the worked ticket's (`account_id`: the account the action is on)."""
        super().__init__()
        self.dialog_title = title
        self.what = what
        self.reason = reason
        self.ticket = ticket
        self.note = note  # what the required text is called: "reason", "resolution note"
        self.ticket_locked = ticket_locked
        self.multiline = multiline
        self.ticket_as_typed = ticket_as_typed
        self.account_id = account_id

    def again(self, answer: Answer) -> ReasonScreen:
        """The same dialog with the answer typed in it (the confirmation was declined)."""
        return ReasonScreen(self.dialog_title, self.what, answer[0], answer[1] or "", note=self.note,
                            ticket_locked=self.ticket_locked, multiline=self.multiline, ticket_as_typed=True,
                            account_id=self.account_id)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog -reason") as dialog:
            dialog.border_title = Content(shown(self.dialog_title))
            yield Static(Content(shown(self.what, lines=True)), id="what")
            yield from self.extra_fields()
            yield Label(f"{self.note.capitalize()} (required, audited):")
            example = "paid but coins never arrived" if self.note == "reason" else "credited the missing coins"
            if self.multiline:
                yield NoteArea(self.reason, placeholder=f"e.g. {example}", max_length=NOTE_LIMIT, id="reason")
            else:
                yield OneLineInput(self.reason, placeholder=f"e.g. {example}", id="reason", max_length=NOTE_LIMIT,
                                   compact=True, highlighter=VisibleControls())
            working, elsewhere = self.worked_ticket()
            yield Label("Ticket:" if self.ticket_locked else
                        "Ticket (the one you are working; optional):" if working else
                        f"Ticket (optional; you work {elsewhere}, another account's):" if elsewhere else
                        "Ticket (optional):")
            yield OneLineInput(working or self.ticket, placeholder="T-1234", id="ticket", max_length=64, compact=True,
                               disabled=self.ticket_locked, highlighter=VisibleControls())
            yield Static(Content(shown(self.problem)), id="reason-error")
            yield Static(self.hint, classes="hint")
        yield Footer(compact=True)

    def worked_ticket(self) -> tuple[str | None, str | None]:
        """(the ticket to start with, the worked ticket not taken): the worked ticket is taken when the action is
        on its account (or either is unknown); on another account's action it is only named, never prefilled."""
        working: Working | None = getattr(self.app, "working", None)
        if working is None or self.ticket_locked or self.ticket_as_typed:
            return None, None
        if self.account_id and working.account_id and self.account_id != working.account_id:
            return None, working.ticket_id
        return working.ticket_id, None

    @property
    def hint(self) -> str:
        keys = ["Ctrl+S continue · Enter new line"] if self.multiline else ["Enter continue"]
        if not self.ticket_locked:
            keys.append("Tab next field")
        return " · ".join([*keys, "Esc cancel"])

    FIRST_FIELD = "#reason"
    problem = ""  # why the last answer was refused (shown with the dialog back as typed)

    def extra_fields(self) -> ComposeResult:
        """Fields a dialog asks before the reason (a credit's coins); none here."""
        return iter(())

    def extra_problem(self) -> str | None:
        """What is wrong with the extra fields (focusing the field), or None."""
        return None

    def on_mount(self) -> None:
        self.query_one(self.FIRST_FIELD).focus()

    @on(Input.Changed, "#reason")
    @on(TextArea.Changed, "#reason")
    def _typed(self) -> None:
        # the message asked for a reason: gone once there is one (a refusal shown with the answer as typed stays
        # until the reason is changed or the dialog is submitted again: the box reports its first value too)
        if self.reason_text and self.reason_text != self.reason.strip():
            self.query_one("#reason-error", Static).update("")

    @property
    def reason_text(self) -> str:
        box: Any = self.query_one("#reason")
        return str(box.value).strip()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        reason = self.reason_text
        ticket = self.query_one("#ticket", Input).value.strip() or None
        error = self.query_one("#reason-error", Static)
        problem = self.extra_problem()
        if problem:
            error.update(problem)
            return
        if not reason:
            error.update(f"A {self.note} is required: every action is audited with it.")
            self.query_one("#reason").focus()
            return
        if len(reason) > NOTE_LIMIT:
            error.update(f"The {self.note} is {len(reason):,} characters; at most {NOTE_LIMIT:,}. Shorten it.")
            self.query_one("#reason").focus()
            return
        self.dismiss((reason, ticket))

    def action_cancel(self) -> None:
        self.dismiss(None)


def reason_then_confirm(app: App[Any], dialog: ReasonScreen, question: Callable[[Answer], ConfirmScreen],
                        on_yes: Callable[[Answer], object]) -> None:
    """Ask the reason, then the confirmation; n or Esc there goes back to the reason as it was typed."""

    def given(answer: Answer | None) -> None:
        if answer is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                on_yes(answer)
            else:
                reason_then_confirm(app, dialog.again(answer), question, on_yes)

        app.push_screen(question(answer), confirmed)

    app.push_screen(dialog, given)
