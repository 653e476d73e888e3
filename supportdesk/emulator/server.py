"""Run the emulator under uvicorn: in the foreground (the CLI) or in a thread (tests)."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from supportdesk.emulator.app import build_app
from supportdesk.emulator.apple_base import ENVIRONMENTS
from supportdesk.emulator.clock import parse_timestamp
from supportdesk.emulator.config import keys_path, write_config
from supportdesk.emulator.faults import parse_spec
from supportdesk.emulator.pki import Keys
from supportdesk.emulator.records import load_store
from supportdesk.emulator.state import EmulatorState, Realism, build_state

HOST = "127.0.0.1"


class EmulatorStartError(Exception):
    """The emulator could not take its port."""


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

    def uvicorn_server(self, log_file: Path | None = None) -> uvicorn.Server:
        """`log_file`: uvicorn's logs and the app's tracebacks go there, never to the terminal (under a TUI)."""
        config = uvicorn.Config(
            build_app(self.state), log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=1,  # a request stuck in a timeout fault must not hold up a stop
            log_config=file_log_config(log_file) if log_file is not None else LOGGING_CONFIG,
        )  # fmt: skip
        return uvicorn.Server(config)


def file_log_config(log_file: Path) -> dict[str, Any]:
    """uvicorn's loggers to one file (appended), not propagated to the root logger: nothing to stderr."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = {"class": "logging.FileHandler", "filename": str(log_file), "encoding": "utf-8",
               "formatter": "plain"}
    quiet = {"handlers": ["file"], "level": "WARNING", "propagate": False}
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"file": handler},
        "loggers": {"uvicorn": quiet, "uvicorn.error": {"level": "WARNING"}, "uvicorn.access": quiet},
    }


class Options(TypedDict, total=False):
    port: int  # 0: a free one
    now: str | None  # ISO 8601; fixes the clock
    faults: str | None  # see supportdesk.emulator.faults
    seed: int
    keys: Keys | None  # default: reuse <config stem>-keys.json or make new ones
    environment: str  # Apple's: Production (default) or Sandbox
    realism: Realism | None  # rate limits, pull hold, ack deadline (default: as documented)
    notify_url: str | None  # the app's listener: POST /_emulator/notify delivers notifications there


def prepare(data: Path, *, config_path: Path | None = None, **options: Unpack[Options]) -> Prepared:
    """Load and check everything, bind the port, write the config. Raises on bad input."""
    now, keys = options.get("now"), options.get("keys")
    records = load_store(data)
    fault_list = parse_spec(options.get("faults"))
    if now:
        parse_timestamp(now)  # fail before binding anything
    if config_path is not None:
        config_path.resolve().parent.mkdir(parents=True, exist_ok=True)
    keys = keys or Keys.load_or_generate(keys_path(config_path) if config_path else None)
    environment = options.get("environment", "Production")
    if environment not in ENVIRONMENTS:
        raise ValueError(f"--environment must be {' or '.join(ENVIRONMENTS)}, not {environment!r}")
    state = build_state(records, keys, now=now, faults=fault_list, seed=options.get("seed", 0),
                        environment=environment, realism=options.get("realism"))
    prepared = Prepared(_listen(options.get("port", 0)), state, config_path)
    prepared.state.identity.base_url = prepared.base_url
    prepared.state.notify_url = options.get("notify_url")
    if config_path is not None:
        prepared.config_path = write_config(config_path, prepared.state)
    return prepared


def _listen(port: int) -> socket.socket:
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so; without it every
    # keep-alive response waits ~40 ms for Nagle and delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(128)  # connections made before uvicorn runs wait in the backlog instead of failing
    except OSError as exc:
        sock.close()
        raise EmulatorStartError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from exc
    return sock


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


def start_in_thread(data: Path, *, config_path: Path | None = None, log_file: Path | None = None,
                    **options: Unpack[Options]) -> EmulatorHandle:
    """Start the emulator in a daemon thread and wait until it accepts connections.

    With ``log_file`` (the demo, under the TUI) its logs and tracebacks go to that file, never to the terminal.

    Without ``config_path`` the config goes to a fresh temporary folder, so ``handle.config_path`` is always set.
    """
    if config_path is None:
        config_path = Path(tempfile.mkdtemp(prefix="supportdesk-emulator-")) / "emulator.toml"
    prepared = prepare(data, config_path=config_path, **options)
    server = prepared.uvicorn_server(log_file)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [prepared.sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the store emulator did not start")
        time.sleep(0.01)
    return EmulatorHandle(server, thread, prepared)
