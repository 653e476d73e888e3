"""Batch mode for scripts (`search --stdin`, `account --stdin`): one query per line in, one JSON line out per
input line, in order, all on one engine and one session held for the whole batch.

A line that fails gives `{"query": ..., "error": {...}}` and the batch goes on; only stdin itself failing stops it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, BinaryIO

from sqlalchemy import Engine
from sqlmodel import Session

from supportdesk.cli.output import to_json
from supportdesk.errors import SupportdeskError, internal_error

Lookup = Callable[[Session, str], dict[str, Any]]


def answer(session: Session, lookup: Lookup, raw: bytes) -> dict[str, Any]:
    """The object `--json` prints for one query, or the query with its error. A failed statement is rolled back so
    the next line starts clean (PostgreSQL refuses every statement after an error until then)."""
    query = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        raw.decode("utf-8")
        return lookup(session, query)
    except UnicodeDecodeError:
        return {"query": query, "error": {"code": "invalid_input", "message": "the line is not UTF-8 text"}}
    except SupportdeskError as exc:
        error = exc
    except Exception as exc:  # noqa: BLE001 - one bad line never stops the batch; the error is logged, not shown
        error = internal_error(exc)
    session.rollback()
    return {"query": query, **error.to_json()}


def run_batch(engine: Engine, lookup: Lookup, stream: BinaryIO | None = None) -> None:
    """Answer every line of `stream` (stdin) on one session; each answer is flushed as it is written, so a script
    can read answers while it still writes queries."""
    out = sys.stdout
    with Session(engine) as session:
        for raw in stream if stream is not None else sys.stdin.buffer:  # bytes: a bad line fails alone
            out.write(to_json(answer(session, lookup, raw)) + "\n")
            out.flush()
