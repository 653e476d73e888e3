"""Nothing outside the emulator moves the refund and look-back clock: a time written into a config file is not
read; the emulator itself is asked."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import respx

from supportdesk.config import load_settings
from supportdesk.stores.sync import store_clock

CONTROL = "http://127.0.0.1:9/_emulator"


def _config(tmp_path, extra: str = "") -> object:
    path = tmp_path / "sd.toml"
    path.write_text(f'[emulator]\ncontrol_url = "{CONTROL}"\n{extra}')
    return path


@respx.mock
def test_the_emulator_is_asked_and_a_time_in_the_config_is_ignored(tmp_path):
    respx.get(f"{CONTROL}/clock").mock(return_value=httpx.Response(
        200, json={"now": "2026-11-01T00:00:00.000Z", "now_ms": 0, "fixed": True}))
    settings = load_settings(_config(tmp_path, 'now = "1990-01-01T00:00:00Z"\n'))
    assert store_clock(settings) == datetime(2026, 11, 1, tzinfo=UTC)


@respx.mock
def test_an_emulator_on_the_wall_clock_or_not_answering_means_the_wall_clock(tmp_path):
    route = respx.get(f"{CONTROL}/clock").mock(return_value=httpx.Response(
        200, json={"now": "2026-11-01T00:00:00.000Z", "now_ms": 0, "fixed": False}))
    settings = load_settings(_config(tmp_path))
    assert store_clock(settings) is None
    route.mock(side_effect=httpx.ConnectError("refused"))
    assert store_clock(settings) is None


@respx.mock
def test_the_config_file_is_read_once_with_the_settings_not_per_decision(tmp_path):
    respx.get(f"{CONTROL}/clock").mock(return_value=httpx.Response(
        200, json={"now": "2026-11-01T00:00:00.000Z", "now_ms": 0, "fixed": True}))
    path = _config(tmp_path)
    settings = load_settings(path)
    path.unlink()  # a refund decision later must not go back to the file
    assert store_clock(settings) == datetime(2026, 11, 1, tzinfo=UTC)
