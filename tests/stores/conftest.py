"""The store emulator for client and sync tests: started once over the emulator tests' own store folder
(tests/emulator/emulator_support.py), reset before every test."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from supportdesk.emulator.server import EmulatorHandle, start_in_thread
from tests.emulator.emulator_support import NOW, TEST_REALISM, write_store


@pytest.fixture(scope="session")
def store_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    data = write_store(tmp_path_factory.mktemp("store-data"))
    handle = start_in_thread(data, config_path=tmp_path_factory.mktemp("store-config") / "emulator.toml", now=NOW,
                             realism=TEST_REALISM)
    yield handle
    handle.stop()


@pytest.fixture
def emulator(store_emulator: EmulatorHandle) -> EmulatorHandle:
    httpx.post(f"{store_emulator.base_url}/_emulator/reset").raise_for_status()
    return store_emulator


@pytest.fixture
def stores_config(emulator: EmulatorHandle) -> dict[str, Any]:
    return tomllib.loads(Path(emulator.config_path).read_text(encoding="utf-8"))["stores"]



@pytest.fixture(scope="session")
def sync_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    """A second emulator over the sync tests' smaller folder (tests/stores/store_data.py)."""
    from tests.stores.store_data import NOW as SYNC_NOW
    from tests.stores.store_data import write_store_folder

    data = write_store_folder(tmp_path_factory.mktemp("sync-data"))
    handle = start_in_thread(data, config_path=tmp_path_factory.mktemp("sync-config") / "emulator.toml",
                             now=SYNC_NOW, realism=TEST_REALISM)
    yield handle
    handle.stop()


@pytest.fixture
def sync_emulator(sync_store: EmulatorHandle) -> EmulatorHandle:
    httpx.post(f"{sync_store.base_url}/_emulator/reset").raise_for_status()
    return sync_store
