"""Store notifications (the listener's service): once per notification id, through the sync's upsert; an App
Store consumption request opens one ticket per transaction with its 12-hour deadline, shown everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import Account, StoreNotification, StoreRecord, Ticket
from supportdesk.services import lookup, tickets
from supportdesk.services.notifications import Notification, accept
from supportdesk.stores.records import apple_record

TOKEN = "5f0e7c2a-8d4b-4b7e-9a55-0c1d2e3f4a5b"
ASKED = datetime(2026, 10, 1, 12, tzinfo=UTC)


def seed(engine) -> None:
    with write_session(engine) as session:
        session.add(Account(account_id="acc_1", handle="@ana", email="ana@example.com", country="US", kind="viewer",
                            status="active", created_at=ASKED - timedelta(days=90), coin_balance=0,
                            diamond_balance=0, apple_app_account_token=TOKEN))


def txn(**over) -> dict:
    return {"transactionId": "2000000123", "productId": "coins_70", "purchaseDate": 1_756_000_000_000,
            "price": 990, "currency": "USD", "storefront": "USA", "appAccountToken": TOKEN, **over}


def test_a_notification_is_written_once(engine):
    seed(engine)
    refund = Notification("apple", "uuid-1", "REFUND", [apple_record(txn(revocationDate=1_757_000_000_000))])
    first = accept(engine, refund)
    assert first["duplicate"] is False and first["inserted"] == 1
    with read_session(engine) as s:
        before = [r.model_dump() for r in s.exec(select(StoreRecord)).all()]
        assert before[0]["state"] == "refunded" and before[0]["account_id"] == "acc_1"
    assert accept(engine, refund)["duplicate"] is True
    with read_session(engine) as s:
        assert [r.model_dump() for r in s.exec(select(StoreRecord)).all()] == before
        assert len(s.exec(select(StoreNotification)).all()) == 1


def test_a_consumption_request_opens_one_ticket_with_its_deadline(engine):
    seed(engine)
    asked = Notification("apple", "uuid-2", "CONSUMPTION_REQUEST", [apple_record(txn())], signed_at=ASKED)
    opened = accept(engine, asked)["ticket"]
    assert opened["opened"] is True and opened["answer_due_at"] == ASKED + timedelta(hours=12)
    later = ASKED + timedelta(hours=1)  # Apple asks again (another notification): the deadline moves, one ticket
    again = accept(engine, Notification("apple", "uuid-3", "CONSUMPTION_REQUEST", [apple_record(txn())],
                                        signed_at=later))["ticket"]
    assert again["opened"] is False and again["ticket_id"] == opened["ticket_id"]
    with read_session(engine) as s:
        assert len(s.exec(select(Ticket)).all()) == 1
        (listed,) = tickets.list_tickets(s)["tickets"]
        assert listed["answer_due_at"] == later + timedelta(hours=12) and listed["category"] == "refund_request"
        assert tickets.show(s, opened["ticket_id"])["ticket"]["answer_due_at"] == later + timedelta(hours=12)
        (on_story,) = lookup.story(s, "acc_1")["tickets"]
        assert on_story["answer_due_at"] == later + timedelta(hours=12)
