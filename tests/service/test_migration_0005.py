"""Migration 0005 maps the tickets' statuses of an existing database onto the help-desk set."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import make_url, text

from supportdesk.db.engine import make_engine, normalise_url
from supportdesk.db.schema import upgrade
from supportdesk.domain.tickets import STATUSES
from tests.conftest import BACKENDS, PG_URL, _admin

OLD = {"T-1": "resolved", "T-2": "Solved", "T-3": "hold", "T-4": "open", "T-5": "closed", "T-6": "pending"}
NEW = {"T-1": "solved", "T-2": "solved", "T-3": "on-hold", "T-4": "open", "T-5": "closed", "T-6": "pending"}


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    name = f"sd_m_{uuid.uuid4().hex[:10]}"
    with _admin().connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(normalise_url(PG_URL or "")).set(database=name).render_as_string(hide_password=False)
    with _admin().connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_old_statuses_are_mapped(empty_url):
    engine = make_engine(empty_url)
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO accounts (account_id, handle, email, country, kind, status, created_at, "
                          "coin_balance, diamond_balance) VALUES ('acc_1', '@a', 'a@x.io', 'US', 'viewer', 'active', "
                          "'2026-01-01', 0, 0)"))
        for ticket_id, status in OLD.items():
            conn.execute(text("INSERT INTO tickets (ticket_id, account_id, subject, body, category, status, created_at)"
                              " VALUES (:t, 'acc_1', 's', '', 'other', :s, '2026-01-01')"), {"t": ticket_id, "s": status})
    upgrade(engine)
    with engine.connect() as conn:
        after = dict(conn.execute(text("SELECT ticket_id, status FROM tickets")).all())
    engine.dispose()
    assert after == NEW and set(after.values()) <= set(STATUSES)
