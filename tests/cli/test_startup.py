"""A bare `supportdesk` opens the app without typer; the app draws before it connects, and a database that cannot
be opened ends it with the CLI's error (tests/tui/test_app.py covers the screens)."""

from __future__ import annotations

import pytest

from supportdesk.cli.main import _bare_tui_args
from supportdesk.desk.context import AppContext
from supportdesk.errors import SupportdeskError
from supportdesk.tui.app import SupportDeskApp


@pytest.mark.parametrize(("args", "options"), [
    ([], {}), (["--db", "x"], {"--db": "x"}), (["--db=x", "--config", "c"], {"--db": "x", "--config": "c"}),
    (["--db"], None), (["--help"], None), (["search"], None), (["--db", "x", "--db", "y"], None),
    (["--db", "--config"], None), (["--db="], None),
])
def test_only_db_and_config_take_the_fast_path(args, options):
    assert _bare_tui_args(args) == options


async def test_a_database_that_cannot_be_opened_ends_the_app_with_its_error(tmp_path):
    (tmp_path / "plain").write_text("")
    app = SupportDeskApp(AppContext(db_url=f"sqlite:///{tmp_path / 'plain' / 'x.db'}"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert isinstance(app.startup_error, SupportdeskError) and app.startup_error.code == "database_unavailable"
    assert app.return_code == 1
