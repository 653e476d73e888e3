"""The conversation under real PostgreSQL roles: an agent's login takes, notes, replies and moves the status (the
author is the login), and cannot edit a message afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from supportdesk.db.engine import read_session, write_session
from supportdesk.services import conversation, tickets
from supportdesk.services.audit import ActionContext
from supportdesk.services.outbox import FileOutbox
from tests.conftest import PG_URL
from tests.service.test_db_roles import _as, roles_locked, team  # noqa: F401 - the fixtures

pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="database roles need PostgreSQL (SUPPORTDESK_TEST_PG_URL)"),
    pytest.mark.xdist_group("pg_group_roles"),  # the cluster-wide group roles: one worker runs their tests in turn
]


def test_an_agent_login_works_a_ticket_and_cannot_edit_what_was_written(team, tmp_path):  # noqa: F811
    engine = _as(team["agent"])
    me = ActionContext(team["agent_login"], "", "T-1001")
    with write_session(engine) as s:
        tickets.assign(s, "T-1001", me.actor, me)
    with write_session(engine) as s:
        conversation.record(s, "T-1001", "note", "looked at the store", me)
    sent = conversation.reply(engine, "T-1001", "Your coins are there.", me, FileOutbox(tmp_path / "o.jsonl"),
                              status="pending")
    assert sent["message"]["sent_at"] is not None and sent["ticket"]["status"] == "pending"
    with read_session(engine) as s:
        t = tickets.show(s, "T-1001")["ticket"]
    assert t["assignee"] == me.actor and {m["author"] for m in t["messages"]} == {me.actor}
    assert {a["actor"] for a in t["actions"]} == {me.actor}
    raw = create_engine(make_url(team["agent"]).set(drivername="postgresql+psycopg"))
    with pytest.raises(DBAPIError) as caught, raw.begin() as conn:
        conn.execute(text("UPDATE ticket_messages SET body = 'edited'"))
    assert caught.value.orig.sqlstate == "42501"
    raw.dispose()
