"""Goodwill, cashouts and the review queue through the desk: typed plans and results, keys checked first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supportdesk.db.engine import write_session
from supportdesk.db.models import ReviewFlag
from supportdesk.desk import Desk
from supportdesk.desk.context import AppContext
from supportdesk.errors import InvalidInput
from tests.service.test_desk import account

EVIDENCE = {"count": 3, "usd_minor": 2997, "window_hours": 1}


@pytest.fixture
def desk(db_url: str) -> Desk:
    desk = Desk.open(AppContext(db_url=db_url))
    with write_session(desk.engine) as session:
        session.add(account("acc_1", 0))
        session.flush()
        session.add(ReviewFlag(flag_id="flg_1", rule="velocity", account_id="acc_1", score=60, evidence=EVIDENCE,
                               status="open", created_at=datetime.now(UTC)))
    return desk


def test_credit_and_status_through_the_desk(desk: Desk) -> None:
    who = desk.acting(None, "late coins", None)
    plan = desk.goodwill.plan_credit("@acc_1", 5, who)
    assert plan.question.startswith("Credit 5 coins to @acc_1 (acc_1)")
    first = desk.goodwill.credit(plan, who)
    assert not first.replayed and first.to_json()["balance_after"] == 5
    assert desk.goodwill.credit(plan, who).replayed  # the same credit again: once
    with pytest.raises(InvalidInput, match="idempotency-key"):
        desk.goodwill.credit(plan, who, key=" ")
    limit = desk.goodwill.plan_status("acc_1", "limit", who)
    assert limit.changes and desk.goodwill.status(limit, who).to_json()["after"] == "limited"
    assert not desk.goodwill.plan_status("acc_1", "limit", who).changes


def test_review_page_flag_and_decision(desk: Desk) -> None:
    page = desk.review.page()
    assert [f["flag_id"] for f in page.flags] == ["flg_1"] and page.counts == {"velocity": 1}
    assert desk.review.page(after=(60, "flg_1")).counts is None  # counts on the first page only
    assert desk.review.flag("flg_1")["evidence"] == EVIDENCE
    with pytest.raises(InvalidInput, match="--reason"):
        desk.review.check("dismiss", " ")
    decided = desk.review.act("flg_1", "dismiss", desk.acting(None, "looks fine", None))
    assert decided.flag["status"] == "dismissed" and not decided.applied["replayed"]
    assert desk.review.page().flags == [] and desk.review.page(decided=True).flags[0]["status"] == "dismissed"
