"""SQLite write transactions wait for the write lock by polling it themselves (SQLite's busy handler sleeps up to
100 ms between tries): a writer behind another gets in once that one commits, gives up with "database is locked"
after the busy timeout, and leaves the connection's busy timeout as it was."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from supportdesk.db import engine as db


@pytest.fixture
def two(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    first, second = db.make_engine(url), db.make_engine(url)
    with first.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    yield first, second
    first.dispose()
    second.dispose()


def test_a_waiting_writer_gets_in_when_the_lock_is_released(two):
    first, second = two
    started, done = threading.Event(), []

    def write() -> None:
        started.set()
        with second.execution_options(write=True).begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
        done.append(True)

    with first.execution_options(write=True).begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        waiting = threading.Thread(target=write)
        waiting.start()
        started.wait()
        waiting.join(0.05)
        assert waiting.is_alive() and not done  # it waits for the lock: no error, nothing written yet
    waiting.join(5)
    assert done
    with second.connect() as conn:
        assert conn.exec_driver_sql("SELECT x FROM t ORDER BY x").scalars().all() == [1, 2]
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.BUSY_TIMEOUT_S * 1000


def test_a_writer_gives_up_after_the_busy_timeout(two, monkeypatch):
    first, second = two
    monkeypatch.setattr(db, "BUSY_TIMEOUT_S", 0.2)
    with first.execution_options(write=True).begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(OperationalError, match="database is locked"):
            with second.execution_options(write=True).begin():
                pass
    with second.execution_options(write=True).begin() as conn:  # the same pooled connection, usable again
        conn.execute(text("INSERT INTO t VALUES (2)"))
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200
    with second.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 2
