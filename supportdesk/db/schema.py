"""Alembic, driven from code: create a fresh database, refuse one whose schema is behind.

Every start checks the revision, so the check is cheap: the head comes from the migration files' own
`revision = ` lines and the database's from `alembic_version`; Alembic (a tenth of a second to import) is loaded
only when the two differ, to create, refuse or upgrade."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError, OperationalError

from supportdesk.db.engine import check_connect, redact
from supportdesk.errors import DatabaseUnavailable, SchemaOutOfDate

try:
    import fcntl
except ImportError:  # Windows: SQLite there is single-user anyway
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK_ID = 7_212_000  # pg advisory lock: one process creates the schema (audit appends use 7_212_001)
_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:['\"]([^'\"]*)['\"]|None)", re.MULTILINE)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # Alembic only when the schema is created, refused or upgraded

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


@cache
def head_revision() -> str:
    """The one revision no migration builds on, read from the files in migrations/versions (a test checks it
    against Alembic's own answer); more than one head, or a file it cannot read, asks Alembic."""
    revisions: set[str] = set()
    built_on: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((name, value) for name, value in _REVISION.findall(path.read_text(encoding="utf-8")))
        if not found.get("revision"):
            return _alembic_head()
        revisions.add(found["revision"])
        if found.get("down_revision"):
            built_on.add(found["down_revision"])
    heads = revisions - built_on
    return next(iter(heads)) if len(heads) == 1 else _alembic_head()


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    cfg = alembic_config(None)  # type: ignore[arg-type]  # reading the scripts needs no engine
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _at_head(engine: Engine) -> bool:
    """True when `alembic_version` holds exactly the head; anything else (no table yet, another revision, a
    branch) is for Alembic to judge."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:
        return False
    return rows == [head_revision()]


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def ensure_schema(engine: Engine) -> None:
    """An empty database is created at head; a database at an older revision is refused, not migrated.

    Several processes may start at once on an empty database (a team's first morning, a test run): the first
    creates the schema under a lock, the others wait for it and then find the schema at head."""
    check_connect(engine)
    try:
        if _at_head(engine):
            return
        with _migration_lock(engine):
            _create_or_refuse(engine)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseUnavailable(f"cannot set up the database {redact(str(engine.url))}: {reason}") from exc


def _create_or_refuse(engine: Engine) -> None:
    current = current_revision(engine)
    head = head_revision()
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
    fd = os.open(f"{database}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o600)  # beside a 0600 database
    with os.fdopen(fd, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
