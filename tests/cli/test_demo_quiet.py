"""`supportdesk demo` serves the stores from an emulator thread under the running app: nothing it logs may reach
the terminal (it would print over the screen); its logs and tracebacks go to a file in the user log dir."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from supportdesk.cli import main as cli_main
from supportdesk.cli.context import AppContext
from tests.emulator.emulator_support import write_store


def test_the_demo_emulator_writes_nothing_to_the_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the user log dir
    dataset = write_store(tmp_path / "demo-dataset")
    state = AppContext(db_url=f"sqlite:///{tmp_path / 'demo.db'}")

    def app_with_a_cancelled_request(state: AppContext, initial_query: str | None = None) -> None:
        """What the app does while open: a store call the agent cancels (the client gives up mid-request)."""
        web = state.settings.stores["web"]
        base = web["base_url"].removesuffix("/web")
        httpx.post(f"{base}/_emulator/faults", json=[{"store": "web", "kind": "timeout", "arg": 5000}]).raise_for_status()
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{web['base_url']}/v1/charges", headers={"Authorization": f"Bearer {web['secret_key']}"},
                      timeout=0.2)
        capfd.readouterr()  # from here on the app owns the terminal

    monkeypatch.setattr(cli_main, "_open_tui", app_with_a_cancelled_request)
    cli_main._open_with_emulator(state, dataset)  # stops the emulator with the request still in flight

    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    log = (tmp_path / "state" / "supportdesk" / "log" / "demo-emulator.log").read_text(encoding="utf-8")
    assert "Exception in ASGI application" in log and "CancelledError" in log
