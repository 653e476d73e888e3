"""The outbound channel: where a reply to a customer goes once it is recorded. An `Outbox` takes a reply; the
file outbox appends it as one JSON line that an email or help-desk integration tails (README, "Plugging in a help
desk").

Exactly once, across crashes: the reply is first committed to the database (message id derived from the
idempotency key, `sent_at` empty), then appended to the outbox, then marked sent. A crash between the last two
leaves a reply whose line may already be in the file: the retry (the same command again: the same key, so the
same message id) checks the file for that message id before appending, so no line is written twice. Consumers
should still treat `message_id` as the key of what they send (a file copied by hand can repeat lines)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

try:
    import fcntl
except ImportError:  # Windows: one agent's file, no other writer to wait for
    fcntl = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class OutboundReply:
    message_id: str
    ticket: str
    account: str
    to: str
    body: str
    author: str
    sent_at: str  # ISO 8601 UTC


class Outbox(Protocol):
    def send(self, reply: OutboundReply, *, resume: bool = False) -> bool:
        """Hand the reply over; `resume`: an earlier attempt may have handed it over already (then it is not
        handed over again). True when it was handed over now."""
        ...


class FileOutbox:
    """Appends each reply as one line of JSON (UTF-8, `\\n`-terminated), under an exclusive lock, with one write
    and an fsync: a reader never sees half a line from us, and a line written is on disk when `send` returns."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, reply: OutboundReply, *, resume: bool = False) -> bool:
        line = (json.dumps(asdict(reply), ensure_ascii=False, sort_keys=True) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            if resume and self.holds(reply.message_id):
                return False
            self._end_line(fd)
            written = os.write(fd, line)
            if written != len(line):  # a full disk: write the rest, never leave half a line
                os.write(fd, line[written:])
            os.fsync(fd)
            return True
        finally:
            os.close(fd)  # closing releases the lock

    def _end_line(self, fd: int) -> None:
        """A line left unfinished by a crash (a torn write) is ended, so ours starts on its own line."""
        size = os.fstat(fd).st_size
        if size:
            with self.path.open("rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    os.write(fd, b"\n")

    def holds(self, message_id: str) -> bool:
        """Whether a line for this message id is in the file already."""
        if not self.path.exists():
            return False
        needle = json.dumps(message_id)
        with self.path.open("r", encoding="utf-8", errors="replace") as f:
            for line in f:
                if needle in line:
                    try:
                        if json.loads(line).get("message_id") == message_id:
                            return True
                    except ValueError:
                        continue
        return False
