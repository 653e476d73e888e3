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


def test_the_demo_listener_receives_what_the_stores_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capfd: pytest.CaptureFixture[str]) -> None:
    """`./dev demo`: a refund made through the emulated processor, and an App Store notification, arrive through
    the listener while the app is open (store record and notification row written); nothing reaches the terminal;
    both servers stop when the app exits."""
    import time
    import tomllib

    from sqlalchemy import text

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    dataset = write_store(tmp_path / "demo-dataset")
    state = AppContext(db_url=f"sqlite:///{tmp_path / 'demo.db'}")
    seen: dict[str, object] = {}

    def rows(sql: str) -> list[tuple[object, ...]]:
        with state.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql)).all()]

    def notifications(until: int) -> list[tuple[object, ...]]:
        deadline = time.monotonic() + 20  # the processor's webhook is sent after the refund's answer
        while len(found := rows("SELECT source, kind, store_transaction_id FROM store_notifications "
                                "ORDER BY received_at")) < until and time.monotonic() < deadline:
            time.sleep(0.05)
        return found

    def app_making_a_refund(state: AppContext, initial_query: str | None = None) -> None:
        capfd.readouterr()  # from here on the app owns the terminal
        web = state.settings.stores["web"]
        refund = httpx.post(f"{web['base_url']}/v1/refunds", data={"charge": "ch_0004"},
                            headers={"Authorization": f"Bearer {web['secret_key']}"})
        refund.raise_for_status()
        assert notifications(1) == [("web", "charge.refunded", "ch_0004")]
        control = tomllib.loads(state.config_path.read_text())["emulator"]["control_url"]  # type: ignore[union-attr]
        sent = httpx.post(f"{control}/notify", json={"store": "apple", "type": "REFUND",
                                                     "transaction_id": "2000000000003"}, timeout=30).json()
        assert sent["status"] == 200 and sent["response"]["duplicate"] is False, sent
        forged = httpx.post(f"{control}/notify", json={"store": "apple", "type": "REFUND", "tamper": True,
                                                       "transaction_id": "2000000000013"}, timeout=30).json()
        assert forged["status"] == 400
        seen["notifications"] = notifications(2)
        seen["records"] = rows("SELECT store, store_transaction_id, state, refunded_minor FROM store_records "
                               "ORDER BY store")
        seen["listener"] = sent["delivered_to"].removesuffix("/apple")

    monkeypatch.setattr(cli_main, "_open_tui", app_making_a_refund)
    cli_main._open_with_emulator(state, dataset)

    assert capfd.readouterr() == ("", "")
    assert seen["notifications"] == [("web", "charge.refunded", "ch_0004"),
                                     ("apple", "REFUND", "2000000000003")]
    assert seen["records"] == [("apple", "2000000000003", "refunded", 99), ("web", "ch_0004", "refunded", 999)]
    log = (tmp_path / "state" / "supportdesk" / "log" / "demo-listener.log").read_text(encoding="utf-8")
    assert "web charge.refunded" in log and "apple REFUND" in log and "refused (400)" in log
    with pytest.raises(httpx.ConnectError):  # the listener stopped with the app
        httpx.get(f"{seen['listener']}/health", timeout=2)
