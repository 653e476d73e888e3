"""What every screen shares: worker failures end up in the one error modal; the ticket being worked on top."""

from __future__ import annotations

from textual import events
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from supportdesk.tui.screens.error import ErrorScreen
from supportdesk.tui.widgets.ticket_bar import TicketBar


class DeskScreen(Screen[None]):
    def _on_mount(self, event: events.Mount) -> None:
        # Runs besides a screen's own on_mount (Textual calls each class's handler): no screen has to compose it.
        self.mount(TicketBar())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # The one place failures are shown. Worker.StateChanged does not bubble, hence a base class.
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.worker_failed(event.worker)
            self.app.push_screen(ErrorScreen.from_exception(event.worker.error))
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self.call_after_refresh(self.ensure_focus)  # after the loaded (or failed) state is on screen

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        self.call_after_refresh(self.ensure_focus)

    def ensure_focus(self) -> None:
        """Focus is always on a widget that takes the next key: when nothing shown has it (a list emptied, a
        pane hidden, a load that failed), the first widget that can take it does, so no typed text runs as
        single-key commands."""
        if self.is_attached and (self.focused is None or self.focused not in self.focus_chain):
            self.set_focus(None)
            self.focus_next()

    def worker_failed(self, worker: Worker[object]) -> None:
        """Hook for a screen to leave its loading state; the modal is shown regardless."""
