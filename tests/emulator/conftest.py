"""One emulator for the whole package, over a small store folder built here; reset before every test."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_support import LOCAL, NOW, TEST_REALISM, apple_jwt, google_access_token, local_client, write_store

from supportdesk.emulator.server import EmulatorHandle, start_in_thread


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_store(tmp_path_factory.mktemp("dataset"))


@pytest.fixture(scope="session")
def running(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    config = tmp_path_factory.mktemp("config") / "emulator.toml"
    handle = start_in_thread(dataset, config_path=config, now=NOW, realism=TEST_REALISM)
    yield handle
    handle.stop()


@pytest.fixture
def emulator(running: EmulatorHandle) -> EmulatorHandle:
    LOCAL.post(f"{running.base_url}/_emulator/reset").raise_for_status()
    return running


@pytest.fixture(scope="session")
def config(running: EmulatorHandle) -> dict[str, Any]:
    return tomllib.loads(running.config_path.read_text(encoding="utf-8"))


@pytest.fixture
def apple(emulator: EmulatorHandle, config: dict[str, Any]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {apple_jwt(config)}"}
    with local_client(base_url=config["stores"]["apple"]["base_url"], headers=headers) as client:
        yield client


@pytest.fixture(scope="session")
def google_token(config: dict[str, Any]) -> str:
    return google_access_token(config)


@pytest.fixture
def google(emulator: EmulatorHandle, config: dict[str, Any], google_token: str) -> Iterator[httpx.Client]:
    store = config["stores"]["google"]
    base = f"{store['base_url']}/androidpublisher/v3/applications/{store['package_name']}"
    headers = {"Authorization": f"Bearer {google_token}"}
    with local_client(base_url=base, headers=headers) as client:
        yield client


@pytest.fixture
def web(emulator: EmulatorHandle, config: dict[str, Any]) -> Iterator[httpx.Client]:
    store = config["stores"]["web"]
    headers = {"Authorization": f"Bearer {store['secret_key']}"}
    with local_client(base_url=store["base_url"], headers=headers) as client:
        yield client
