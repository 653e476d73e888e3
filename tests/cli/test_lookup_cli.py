"""The CLI face of lookup and tickets: any-case handles, one ticket check before any prompt, status filters,
sequential ticket ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlmodel import func, select

from supportdesk.cli.context import AppContext
from supportdesk.db.engine import make_engine, read_session, write_session
from supportdesk.db.models import AuditRecord, ReviewFlag
from supportdesk.errors import NotFound
from supportdesk.tui.backend import Backend
from tests.cli.test_cli import imported, run  # noqa: F401 - the fixture


def body(*args: str) -> dict:
    result = run(*args, "--json")
    return json.loads(result.stdout)


@pytest.mark.parametrize("query", ["@USER", "USER", "@User1", "user1"])
def test_search_any_case(imported, query):  # noqa: F811
    found = [a["handle"] for a in body("--db", imported, "search", query)["accounts"]]
    assert found == (["@user1"] if query.lower().endswith("1") else ["@user0", "@user1", "@user2"])


def test_account_and_ticket_create_by_handle_in_any_case(imported):  # noqa: F811
    assert body("--db", imported, "account", "@USER2")["account"]["account_id"] == "acc_0002"
    made = [body("--db", imported, "ticket", "create", "@User2", "--subject", "Hi")["ticket"]["ticket_id"]
            for _ in range(2)]
    assert made == ["T-1002", "T-1003"]


def flag(url: str) -> int:
    engine = make_engine(url)
    with write_session(engine) as s:
        s.add(ReviewFlag(flag_id="flg_x", rule="velocity", account_id="acc_0001", score=60, evidence={},
                         status="open", created_at=datetime.now(UTC)))
    with read_session(engine) as s:
        count = int(s.exec(select(func.count()).select_from(AuditRecord)).one())
    engine.dispose()
    return count


@pytest.mark.parametrize("yes", [["--yes"], []])
def test_review_decision_with_a_ticket_that_does_not_exist(imported, yes):  # noqa: F811
    before = flag(imported)
    result = run("--db", imported, "review", "act", "flg_x", "--action", "dismiss", "--reason", "ok",
                 "--ticket", "T-9999", *yes, "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["error"]["code"] == "not_found"
    assert before == _audit_count(imported)


def _audit_count(url: str) -> int:
    engine = make_engine(url)
    with read_session(engine) as s:
        count = int(s.exec(select(func.count()).select_from(AuditRecord)).one())
    engine.dispose()
    return count


def test_review_decision_with_a_lower_case_ticket_records_the_ticket(imported):  # noqa: F811
    flag(imported)
    result = run("--db", imported, "review", "act", "flg_x", "--action", "dismiss", "--reason", "ok",
                 "--ticket", "t-1001", "--yes", "--json")
    assert result.exit_code == 0, result.output
    shown = body("--db", imported, "ticket", "show", "T-1001")["ticket"]
    assert [a["action"] for a in shown["actions"]] == ["review.dismiss"]


def test_the_app_refuses_a_ticket_that_does_not_exist(imported):  # noqa: F811
    flag(imported)
    backend = Backend(AppContext(db_url=imported))
    with pytest.raises(NotFound, match="no ticket T-9999"):
        backend.review_act("flg_x", "dismiss", "ok", "T-9999")
    assert backend.review_act("flg_x", "dismiss", "ok", "T-1001")["flag"]["status"] == "dismissed"


def test_ticket_list_filters(imported):  # noqa: F811
    assert [t["ticket_id"] for t in body("--db", imported, "ticket", "list")["tickets"]] == ["T-1001"]
    run("--db", imported, "ticket", "solve", "T-1001", "--note", "sent the coins")
    assert body("--db", imported, "ticket", "list")["tickets"] == []
    solved = body("--db", imported, "ticket", "list", "--status", "solved")
    assert [t["status"] for t in solved["tickets"]] == ["solved"] and solved["statuses"] == ["solved"]
    assert len(body("--db", imported, "ticket", "list", "--status", "all")["tickets"]) == 1
    human = run("--db", imported, "ticket", "list")
    assert "0 of 0 tickets (unsolved: new, open, pending, on-hold)" in human.output
