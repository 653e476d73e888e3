"""Fixing one finding, in three steps: a reason (and a ticket), a confirmation in words that say exactly what will
be posted, and on n or Esc back to the reason as typed (not thrown away). Only a yes goes on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App

from supportdesk.desk.reconcile import describe
from supportdesk.domain.findings import Finding
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.reason import Answer, ReasonScreen


class FixDialog:
    """Pushes the reason and confirmation screens for `finding`, starting from `answer` (the last reason and
    ticket). `answered(answer)` hears each reason given; `confirmed(reason, ticket)` the confirmed one. Once
    `current()` is False (the screen ran again), whatever the agent answers is dropped."""

    def __init__(self, app: App[Any], finding: Finding, answer: Answer, *, current: Callable[[], bool],
                 answered: Callable[[Answer], None], confirmed: Callable[[str, str | None], None]) -> None:
        self.app, self.finding, self.answer = app, finding, answer
        self.current, self.answered, self.confirmed = current, answered, confirmed

    @property
    def title(self) -> str:
        return f"Fix {self.finding.kind}"

    def open(self) -> None:
        reason, ticket = self.answer
        self.app.push_screen(ReasonScreen(self.title, describe(self.finding), reason, ticket or "",
                                          account_id=self.finding.account_id), self._reason_given)

    def _reason_given(self, answer: Answer | None) -> None:
        if answer is None or not self.current():
            return
        self.answered(answer)
        reason, ticket = answer
        question = f"{describe(self.finding)}, reason {reason!r}, " + (f"ticket {ticket}?" if ticket else "no ticket?")
        self.app.push_screen(ConfirmScreen(question, title="Post this fix?"),
                             lambda yes: self._confirmed(reason, ticket, yes))

    def _confirmed(self, reason: str, ticket: str | None, yes: bool | None) -> None:
        if not self.current():
            return
        if not yes:  # n or Esc: back to the reason as typed
            self.app.push_screen(ReasonScreen(self.title, describe(self.finding), reason, ticket or "",
                                              ticket_as_typed=True, account_id=self.finding.account_id),
                                 self._reason_given)
            return
        self.confirmed(reason, ticket)
