"""Batch mode for scripts (`search --stdin`, `account --stdin`): one query per line in, one JSON line out per
input line, in order, all on one engine and one session held for the whole batch (the desk's `accounts.batch`).

A line that fails gives `{"query": ..., "error": {...}}` and the batch goes on; only stdin itself failing stops it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, BinaryIO

from supportdesk.cli.output import to_json
from supportdesk.errors import SupportdeskError, internal_error

Ask = Callable[[str], dict[str, Any]]


def answer(ask: Ask, raw: bytes) -> dict[str, Any]:
    """The object `--json` prints for one query, or the query with its error (the desk has rolled the failed
    statement back, so the next line starts clean)."""
    query = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        raw.decode("utf-8")
        return ask(query)
    except UnicodeDecodeError:
        return {"query": query, "error": {"code": "invalid_input", "message": "the line is not UTF-8 text"}}
    except SupportdeskError as exc:
        error = exc
    except Exception as exc:  # noqa: BLE001 - one bad line never stops the batch; the error is logged, not shown
        error = internal_error(exc)
    return {"query": query, **error.to_json()}


def run_batch(ask: Ask, stream: BinaryIO | None = None) -> None:
    """Answer every line of `stream` (stdin) with `ask` (one held session); each answer is flushed as it is
    written, so a script can read answers while it still writes queries."""
    out = sys.stdout
    for raw in stream if stream is not None else sys.stdin.buffer:  # bytes: a bad line fails alone
        out.write(to_json(answer(ask, raw)) + "\n")
        out.flush()
