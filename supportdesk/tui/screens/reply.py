"""Write to a ticket: a reply to the customer (with the status to leave the ticket in) or an internal note, in a
multi-line editor; a macro's text arrives filled in, to edit before sending. Also the macro picker."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from supportdesk.desk.ticket_results import MacroInfo
from supportdesk.domain import limits
from supportdesk.domain.conversation import REPLY, REPLY_STATUSES, check_body
from supportdesk.errors import InvalidInput
from supportdesk.tui.format import shown
from supportdesk.tui.widgets.note_area import NoteArea

AS_IT_IS = "as-it-is"


@dataclass(frozen=True, slots=True)
class Draft:
    body: str
    status: str | None  # a reply's status for the ticket; None: as it is (a new ticket becomes open)
    macro: str | None


class ReplyScreen(ModalScreen[Draft | None]):
    """Dismisses with the draft on Ctrl+S (checked as the service checks it), None on Esc."""

    DEFAULT_CSS = """
    ReplyScreen .dialog { width: 76; }
    ReplyScreen Select { width: 30; }
    ReplyScreen #rp-error { color: $text-error; height: auto; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel_reply"),
        Binding("ctrl+s", "send", "Send", id="send_reply"),
        Binding("f2", "copy", "Copy text", id="copy_reply"),
    ]
    EDITOR_HEIGHT = 10

    def __init__(self, kind: str, ticket_id: str, who: str, status: str, text: str = "",
                 macro: str | None = None) -> None:
        super().__init__()
        self.kind, self.ticket_id, self.who, self.status, self.macro = kind, ticket_id, who, status, macro
        self.text = text

    def compose(self) -> ComposeResult:
        reply = self.kind == REPLY
        with Vertical(id="dialog", classes="dialog") as dialog:
            dialog.border_title = Content(shown(
                f"Reply to {self.who} on {self.ticket_id}" if reply else f"Internal note on {self.ticket_id}"))
            dialog.border_subtitle = "sent to the outbox" if reply else "agents only, never sent"
            if self.macro:
                yield Label(shown(f"From the macro {self.macro}: edit it before sending."))
            yield NoteArea(self.text, placeholder="the reply: every line is kept" if reply else "what agents "
                           "should know", max_length=limits.MESSAGE, id="rp-body")
            if reply:
                options = [(f"leave it {self.status}", AS_IT_IS)] + [(s, s) for s in REPLY_STATUSES
                                                                     if s != self.status]
                yield Select(options, value=AS_IT_IS, allow_blank=False, id="rp-status", compact=True)
            yield Static("", id="rp-error")
            yield Static(f"Ctrl+S {'send' if reply else 'save'} · F2 copy the text · Tab next · Esc cancel",
                         classes="hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        area = self.query_one(NoteArea)
        area.styles.height = self.EDITOR_HEIGHT  # over the app's 5 lines for a note: a reply is a letter
        area.focus()

    @property
    def body(self) -> str:
        return self.query_one(NoteArea).text

    def action_send(self) -> None:
        try:
            text = check_body(self.kind, self.body)
        except InvalidInput as exc:
            self.query_one("#rp-error", Static).update(Content(shown(exc.message)))
            self.query_one(NoteArea).focus()
            return
        status = None
        if self.kind == REPLY:
            chosen = str(self.query_one("#rp-status", Select).value)
            status = None if chosen == AS_IT_IS else chosen
        self.dismiss(Draft(text, status, self.macro))

    def action_copy(self) -> None:
        """The text to the clipboard (OSC 52: works over SSH), e.g. to paste into another help desk."""
        if not self.body.strip():
            self.notify("Nothing to copy yet.", severity="warning")
            return
        self.app.copy_to_clipboard(self.body)
        self.notify(f"Copied the {'reply' if self.kind == REPLY else 'note'} to the clipboard.")

    def action_cancel(self) -> None:
        self.dismiss(None)


class Picker(ModalScreen[str | None]):
    """A short list to pick from (macros, statuses): Enter dismisses with the item's id, Esc with None."""

    DEFAULT_CSS = """
    Picker { align: center middle; }
    #mp-box { width: 64; height: auto; max-height: 16; border: round $primary; background: $panel; }
    #mp-list { height: auto; max-height: 12; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_pick")]

    def __init__(self, title: str, items: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text, self.items = title, items

    def compose(self) -> ComposeResult:
        with Vertical(id="mp-box") as box:
            box.border_title = Content(shown(self.title_text))
            yield OptionList(*[Option(Content(shown(label)), id=item) for item, label in self.items], id="mp-list")
            yield Static("Enter pick · Esc cancel", classes="hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def macro_picker(macros: Iterable[MacroInfo]) -> Picker:
    return Picker("Reply from a macro", [(m.name, f"{m.name:<18} {m.title}") for m in macros])
