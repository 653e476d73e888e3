"""Shared fixtures: a migrated database on SQLite, and on PostgreSQL when SUPPORTDESK_TEST_PG_URL is set.

PostgreSQL tests get a fresh database cloned from a migrated template (fast), dropped afterwards.

Parallel-safe (pytest-xdist, `./dev test` runs `-n auto`): every database has a random name, so each worker has its
own template and test databases. The group roles `supportdesk db roles` creates are cluster-wide, shared by every
worker (and every other test run on the cluster): a test that creates, grants or drops them holds
`group_roles_lock()` for its whole life, and so does the end-of-session clean-up that drops them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from supportdesk.db.engine import make_engine, normalise_url
from supportdesk.db.schema import ensure_schema

# A pytest-xdist worker starts with COLUMNS=80 and LINES=24 in its environment, which a serial run has not: a
# rich Console made at import (the CLI's) would then keep 80 columns even where a test's CliRunner sets COLUMNS.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)

PG_URL = os.environ.get("SUPPORTDESK_TEST_PG_URL")
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])

# Hypothesis profiles: `ci` (the default under CI) is small and derandomised; `long` is for a run by hand:
# `pytest tests/sim --hypothesis-profile long` (the simulation uses the CI size unless a profile is named).
_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", max_examples=15, stateful_step_count=20, deadline=None, derandomize=True,
                          suppress_health_check=_SLOW, print_blob=True)
settings.register_profile("long", max_examples=1000, stateful_step_count=50, deadline=None,
                          suppress_health_check=_SLOW, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def _admin() -> Engine:
    """The admin database, with no pool: each connection closes when its block ends. (A pooled engine per call
    kept one idle connection per test until the garbage collector found it: 60 to 84 idle at once in one worker,
    near the server's 100.)"""
    url = make_url(normalise_url(PG_URL or "")).set(database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


ROLES_LOCK = 0x5D_A6E7  # the advisory lock key for supportdesk_agent/supportdesk_lead (any constant all runs share)


@contextmanager
def group_roles_lock() -> Iterator[None]:
    """Hold the PostgreSQL advisory lock on the cluster-wide group roles until the block ends.

    Advisory locks belong to one database, so every holder locks in the admin database (`postgres`); the lock is
    a session lock on a connection of its own, released when the block ends (or the connection dies)."""
    admin = _admin()
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ROLES_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ROLES_LOCK})
    finally:
        admin.dispose()


def drop_group_roles() -> None:
    """Drop the group roles unless some database (another worker's, another run's) still grants to them."""
    with _admin().connect() as conn:
        try:
            conn.execute(text("DROP ROLE IF EXISTS supportdesk_lead, supportdesk_agent"))
        except DBAPIError:  # 2BP01 (InternalError): privileges in another database still depend on them
            pass


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    if not PG_URL:
        yield None
        return
    name = f"sd_tmpl_{uuid.uuid4().hex[:8]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(PG_URL)).set(database=name)
    engine = make_engine(url.render_as_string(hide_password=False))
    ensure_schema(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    with group_roles_lock():  # the roles `supportdesk db roles` made in test databases: leave none behind
        drop_group_roles()


def new_database_url(backend: str, tmp_path: Path, template: str | None) -> tuple[str, str | None]:
    """A URL to an empty, migrated database; the second item is the PG database to drop afterwards."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}", None
    name = f"sd_t_{uuid.uuid4().hex[:10]}"
    with _admin().connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    return make_url(normalise_url(PG_URL or "")).set(database=name).render_as_string(hide_password=False), name


def drop_database(name: str | None) -> None:
    if name:
        with _admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_template: str | None) -> Iterator[str]:
    url, name = new_database_url(request.param, tmp_path, pg_template)
    yield url
    drop_database(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    ensure_schema(eng)
    yield eng
    eng.dispose()
