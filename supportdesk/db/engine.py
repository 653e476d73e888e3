"""Engines and sessions: SQLite (WAL, immediate write transactions) or PostgreSQL via psycopg 3."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from platformdirs import user_data_dir
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, OperationalError
from sqlmodel import Session

from supportdesk.errors import ConfigError, DatabaseUnavailable, Forbidden, InvalidInput

ENV_URL = "SUPPORTDESK_DATABASE_URL"
IDLE_PING_S = 30.0  # a pooled PostgreSQL connection idle longer than this is pinged before it is handed out
BUSY_TIMEOUT_S = 30.0  # SQLite: how long a statement waits for a lock before "database is locked"
WRITE_POLL_S = (0.001, 0.1, 0.005)  # SQLite: a writer tries for the lock every 1 ms for 0.1 s, then every 5 ms


def default_url() -> str:
    path = Path(user_data_dir("supportdesk", appauthor=False)) / "supportdesk.db"
    return f"sqlite:///{path}"


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` and `postgres://` URLs and use psycopg 3 for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def make_engine(url: str | None = None) -> Engine:
    url = normalise_url(url or os.environ.get(ENV_URL) or default_url())
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"not a database URL: {redact(url)!r}") from exc
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, parsed.database)
    elif parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, connect_args={"connect_timeout": 5})
        _ping_when_idle(engine)
    else:
        raise ConfigError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")
    event.listen(engine, "before_cursor_execute", _refuse_nul)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """A connection that sat in the pool (a server restart, a network drop, an idle timeout may have closed it) is
    pinged before use; one in steady use is not, so a lookup costs one round trip, not two (pool_pre_ping pings
    on every checkout). A failed ping makes the pool connect afresh."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return
        try:
            with dbapi_conn.cursor() as cur:
                cur.execute("SELECT 1")
            dbapi_conn.rollback()
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"a pooled connection was closed: {exc}") from exc


def _refuse_nul(_conn, _cursor, _statement, parameters, _context, executemany) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL cannot store or even compare text with NUL (and says so with the whole statement and its rows);
    SQLite would store it. Both refuse it, before any SQL runs. Bulk writes (the import) check their own rows."""
    if executemany or not parameters:
        return
    refuse_nul(parameters.values() if isinstance(parameters, dict) else parameters)


def refuse_nul(values: Iterable[object]) -> None:
    """InvalidInput if a text value holds a NUL (what every statement through the engine is checked for)."""
    if any(isinstance(v, str) and "\x00" in v for v in values):
        raise InvalidInput("a value contains a NUL character (\\x00), which cannot be stored or searched: "
                           "retype it without it")


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        _check_sqlite_path(Path(database))
        _create_private(Path(database))
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000:.0f}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        # Writers take the lock up front so two writers queue instead of deadlocking on upgrade.
        if conn.get_execution_options().get("write"):
            _begin_immediate(conn)
        else:
            conn.exec_driver_sql("BEGIN DEFERRED")

    return engine


def _begin_immediate(conn: Connection) -> None:
    """BEGIN IMMEDIATE, trying for the write lock every millisecond (every 5 ms after the first 0.1 s) until
    BUSY_TIMEOUT_S. SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 and then 100 ms
    between tries, so a writer behind a transaction that holds the lock for 35 ms waited 53 ms, and one behind
    60 ms waited 78; polling, it waits for the lock and about a millisecond more."""
    driver = conn.connection.driver_connection
    assert driver is not None
    first, fine_for, then = WRITE_POLL_S
    start = time.monotonic()
    driver.execute("PRAGMA busy_timeout=0")  # this statement only: a busy lock answers at once
    try:
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                waited = time.monotonic() - start
                code = getattr(exc.orig, "sqlite_errorcode", 0) & 0xFF  # SQLITE_BUSY and its extended codes
                if code != sqlite3.SQLITE_BUSY or waited >= BUSY_TIMEOUT_S:
                    raise
            time.sleep(first if waited < fine_for else then)
    finally:
        driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000:.0f}")


def _create_private(path: Path) -> None:
    """A new database file is created 0600 (emails, birth dates): with its mode, never write-then-chmod.
    SQLite gives its -wal and -shm files the database file's permissions."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        pass  # an unwritable place: connecting reports it with the database's own words


def _check_sqlite_path(path: Path) -> None:
    """Say which file or folder is the problem, before SQLite's "unable to open database file" (or a traceback)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnavailable(f"cannot create the folder {path.parent} for the SQLite database: "
                                  f"{exc.strerror or exc}") from exc
    if path.is_dir():
        raise DatabaseUnavailable(f"the SQLite database {path} is a folder, not a file")
    # SQLite writes the database and its -wal and -shm files beside it: the folder must be writable too.
    target = path if path.exists() else path.parent
    if not os.access(target, os.W_OK) or not os.access(path.parent, os.W_OK | os.X_OK):
        raise DatabaseUnavailable(f"cannot write the SQLite database {path}: {target} is not writable by this user "
                                  "(use --db with a path you can write, or fix the permissions)")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def check_connect(engine: Engine) -> None:
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(f"cannot connect to {redact(str(engine.url))}: {reason}") from exc


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One transaction that commits on success and rolls back on any error."""
    try:
        with Session(engine.execution_options(write=True)) as session:
            with session.begin():
                yield session
    except DBAPIError as exc:
        refused = refusal(exc)
        if refused is None:
            raise
        raise refused from exc


def refusal(exc: DBAPIError) -> Forbidden | None:
    """The database refused the connected role (permission denied, or a guard trigger): say so plainly."""
    if getattr(exc.orig, "sqlstate", None) != "42501":
        return None
    diag = getattr(exc.orig, "diag", None)
    message = (getattr(diag, "message_primary", None) or str(exc.orig)).removeprefix("supportdesk: ")
    return Forbidden(f"the database refused it: {message}")
