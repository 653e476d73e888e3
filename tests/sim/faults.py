"""Faults the simulation injects: a process killed inside a transaction, and two agents at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any
from unittest import mock

from supportdesk.errors import SupportdeskError
from supportdesk.services import audit


class SimCrash(BaseException):
    """The process dies here: not a SupportdeskError, so nothing in the app may swallow it."""


@contextmanager
def crash_at_audit(call: int) -> Any:
    """Kill the action at its `call`-th audit append: after some of its rows are written, before the commit."""
    real, seen = audit.append, [0]

    def append(*args: Any, **kw: Any) -> Any:
        seen[0] += 1
        if seen[0] == call:
            raise SimCrash(f"killed at audit append {call}")
        return real(*args, **kw)

    with mock.patch.object(audit, "append", append):
        yield


def run_together(work: Callable[[int], None]) -> None:
    """Run `work(0)` and `work(1)` in two threads released at once; an expected refusal is fine, anything else
    (a database error, a broken invariant) fails the step."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except SupportdeskError:
            pass
        except BaseException as exc:  # noqa: BLE001 - carried to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
