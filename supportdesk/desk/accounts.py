"""Looking things up: search, an account's money story (its ledger checked and paged), one purchase's story, the
home overview, and batch lookups (one held session and connection for a whole `--stdin` batch)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from supportdesk.desk.desk import Desk

Row = dict[str, Any]
Ask = Callable[[str], Row]


@dataclass
class Matches:
    """A search: the parsed `query`, the matching `accounts` (likeliest key first, at most `limit`), `more` when
    there were more than `limit`."""

    body: Row
    limit: int

    @property
    def accounts(self) -> list[Row]:
        return list(self.body["accounts"])

    @property
    def text(self) -> str:
        return str(self.body["query"]["text"])

    def to_json(self) -> Row:
        return self.body


@dataclass
class PurchaseStory:
    """One purchase: `purchase`, `store_record`, `region` then, refund `decision` now, `flags`, `timeline`."""

    body: Row

    def to_json(self) -> Row:
        from supportdesk.services.audit import plain

        return plain(self.body)


@dataclass
class Overview:
    """The home screen: my open `tickets` and their deadlines, open `flags` by rule, `stores`, last `reconcile`."""

    body: Row

    def to_json(self) -> Row:
        from supportdesk.services.audit import plain

        return plain(self.body)


class AccountDesk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    @property
    def limit(self) -> int:
        """How many accounts a search returns at most (a full list means there may be more)."""
        from supportdesk.services.lookup import SEARCH_LIMIT

        return SEARCH_LIMIT

    def search(self, text: str) -> Matches:
        """Accounts matching `text` under any key; raises InvalidInput for a malformed query."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup

        with read_session(self.desk.engine) as session:
            return Matches(lookup.search(session, text), lookup.SEARCH_LIMIT)

    def story(self, query: str, *, check_ledger: bool = True) -> Row:
        """One account's money story (see `lookup.story`; without `check_ledger`, the cached balances and
        `ledger_check` to follow); raises NotFound."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup

        with read_session(self.desk.engine) as session:
            return lookup.story(session, query, check_ledger=check_ledger)

    def ledger_check(self, account_id: str) -> Row:
        """Both balances summed from the ledger with drift, the debt and the entry count."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup

        with read_session(self.desk.engine) as session:
            return lookup.ledger_check(session, account_id)

    def ledger_page(self, account_id: str, before_seq: int | None) -> Row:
        """The next page of an account's ledger, newest first (`entries`, `next`)."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup

        with read_session(self.desk.engine) as session:
            return lookup.ledger_page(session, account_id, before_seq)

    def purchase(self, target: str) -> PurchaseStory:
        """One purchase (id, store transaction or order id): its timeline, region then and refund decision now,
        counted on the stores' clock."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import purchase_detail

        with read_session(self.desk.engine) as session:
            return PurchaseStory(purchase_detail.detail(session, target, self.desk.now(), self.desk.refund_policy))

    def overview(self) -> Overview:
        """The home screen for the desk's agent; deadlines on the stores' clock, as refunds count."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import overview
        from supportdesk.stores.sync import configured_stores

        with read_session(self.desk.engine) as session:
            return Overview(overview.overview(session, self.desk.ctx.identity.actor, self.desk.now(),
                                              configured_stores(self.desk.settings)))

    @contextmanager
    def batch(self, kind: Literal["search", "story"]) -> Iterator[Ask]:
        """One session (and its held connection and compiled statements) for a whole batch: `ask(query)` gives
        what `--json` prints for one query. A query that fails is rolled back before its error goes up, so the
        next one starts clean (PostgreSQL refuses every statement after an error until then)."""
        from sqlmodel import Session

        from supportdesk.services import lookup

        run: Callable[[Session, str], Row] = lookup.search if kind == "search" else lookup.story
        with Session(self.desk.engine) as session:
            def ask(query: str) -> Row:
                try:
                    return run(session, query)
                except Exception:
                    session.rollback()
                    raise

            yield ask
