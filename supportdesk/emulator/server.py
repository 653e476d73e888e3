"""Run the emulator under uvicorn: in the foreground (the CLI) or in a thread (tests)."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from supportdesk.emulator.app import build_app
from supportdesk.emulator.clock import parse_timestamp
from supportdesk.emulator.config import keys_path, write_config
from supportdesk.emulator.faults import parse_spec
from supportdesk.emulator.pki import Keys
from supportdesk.emulator.records import load_store
from supportdesk.emulator.state import EmulatorState, build_state

HOST = "127.0.0.1"


@dataclass
class Prepared:
    sock: socket.socket
    state: EmulatorState
    config_path: Path | None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def uvicorn_server(self) -> uvicorn.Server:
        config = uvicorn.Config(
            build_app(self.state), log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=1,  # a request stuck in a timeout fault must not hold up a stop
        )  # fmt: skip
        return uvicorn.Server(config)


def prepare(
    data: Path,
    *,
    port: int = 0,
    config_path: Path | None = None,
    now: str | None = None,
    faults: str | None = None,
    seed: int = 0,
    keys: Keys | None = None,
) -> Prepared:
    """Load and check everything, bind the port (0: a free one), write the config. Raises on bad input."""
    records = load_store(data)
    fault_list = parse_spec(faults)
    if now:
        parse_timestamp(now)  # fail before binding anything
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so; without it every
    # keep-alive response waits ~40 ms for Nagle and delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(128)  # connections made before uvicorn runs wait in the backlog instead of failing
    keys = keys or Keys.load_or_generate(keys_path(config_path) if config_path else None)
    prepared = Prepared(sock, build_state(records, keys, now=now, faults=fault_list, seed=seed), config_path)
    prepared.state.identity.base_url = prepared.base_url
    if config_path is not None:
        prepared.config_path = write_config(config_path, prepared.state)
    return prepared


def serve(prepared: Prepared) -> None:
    """Serve in the foreground until interrupted."""
    prepared.uvicorn_server().run(sockets=[prepared.sock])


@dataclass
class EmulatorHandle:
    """A running emulator in a background thread."""

    server: uvicorn.Server
    thread: threading.Thread
    prepared: Prepared

    @property
    def port(self) -> int:
        return self.prepared.port

    @property
    def base_url(self) -> str:
        return self.prepared.base_url

    @property
    def config_path(self) -> Path:
        assert self.prepared.config_path is not None
        return self.prepared.config_path

    @property
    def state(self) -> EmulatorState:
        return self.prepared.state

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_in_thread(
    data: Path,
    *,
    port: int = 0,
    config_path: Path | None = None,
    now: str | None = None,
    faults: str | None = None,
    seed: int = 0,
    keys: Keys | None = None,
) -> EmulatorHandle:
    """Start the emulator in a daemon thread and wait until it accepts connections.

    Without ``config_path`` the config goes to a fresh temporary folder, so ``handle.config_path`` is always set.
    """
    if config_path is None:
        config_path = Path(tempfile.mkdtemp(prefix="supportdesk-emulator-")) / "emulator.toml"
    prepared = prepare(data, port=port, config_path=config_path, now=now, faults=faults, seed=seed, keys=keys)
    server = prepared.uvicorn_server()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [prepared.sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the store emulator did not start")
        time.sleep(0.01)
    return EmulatorHandle(server, thread, prepared)
