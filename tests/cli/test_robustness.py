"""No traceback reaches an agent and no error prints other rows' data: NUL in any argument, oversized text,
an unwritable SQLite path, six processes starting at once on an empty database, and anything unexpected."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from supportdesk.db.engine import normalise_url
from supportdesk.services import lookup
from tests.cli.test_cli import imported, run  # noqa: F401 - the fixture
from tests.conftest import BACKENDS, PG_URL, _admin

ROOT = Path(__file__).resolve().parents[2]


def error_of(result) -> dict:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return json.loads(result.stdout)["error"]


@pytest.mark.parametrize("args", [
    ("audit", "--ticket", "T-1\x00"), ("review", "act", "flg\x00x", "--action", "dismiss", "--reason", "r", "--yes"),
    ("ticket", "show", "T-10\x0001"), ("search", "@user\x00"), ("account", "acc_0000\x00"),
    ("ticket", "create", "@user0", "--subject", "a\x00b"), ("ticket", "resolve", "T-1001", "--note", "done\x00"),
    ("ticket", "list", "--account", "@user0\x00"), ("refund", "pur_0001\x00"),
])
def test_nul_in_any_argument_is_refused_before_sql(imported, args):  # noqa: F811
    error = error_of(run("--db", imported, *args, "--json"))
    assert error["code"] == "invalid_input"
    assert any(why in error["message"] for why in ("NUL", "control", "not a ticket id"))
    assert "user1@example.com" not in error["message"]


@pytest.mark.parametrize(("args", "limit"), [
    (("ticket", "create", "@user0", "--subject", "s", "--body", "x" * 20_001), "20,000"),
    (("ticket", "create", "@user0", "--subject", "s" * 501), "500"),
    (("ticket", "resolve", "T-1001", "--note", "n" * 2_001), "2,000"),
])
def test_text_above_its_limit_is_refused(imported, args, limit):  # noqa: F811
    error = error_of(run("--db", imported, *args, "--json"))
    assert error["code"] == "invalid_input" and f"at most {limit}" in error["message"]


def test_an_unexpected_failure_is_one_line_naming_its_log(imported, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    def broken(session, text):
        raise KeyError("user1@example.com")  # what a database error does: quote other rows

    monkeypatch.setattr(lookup, "search", broken)
    error = error_of(run("--db", imported, "search", "@user", "--json"))
    assert error["code"] == "internal" and "user1@example.com" not in json.dumps(error)
    logs = list((tmp_path / "state").rglob("errors.log"))
    assert len(logs) == 1 and str(logs[0]) in error["message"]
    assert "Traceback" in logs[0].read_text() and "KeyError" in logs[0].read_text()
    human = run("--db", imported, "search", "@user")
    assert human.exit_code == 1 and "internal" in human.output and "Traceback" not in human.output


def test_a_sqlite_path_under_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "plain").write_text("")
    error = error_of(run("--db", f"sqlite:///{tmp_path / 'plain' / 'x.db'}", "search", "x", "--json"))
    assert error["code"] == "database_unavailable" and str(tmp_path / "plain") in error["message"]


def cli(*args: str, user: int | None = None, env: dict[str, str] | None = None) -> subprocess.Popen:
    prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user is not None else []
    return subprocess.Popen([*prefix, sys.executable, "-m", "supportdesk.cli", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "HOME": "/tmp", **(env or {})})


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to become another user")
@pytest.mark.parametrize("where", ["folder", "parent"])
def test_an_unwritable_sqlite_path_is_a_clear_error(tmp_path, where):
    owned = tmp_path / "root-owned"
    owned.mkdir()
    owned.chmod(0o755)
    tmp_path.chmod(0o755)
    path = owned / "x.db" if where == "folder" else owned / "sub" / "x.db"
    proc = cli("--db", f"sqlite:///{path}", "search", "emma", "--json", user=65534,
               env={"XDG_STATE_HOME": "/tmp"})
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "Traceback" not in err, err
    error = json.loads(out)["error"]
    assert error["code"] == "database_unavailable" and str(path.parent if where == "folder" else owned / "sub") \
        in error["message"]


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"sd_e_{uuid.uuid4().hex[:10]}"
    with _admin().connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(normalise_url(PG_URL or "")).set(database=name).render_as_string(hide_password=False)
    with _admin().connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_six_processes_starting_at_once_on_an_empty_database(empty_url):
    procs = [cli("--db", empty_url, "account", "@nobody", "--json") for _ in range(6)]
    results = [(p.wait(timeout=180), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert code == 1 and "Traceback" not in err, err
        assert json.loads(out)["error"]["code"] == "not_found"


def test_declining_a_confirmation_is_a_plain_exit_not_an_internal_error(monkeypatch, capsys):
    """`confirm` ends with typer.Exit inside `handled`: it must pass through as exit 1, with no error printed."""
    import sys

    import pytest
    import typer

    from supportdesk.cli import output

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(typer, "confirm", lambda *a, **k: False)
    with pytest.raises(typer.Exit) as caught, output.handled(False):
        output.confirm("Credit 700 coins?", yes=False, json_mode=False)
    assert caught.value.exit_code == 1
    assert "internal" not in capsys.readouterr().err
