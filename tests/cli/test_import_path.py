"""Startup stays light: the CLI's import path and a lookup load no Alembic, Textual, store SDK, crypto or server,
and the schema check reads the head revision without Alembic (and agrees with it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlmodel import SQLModel

import supportdesk.db.models  # noqa: F401  (registers the tables)
from supportdesk.db.engine import make_engine
from supportdesk.db.schema import _alembic_head, head_revision

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("alembic", "textual", "stripe", "appstoreserverlibrary", "google.auth", "cryptography", "jwt", "uvicorn",
         "starlette", "httpx")
REPORT = "import sys; print(' '.join(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))"


def loaded_after(code: str, prefixes: tuple[str, ...]) -> set[str]:
    """The modules under `prefixes` loaded once `code` has run in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", f"{code}\n{REPORT.format(prefixes=prefixes)}"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split("\n")[-2]
    return set(out.split())


def test_importing_the_cli_loads_no_command_module_and_nothing_heavy():
    loaded = loaded_after("import supportdesk.cli.main", (*HEAVY, "sqlalchemy", "supportdesk.cli."))
    assert loaded == {"supportdesk.cli.main", "supportdesk.cli.start", "supportdesk.cli.context", "supportdesk.cli.output"}


def test_a_search_at_head_loads_neither_alembic_nor_the_screen(tmp_path):
    url = f"sqlite:///{tmp_path / 'at-head.db'}"
    engine = make_engine(url)  # the tables and the head revision, without running the migrations (cheaper)
    SQLModel.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES (:head)"), {"head": head_revision()})
    engine.dispose()
    code = ("from supportdesk.cli.main import app\n"
            f"app(['--db', {url!r}, 'search', '@nobody', '--json'], standalone_mode=False)")
    assert loaded_after(code, HEAVY) == set()


def test_the_head_read_from_the_migration_files_is_alembics():
    assert head_revision() == _alembic_head()
