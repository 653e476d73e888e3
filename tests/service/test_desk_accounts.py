"""`desk.accounts` on both engines: a search, and a batch whose failed query leaves its held session usable."""

from __future__ import annotations

import pytest

from supportdesk.db.engine import write_session
from supportdesk.desk import Desk
from supportdesk.desk.accounts import Balance
from supportdesk.desk.context import AppContext
from supportdesk.errors import InvalidInput, NotFound
from tests.service.test_desk import account


@pytest.fixture
def desk(db_url: str) -> Desk:
    d = Desk.open(AppContext(db_url=db_url))
    with write_session(d.engine) as session:
        session.add(account("acc_1", 5))
    return d


def test_search_and_story_through_the_desk(desk: Desk) -> None:
    found = desk.accounts.search("@acc_1")
    assert [a["account_id"] for a in found.accounts] == ["acc_1"] and found.limit == desk.accounts.limit
    assert found.to_json()["more"] is False
    story = desk.accounts.story("acc_1", check_ledger=False)
    assert story.balances.coin == Balance(ledger=None, cached=5, drift=None)
    assert story.to_json()["balances"]["coin"] == {"ledger": None, "cached": 5, "drift": None}
    checked = desk.accounts.ledger_check("acc_1")
    assert checked.balances.coin.drift == 5 and story.checked(checked).ledger_total == 0
    assert desk.accounts.ledger_page("acc_1", None).to_json() == {"entries": [], "next": None}


def test_a_batch_goes_on_after_a_failed_query(desk: Desk) -> None:
    with desk.accounts.batch("story") as ask:
        with pytest.raises(NotFound):
            ask("acc_nope")
        assert ask("acc_1")["account"]["account_id"] == "acc_1"  # rolled back: PostgreSQL answers again
    with desk.accounts.batch("search") as ask:
        with pytest.raises(InvalidInput):
            ask("x" * 10_000)
        assert ask("acc_1")["accounts"][0]["handle"] == "@acc_1"
