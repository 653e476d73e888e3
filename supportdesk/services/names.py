"""Account handles for labelling rows that carry only an account id (findings, flags)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from supportdesk.db.models import Account

CHUNK = 500  # ids per IN (...): well under every engine's parameter limit


def handles(session: Session, account_ids: Iterable[str]) -> dict[str, str]:
    """Account id -> handle; unknown ids are left out."""
    ids = sorted(set(account_ids))
    out: dict[str, str] = {}
    for start in range(0, len(ids), CHUNK):
        rows = session.exec(select(Account.account_id, Account.handle)
                            .where(col(Account.account_id).in_(ids[start:start + CHUNK])))
        out.update({aid: handle for aid, handle in rows})
    return out
