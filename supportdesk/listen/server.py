"""The listener in a background thread on a free local port, its log lines in a file: the demo, where the store
emulator delivers the stores' notifications to it while the app owns the terminal."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from sqlalchemy import Engine

from supportdesk.config import Settings
from supportdesk.listen.app import LOG, build_app

HOST = "127.0.0.1"


def bind_local() -> socket.socket:
    """A listening socket on a free local port: its URL can be handed to the emulator before the listener runs
    (connections made meanwhile wait in the backlog)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((HOST, 0))
    sock.listen(64)
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://{HOST}:{sock.getsockname()[1]}"


@dataclass
class ListenerHandle:
    server: uvicorn.Server
    thread: threading.Thread
    url: str
    log: logging.Handler

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        LOG.removeHandler(self.log)
        self.log.close()


def start_in_thread(engine: Engine, settings: Settings, sock: socket.socket, log_file: Path) -> ListenerHandle:
    """Serve the listener on `sock` in a daemon thread; what it receives and refuses, and its tracebacks, go to
    `log_file` (appended), never to the terminal. uvicorn's own loggers are left as they are (the emulator's
    file in the demo): they are shared by every server in the process."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False
    config = uvicorn.Config(build_app(engine, settings), log_level="warning", access_log=False, lifespan="off",
                            log_config=None, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            LOG.removeHandler(handler)
            handler.close()
            raise RuntimeError("the listener did not start")
        time.sleep(0.01)
    return ListenerHandle(server, thread, url_of(sock), handler)
