"""What the benchmarks share: an emptied PostgreSQL database, and a run at N/10 and N on each engine."""

from __future__ import annotations

import tempfile
from collections.abc import Callable

from supportdesk.db.engine import make_engine


def fresh(url: str) -> None:
    """A PostgreSQL bench database starts empty every run (this drops everything in it)."""
    if url.startswith("postgres"):
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()


def at_two_sizes(run: Callable[[str, int], None], n: int, pg: str | None) -> None:
    """`run(url, size)` at n/10 and n on SQLite, then on PostgreSQL if given: growth shows as well as speed."""
    with tempfile.TemporaryDirectory() as tmp:
        for size in (n // 10, n):
            run(f"sqlite:///{tmp}/r{size}.db", size)
    if pg:
        for size in (n // 10, n):
            fresh(pg)
            run(pg, size)
