"""The stores: pull what they know (transactions, refunds, chargebacks) over a window into store records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from supportdesk.desk.desk import Desk
    from supportdesk.stores.sync import SyncResult


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime | None  # None: up to the stores' now


class StoreDesk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def window(self, since: str, until: str | None = None) -> Window:
        """ISO 8601 times or spans back (30d, 12h), counted from the stores' clock."""
        from supportdesk.domain.when import parse_when

        now = self.desk.clock
        return Window(parse_when(since, now=now), parse_when(until, now=now) if until else None)

    def sync(self, window: Window, *, stores: list[str] | None = None, account_id: str | None = None,
             progress: Callable[[str, int, int | None], None] | None = None,
             cancelled: Callable[[], bool] | None = None) -> SyncResult:
        """Each store's records for the window (only `account`'s when given: any key), idempotent and
        cancellable between batches; a store that fails is in `failed` and the others still run. With
        `account_id` (see `Desk.account_id`) each store is asked about that customer only."""
        from supportdesk.stores.sync import sync

        return sync(self.desk.engine, self.desk.settings, since=window.since, until=window.until, stores=stores,
                    progress=progress, cancelled=cancelled, now=self.desk.clock, clients=self.desk.clients,
                    account_id=account_id)
