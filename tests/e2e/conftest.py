"""End to end: a generated dataset, the store emulator as a real process, and the CLI as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from supportdesk.dataset.generate import generate

NOW = datetime(2026, 11, 1, tzinfo=UTC)
CLI = [sys.executable, "-m", "supportdesk.cli"]


@dataclass
class Emulator:
    data: Path
    config: Path
    planted: dict[str, Any]


def cli(*args: str, db: str, config: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUPPORTDESK_ACTOR": "e2e-agent"}
    cmd = [*CLI, "--db", db, *(["--config", str(config)] if config else []), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}: {done.stdout}\n{done.stderr}")
    return done


def cli_json(*args: str, db: str, config: Path | None = None) -> dict[str, Any]:
    return json.loads(cli(*args, "--json", db=db, config=config).stdout)


@pytest.fixture
def emulator(emulator_process: Emulator) -> Emulator:
    """The running emulator, reset to its records as loaded (Pub/Sub acks, refunds, faults) for each test."""
    import tomllib

    import httpx

    control = tomllib.loads(emulator_process.config.read_text())["emulator"]["control_url"]
    httpx.post(f"{control}/reset", timeout=10).raise_for_status()
    return emulator_process


@pytest.fixture(scope="session")
def emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    root = tmp_path_factory.mktemp("e2e")
    data = root / "dataset"
    generate(data, seed=11, accounts=150, now=NOW)
    config = root / "stores.toml"
    proc = subprocess.Popen(
        [*CLI, "store-emulator", "--data", str(data), "--port", "0", "--write-config", str(config),
         "--now", NOW.isoformat().replace("+00:00", "Z"), "--pull-hold", "0.3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    while not config.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not config.exists():
        proc.kill()
        raise RuntimeError(f"the emulator did not start: {proc.stderr.read() if proc.stderr else ''}")
    yield Emulator(data, config, json.loads((data / "planted.json").read_text()))
    proc.terminate()
    proc.wait(timeout=10)
