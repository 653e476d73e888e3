"""Imported ledger entries are covered by the audit chain too: one record per import with the count, the seq range
and a digest of every entry's content, so `audit --verify` finds an imported amount edited later.

The digest is order-free (the sum of each entry's SHA-256, modulo 2**256), so it can be computed while rows are
written in any order and recomputed from the table in seq order.
"""

from __future__ import annotations

import getpass
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Connection, exists, func, text
from sqlmodel import Session, col, select

from supportdesk.db.models import AuditRecord, LedgerEntry
from supportdesk.services import audit

FIELDS = ("entry_id", "account_id", "asset", "amount", "kind", "ref", "reverses")
MOD = 2**256
ACTION = "import.ledger"


@dataclass
class LedgerDigest:
    count: int = 0
    total: int = field(default=0)

    def add(self, rows: Iterable[Mapping[Any, Any]]) -> None:
        self.add_values(map(itemgetter(*FIELDS), rows))

    def add_values(self, entries: Iterable[Sequence[Any]]) -> None:
        """Entries as their FIELDS' values, in that order. An entry's hash is the SHA-256 of those values as text
        ("" for None) joined by the unit separator (one f-string per entry: an import hashes a million)."""
        sha256, number, total, count = hashlib.sha256, int.from_bytes, self.total, self.count
        for e, a, s, amount, k, ref, rev in entries:
            line = (f"{'' if e is None else e}\x1f{'' if a is None else a}\x1f{'' if s is None else s}\x1f"
                    f"{'' if amount is None else amount}\x1f{'' if k is None else k}\x1f{'' if ref is None else ref}"
                    f"\x1f{'' if rev is None else rev}")
            total += number(sha256(line.encode()).digest(), "big")
            count += 1
        self.total, self.count = total % MOD, count

    @property
    def hex(self) -> str:
        return f"{self.total:064x}"


def max_seq(conn: Connection) -> int:
    highest = conn.execute(select(func.coalesce(func.max(col(LedgerEntry.seq)), 0))).scalar_one()
    return int(cast(int, highest))  # coalesce: never None, though the column is typed `int | None`


def _actor(conn: Connection) -> str:
    if conn.dialect.name == "postgresql":
        return str(conn.execute(text("SELECT session_user")).scalar_one())
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "import"


def record(conn: Connection, source: str, digest: LedgerDigest, first_seq: int, last_seq: int) -> None:
    """Append the import's audit record in the import's own transaction."""
    if not digest.count:
        return
    ctx = audit.ActionContext(_actor(conn), f"import of {source}")
    with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
        audit.append(session, ctx, action=ACTION, target=source[-128:],
                     after={"entries": digest.count, "digest": digest.hex, "first_seq": first_seq,
                            "last_seq": last_seq})
        session.commit()


def imported_mismatch(session: Session) -> tuple[int, str] | None:
    """Each import's entries (in its seq range, without an audit record of their own) against its digest."""
    for rec in session.exec(select(AuditRecord).where(AuditRecord.action == ACTION).order_by(col(AuditRecord.seq))):
        said = rec.after or {}
        own = exists().where(col(AuditRecord.target) == LedgerEntry.entry_id, col(AuditRecord.action).like("ledger.%"))
        rows = session.execute(select(*(getattr(LedgerEntry, f) for f in FIELDS)).where(
            col(LedgerEntry.seq) > said.get("first_seq", 0) - 1, col(LedgerEntry.seq) <= said.get("last_seq", 0),
            ~own)).mappings()
        digest = LedgerDigest()
        digest.add(rows)
        if (digest.count, digest.hex) != (said.get("entries"), said.get("digest")):
            return rec.seq or 0, (f"the {said.get('entries'):,} ledger entries of this import no longer match its "
                                  f"digest ({digest.count:,} found; an imported entry was edited, added or removed)")
    return None
