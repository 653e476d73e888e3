"""The CLI frame around the sync: startup stays light, Ctrl+C asks for a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from supportdesk.cli.stores_cmd import _ctrl_c
from supportdesk.stores.sync import parse_when

HEAVY = ("stripe", "google", "appstoreserverlibrary", "cryptography", "OpenSSL")


def test_store_sdks_are_not_imported_until_a_store_is_used() -> None:
    code = ("import sys, supportdesk.cli.stores_cmd, supportdesk.stores.sync; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_first_ctrl_c_sets_the_stop_flag_instead_of_interrupting() -> None:
    before = signal.getsignal(signal.SIGINT)
    with _ctrl_c() as stopped:
        assert not stopped()
        os.kill(os.getpid(), signal.SIGINT)
        assert stopped()
    assert signal.getsignal(signal.SIGINT) is before


def test_parse_when_spans_and_iso() -> None:
    now = parse_when("2026-03-01T12:00:00Z")
    assert parse_when("30d", now=now) == parse_when("2026-01-30T12:00:00+00:00")
    assert parse_when("12h", now=now) == parse_when("2026-03-01T00:00:00Z")
    assert parse_when("2026-03-01") == parse_when("2026-03-01T00:00:00Z")
