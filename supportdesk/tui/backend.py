"""The TUI's only door to the database: service calls, each in its own read session.

Called from worker threads. Services are imported lazily so the app starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from supportdesk.cli.context import AppContext


class Backend:
    def __init__(self, state: AppContext) -> None:
        self.state = state

    def search(self, text: str) -> list[dict[str, Any]]:
        """Account summaries matching `text`; raises InvalidInput for a malformed query."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup

        with read_session(self.state.engine) as session:
            return list(lookup.search(session, text)["accounts"])

    def story(self, query: str) -> dict[str, Any]:
        """One account's money story (see `lookup.story`); raises NotFound."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup

        with read_session(self.state.engine) as session:
            return lookup.story(session, query)
