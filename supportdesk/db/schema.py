"""Alembic, driven from code: create a fresh database, refuse one whose schema is behind."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import OperationalError

from supportdesk.db.engine import check_connect, redact
from supportdesk.errors import DatabaseUnavailable, SchemaOutOfDate

try:
    import fcntl
except ImportError:  # Windows: SQLite there is single-user anyway
    fcntl = None  # type: ignore[assignment]

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK_ID = 7_212_000  # pg advisory lock: one process creates the schema (audit appends use 7_212_001)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision(engine: Engine) -> str:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def ensure_schema(engine: Engine) -> None:
    """An empty database is created at head; a database at an older revision is refused, not migrated.

    Several processes may start at once on an empty database (a team's first morning, a test run): the first
    creates the schema under a lock, the others wait for it and then find the schema at head."""
    check_connect(engine)
    try:
        if current_revision(engine) == head_revision(engine):
            return
        with _migration_lock(engine):
            _create_or_refuse(engine)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseUnavailable(f"cannot set up the database {redact(str(engine.url))}: {reason}") from exc


def _create_or_refuse(engine: Engine) -> None:
    current = current_revision(engine)
    head = head_revision(engine)
    if current == head:
        return  # another process created it while we waited for the lock
    if current is None and not inspect(engine).get_table_names():
        upgrade(engine)
        return
    raise SchemaOutOfDate(
        f"the database schema is at revision {current or 'none'}, this version of supportdesk needs {head}: "
        "run `supportdesk db upgrade` (back up a shared database first)"
    )


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """PostgreSQL: a session advisory lock. SQLite: an exclusive lock on a file beside the database."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:" or fcntl is None:
        yield
        return
    with open(f"{database}.migrate-lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
