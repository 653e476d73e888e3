"""Command palette: jump to an account by any key, or go to the search box."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from supportdesk.errors import SupportdeskError

if TYPE_CHECKING:
    from supportdesk.tui.app import SupportDeskApp

SEARCH_COMMAND = "Search accounts"
SEARCH_HELP = "Go to the search box"
MAX_HITS = 20


class AccountsProvider(Provider):
    @property
    def desk(self) -> SupportDeskApp:
        return cast("SupportDeskApp", self.app)

    async def discover(self) -> Hits:
        yield DiscoveryHit(SEARCH_COMMAND, self.desk.action_search, help=SEARCH_HELP)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        if (score := matcher.match(SEARCH_COMMAND)) > 0:
            yield Hit(score, matcher.highlight(SEARCH_COMMAND), self.desk.action_search, help=SEARCH_HELP)
        for account in await self.find(query):
            label = f"{account['handle']}  {account['account_id']}"
            yield Hit(max(matcher.match(label), 0.5), label, partial(self.desk.open_account, account["account_id"]),
                      help=f"Open account · {account['email']} · {account['country']} · {account['status']}")

    async def find(self, query: str) -> list[dict[str, Any]]:
        """Accounts for the palette; the query runs in a thread so typing never waits on the database."""
        if len(query.strip()) < 2:
            return []
        try:
            accounts = await asyncio.to_thread(self.desk.backend.search, query)
        except SupportdeskError:
            return []  # a half-typed id is not an error worth showing in the palette
        return accounts[:MAX_HITS]
