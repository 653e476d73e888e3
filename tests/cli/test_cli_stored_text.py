"""Human CLI output prints stored and typed text as it is: markup stays literal, terminal controls and bidi
overrides are written escaped, and none of it turns into a MarkupError or a traceback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from supportdesk.cli.main import app
from supportdesk.db.engine import make_engine, write_session
from supportdesk.db.models import Account, Purchase, Region, Ticket
from supportdesk.domain.text import BIDI
from tests.service.factories import minimal, write_dataset

runner = CliRunner()
HANDLE = "@[bold_red]FAKE[/bold_red]\x1b[2J\u202e"
SUBJECT = "[/] [link=https://evil.example]click[/link] \x1b]52;c;ZXZpbA==\x07"
NOTE = "[bold red]x[/] \x1b]0;pwned\x07 \u202etxt.exe"


@pytest.fixture
def hostile(db_url, tmp_path):
    """@user0's handle, its ticket's subject and the US region's note hold markup and terminal controls; its web
    purchase is a day old (a refund the policy allows)."""
    result = runner.invoke(app, ["--db", db_url, "import", str(write_dataset(tmp_path / "ds", minimal())), "--json"])
    assert result.exit_code == 0, result.output
    engine = make_engine(db_url)
    with write_session(engine) as s:
        s.get(Account, "acc_0000").handle = HANDLE  # type: ignore[union-attr]
        s.get(Ticket, "T-1001").subject = SUBJECT  # type: ignore[union-attr]
        s.get(Purchase, "pur_0001").purchased_at = datetime.now(UTC) - timedelta(days=1)  # type: ignore[union-attr]
        s.exec(select(Region).where(Region.country == "US")).one().note = NOTE
    engine.dispose()
    return db_url


def run(db_url: str, *args: str):
    return runner.invoke(app, ["--db", db_url, *args], env={"COLUMNS": "200"})


def assert_plain(result, *shown: str) -> None:  # type: ignore[no-untyped-def]
    """Exit code 0 or 1 (never a crash), the text as stored, nothing a terminal would act on."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    out = result.stderr + result.stdout
    flat = " ".join(out.split())  # rich wraps long lines at the console's width
    for text in shown:
        assert text in flat, f"{text!r} not in {out!r}"
    assert not any(c in out for c in "\x1b\x07"), out
    assert not any(c in out for c in BIDI), out


def test_search_prints_a_handle_as_stored(hostile):
    result = run(hostile, "search", "@[bold_red]")
    assert result.exit_code == 0
    assert_plain(result, "@[bold_red]FAKE[/bold_red]\\x1b[2J<U+202E>")


def test_account_prints_handle_and_ticket_as_stored(hostile):
    result = run(hostile, "account", "acc_0000")
    assert result.exit_code == 0
    assert_plain(result, "@[bold_red]FAKE[/bold_red]\\x1b[2J<U+202E>",
                 "[/] [link=https://evil.example]click[/link] \\x1b]52;c;ZXZpbA==\\x07")


def test_region_prints_the_note_as_stored(hostile):
    result = run(hostile, "region", "US")
    assert result.exit_code == 0
    assert_plain(result, "[bold red]x[/] \\x1b]0;pwned\\x07 <U+202E>txt.exe")


def test_refund_prints_the_handle_and_asks_with_the_reason_as_typed(hostile):
    result = run(hostile, "refund", "pur_0001")
    assert result.exit_code == 0
    assert_plain(result, "@[bold_red]FAKE[/bold_red]\\x1b[2J<U+202E>", "0.99 USD")
    asked = run(hostile, "refund", "pur_0001", "--apply", "--reason", "[/] spent \x1b[2J")  # no terminal: refused
    assert asked.exit_code == 1
    assert_plain(asked, "error (invalid_input)", "[/] spent \\x1b[2J", "Re-run with --yes")


@pytest.mark.parametrize("command", ["search", "account", "refund", "region"])
@pytest.mark.parametrize("query", ["[/]", "@[bold red]x[/]", "acc_[/]", "pur_[/]", "\x1b[2J", "@\u202ecleo"])
def test_a_query_with_markup_or_controls_gets_a_plain_answer(hostile, command, query):
    result = run(hostile, command, query)
    assert result.exit_code in (0, 1)
    assert_plain(result)
    if result.exit_code == 1:
        assert result.stderr.startswith("error (")


def test_json_escapes_controls_and_bidi(hostile):
    result = run(hostile, "account", "acc_0000", "--json")
    assert result.exit_code == 0
    assert "\\u001b" in result.stdout and "\\u202e" in result.stdout
    assert json.loads(result.stdout)["account"]["handle"] == HANDLE
    assert_plain(result)
