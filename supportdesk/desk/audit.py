"""The audit trail: read it, verify its hash chain (and signed checkpoints), sign a checkpoint of its head."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from supportdesk.desk.desk import Desk

Row = dict[str, Any]


@dataclass
class Trail:
    """Audit records, newest first, at most `limit` of them."""

    entries: list[Row] = field(default_factory=list)
    limit: int = 0

    @property
    def full(self) -> bool:
        """As many as are shown at most: there may be older ones."""
        return len(self.entries) >= self.limit

    def to_json(self) -> Row:
        return {"entries": self.entries}


@dataclass
class Verification:
    """The chain checked end to end: `first_bad` (`seq`, `problem`) names the first edited, removed or moved
    record; `checkpoints` (when asked) the signed checkpoints' check, which `verified` then includes."""

    verified: bool
    records: int
    first_bad: Row | None = None
    checkpoints: Row | None = None

    def to_json(self) -> Row:
        body: Row = {"verified": self.verified, "records": self.records}
        if self.first_bad is not None:
            body["first_bad"] = self.first_bad
        if self.checkpoints is not None:
            body["checkpoints"] = self.checkpoints
        return body


def generate_key(path: Path) -> Row:
    """A new Ed25519 checkpoint signing key at `path` (0600) and its public half beside it; no database."""
    from supportdesk.services.checkpoint import generate_key as generate

    return generate(path)


class AuditDesk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    @property
    def limit(self) -> int:
        """At most this many records come back (newest first): a full page means there are more."""
        from supportdesk.services.trail import TRAIL_LIMIT

        return TRAIL_LIMIT

    def trail(self, ticket_id: str | None = None, account: str | None = None, *,
              account_id: str | None = None) -> Trail:
        """`entries`, newest first (at most `limit`): every action, or those under a ticket or on an account
        (`account`: any key, looked up; `account_id`: the id itself)."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup, trail

        with read_session(self.desk.engine) as session:
            if account:
                account_id = lookup.resolve_account(session, account).account_id
            rows = trail.entries(session, ticket_id=ticket_id, account_id=account_id)["entries"]
        return Trail(list(rows), trail.TRAIL_LIMIT)

    def verify(self, checkpoints: Path | None = None, public_key: Path | None = None) -> Verification:
        """`verified`, `records`, `first_bad` (`seq`, `problem`) when the chain is broken; with `checkpoints`
        (and the signer's `public_key`), `checkpoints` too and `verified` only when both hold."""
        from supportdesk.db.engine import read_session
        from supportdesk.errors import InvalidInput
        from supportdesk.services import checkpoint, trail

        if checkpoints is not None and public_key is None:
            raise InvalidInput("--checkpoints needs --public-key FILE: the signer's key, kept apart from the "
                               "checkpoint file")
        with read_session(self.desk.engine) as session:
            body = trail.verified(session)
            signed = checkpoint.verify_checkpoints(session, checkpoints, public_key) \
                if checkpoints is not None and public_key is not None else None
        verified = bool(body["verified"] and (signed is None or signed["verified"]))
        return Verification(verified, int(body["records"]), body.get("first_bad"), signed)

    def checkpoint(self, key: Path, log: Path) -> Row:
        """Sign the chain's head with `key` and append it to the checkpoint file `log`."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import checkpoint

        with read_session(self.desk.engine) as session:
            return checkpoint.checkpoint(session, key, log)
