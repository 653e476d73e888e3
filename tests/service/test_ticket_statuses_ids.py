"""Tickets speak the help-desk vocabulary (imports mapped onto it), list by filter (unsolved by default), and new
tickets take the next number of the sequence, also when two agents open one at the same moment."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import select

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import LedgerEntry, Ticket
from supportdesk.domain.ledger import Posting
from supportdesk.errors import ImportFailed, InvalidInput
from supportdesk.services import ledger, tickets
from supportdesk.services.audit import ActionContext
from supportdesk.services.importer import run_import
from tests.service.factories import T0, minimal, write_dataset

CTX = ActionContext("agent-3", "new ticket")


def ticket(ticket_id: str, status: str) -> dict:
    return {"ticket_id": ticket_id, "account_id": "acc_0001", "subject": "s", "body": "", "category": "other",
            "status": status, "created_at": T0}


@pytest.fixture
def loaded(engine, tmp_path):
    data = minimal()
    data["tickets"] += [ticket("T-1016", "resolved"), ticket("T-999", "Solved"), ticket("T-1010", "on hold"),
                        ticket("ZD-77", "pending"), ticket("T-1011", "closed"), ticket("T-1012", "new")]
    run_import(engine, write_dataset(tmp_path / "ds", data))
    return engine


def statuses(engine) -> dict[str, str]:
    with read_session(engine) as s:
        return {t.ticket_id: t.status for t in s.exec(select(Ticket))}


def test_imported_statuses_are_mapped_onto_the_help_desk_set(loaded):
    assert statuses(loaded) == {"T-1001": "open", "T-1016": "solved", "T-999": "solved", "T-1010": "on-hold",
                                "ZD-77": "pending", "T-1011": "closed", "T-1012": "new"}


def test_an_unknown_imported_status_is_refused(engine, tmp_path):
    data = minimal()
    data["tickets"].append(ticket("T-2000", "banana"))
    with pytest.raises(ImportFailed) as caught:
        run_import(engine, write_dataset(tmp_path / "ds", data))
    assert "banana" in str(caught.value.details)


@pytest.mark.parametrize(("name", "expected"), [
    (None, ["T-1001", "T-1010", "T-1012", "ZD-77"]), ("unsolved", ["T-1001", "T-1010", "T-1012", "ZD-77"]),
    ("solved", ["T-1016", "T-999"]), ("on-hold", ["T-1010"]), ("closed", ["T-1011"]), ("resolved", ["T-1016", "T-999"]),
    ("all", ["T-1001", "T-1010", "T-1011", "T-1012", "T-1016", "T-999", "ZD-77"]),
])
def test_status_filters(loaded, name, expected):
    with read_session(loaded) as s:
        body = tickets.list_tickets(s, status=name)
    assert sorted(t["ticket_id"] for t in body["tickets"]) == expected and body["total"] == len(expected)


def test_unknown_filter_names_every_filter(loaded):
    with pytest.raises(InvalidInput, match="unsolved, new, open, pending, on-hold, solved, closed, all"), \
            read_session(loaded) as s:
        tickets.list_tickets(s, status="whatever")


def test_resolving_makes_a_ticket_solved(loaded):
    with write_session(loaded) as s:
        tickets.resolve(s, "t-1001", "credited", ActionContext("agent-3", "credited"))
    assert statuses(loaded)["T-1001"] == "solved"
    with read_session(loaded) as s:
        assert "T-1001" in [t["ticket_id"] for t in tickets.list_tickets(s, status="solved")["tickets"]]


def test_new_tickets_take_the_next_number(loaded):
    made = []
    for _ in range(2):
        with write_session(loaded) as s:
            made.append(tickets.create(s, "acc_0001", "Refund please", "", "refund_request", CTX)["ticket"]["ticket_id"])
    assert made == ["T-1017", "T-1018"]


def test_the_first_new_ticket_of_an_empty_desk(engine, tmp_path):
    data = minimal()
    data["tickets"] = []
    run_import(engine, write_dataset(tmp_path / "ds", data))
    with write_session(engine) as s:
        assert tickets.create(s, "acc_0001", "Hi", "", "other", CTX)["ticket"]["ticket_id"] == "T-1001"


def test_agents_opening_tickets_at_once_get_distinct_numbers(loaded):
    made: list[str] = []
    errors: list[Exception] = []
    start = threading.Barrier(4)

    def open_one() -> None:
        start.wait()
        try:
            with write_session(loaded) as s:
                made.append(tickets.create(s, "acc_0002", "Coins?", "", "other", CTX)["ticket"]["ticket_id"])
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and sorted(made) == ["T-1017", "T-1018", "T-1019", "T-1020"]


def test_new_entry_ids_are_no_longer_than_imported_ones(loaded):
    with write_session(loaded) as s:
        ledger.post(s, [Posting("acc_0001", "coin", 5, "grant")], ActionContext("a", "goodwill"), key="g1")
    with read_session(loaded) as s:
        ids = [e.entry_id for e in s.exec(select(LedgerEntry).where(LedgerEntry.idempotency_key.is_not(None)))]
    assert len(ids) == 1 and ids[0].startswith("le_") and len(ids[0]) == len("le_miz1d5yl9vwhy7")
    assert len({ledger.new_id("le") for _ in range(10_000)}) == 10_000


@pytest.mark.parametrize(("field", "subject", "body"), [
    ("subject", "x" * 501, ""), ("ticket body", "s", "x" * 20_001), ("ticket body", "s", "a\x00b"),
])
def test_ticket_text_has_limits(loaded, field, subject, body):
    with pytest.raises(InvalidInput, match=f"the {field}"), write_session(loaded) as s:
        tickets.create(s, "acc_0001", subject, body, "other", CTX)
    assert len(statuses(loaded)) == 7
