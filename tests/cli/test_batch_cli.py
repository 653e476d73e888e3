"""`search --stdin` / `account --stdin`: one JSON line per input line, in order; a bad line is an error object and
the batch goes on (exit 0); a query argument with --stdin is a usage error."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from supportdesk.cli.main import app
from tests.cli.test_cli import imported  # noqa: F401 - the fixture

runner = CliRunner()


def batch(url: str, command: str, lines: list[str]) -> list[dict]:
    result = runner.invoke(app, ["--db", url, command, "--stdin"], input="".join(f"{line}\n" for line in lines))
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert len(out) == len(lines)
    return [json.loads(line) for line in out]


def single(url: str, command: str, query: str) -> dict:
    return json.loads(runner.invoke(app, ["--db", url, command, query, "--json"]).stdout)


def test_search_batch_mixed_lines_in_order(imported):  # noqa: F811
    lines = ["@user1", "", "nobody@example.com", "has space", "acc_0002", "   "]
    out = batch(imported, "search", lines)
    assert out[0] == single(imported, "search", "@user1") and out[0]["accounts"][0]["handle"] == "@user1"
    assert out[4]["accounts"][0]["account_id"] == "acc_0002"
    assert out[2]["accounts"] == []
    for i in (1, 3, 5):
        assert out[i]["query"] == lines[i] and out[i]["error"]["code"] == "invalid_input"


def test_account_batch_mixed_lines_in_order(imported):  # noqa: F811
    lines = ["acc_0002", "acc_9999", "", "@USER1"]
    out = batch(imported, "account", lines)
    assert out[0] == single(imported, "account", "acc_0002")
    assert out[1] == {"query": "acc_9999", "error": out[1]["error"]} and out[1]["error"]["code"] == "not_found"
    assert out[2]["error"]["code"] == "invalid_input"
    assert out[3]["account"]["account_id"] == "acc_0001"


@pytest.mark.parametrize("command", ["search", "account"])
def test_hostile_lines_are_errors_not_crashes(imported, command):  # noqa: F811
    hostile = ["[bold red]x[/]", "\x1b[2J\x1b]0;pwn\x07", "acc_\x000001", "\u202eacc_0001", "x" * 10_000]
    out = batch(imported, command, [*hostile, "acc_0001"])
    for line, body in zip(hostile, out, strict=False):
        assert body["query"] == line and body["error"]["code"] == "invalid_input", body
    assert "error" not in out[-1]  # the batch went on after them
    result = runner.invoke(app, ["--db", imported, command, "--stdin"], input=b"\xff\xfe\nacc_0001\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0 and lines[0]["error"]["code"] == "invalid_input" and "error" not in lines[1]


@pytest.mark.parametrize("command", ["search", "account"])
def test_stdin_with_a_query_or_neither_is_a_usage_error(imported, command):  # noqa: F811
    assert runner.invoke(app, ["--db", imported, command, "acc_0001", "--stdin"], input="acc_0001\n").exit_code == 2
    assert runner.invoke(app, ["--db", imported, command]).exit_code == 2


def test_empty_stdin_prints_nothing(imported):  # noqa: F811
    result = runner.invoke(app, ["--db", imported, "search", "--stdin"], input="")
    assert result.exit_code == 0 and result.stdout == ""
