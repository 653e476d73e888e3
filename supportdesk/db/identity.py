"""Who is acting: on PostgreSQL the role the connection authenticated as (`session_user`) and what the
database lets it do; on SQLite (one person's file) the local user."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text


@dataclass(frozen=True, slots=True)
class Identity:
    actor: str
    role: str  # agent | lead
    source: str  # how we know: "the database login" or "this machine's user"
    enforced: bool  # True when the database itself enforces the role (PostgreSQL)


def connected(engine: Engine, local_actor: str, local_role: str) -> Identity:
    if engine.dialect.name != "postgresql":
        return Identity(local_actor, local_role, "this machine's user", enforced=False)
    with engine.connect() as conn:
        actor, lead = conn.execute(text("SELECT session_user, supportdesk_is_lead()")).one()
    return Identity(str(actor), "lead" if lead else "agent", "the database login", enforced=True)
