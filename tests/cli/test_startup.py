"""A bare `supportdesk` opens the app without typer; the app draws before it connects, and a database that cannot
be opened ends it with the CLI's error (tests/tui/test_app.py covers the screens)."""

from __future__ import annotations

import pytest

from supportdesk.cli.start import bare_tui_args
from supportdesk.desk.context import AppContext
from supportdesk.errors import SupportdeskError
from supportdesk.tui.app import SupportDeskApp


@pytest.mark.parametrize(("args", "options"), [
    ([], {}), (["--db", "x"], {"--db": "x"}), (["--db=x", "--config", "c"], {"--db": "x", "--config": "c"}),
    (["--db"], None), (["--help"], None), (["search"], None), (["--db", "x", "--db", "y"], None),
    (["--db", "--config"], None), (["--db="], None),
])
def test_only_db_and_config_take_the_fast_path(args, options):
    assert bare_tui_args(args) == options


async def test_a_database_that_cannot_be_opened_ends_the_app_with_its_error(tmp_path):
    (tmp_path / "plain").write_text("")
    app = SupportDeskApp(AppContext(db_url=f"sqlite:///{tmp_path / 'plain' / 'x.db'}"))
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(200):  # the connect worker fails and ends the app (the home panel's load fails too)
            if app.return_code is not None:
                break
            await pilot.pause(0.05)
    assert isinstance(app.startup_error, SupportdeskError) and app.startup_error.code == "database_unavailable"
    assert app.return_code == 1


async def test_a_config_file_that_is_wrong_ends_the_app_with_its_error(tmp_path):
    """The config file is validated in the connect worker, after the first paint; its error is the CLI's."""
    config = tmp_path / "config.toml"
    config.write_text('[agent]\nrole = "boss"\n')
    app = SupportDeskApp(AppContext(config_path=config, db_url=f"sqlite:///{tmp_path / 'x.db'}"))
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(200):
            if app.return_code is not None:
                break
            await pilot.pause(0.05)
    assert isinstance(app.startup_error, SupportdeskError) and app.startup_error.code == "config_error"
    assert "agent.role" in app.startup_error.message
    assert app.return_code == 1
    assert not (tmp_path / "x.db").exists()  # nothing was opened with a config that does not hold
