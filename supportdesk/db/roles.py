"""PostgreSQL roles for a team: who may do what is granted here and enforced by the database.

`supportdesk_agent` may read everything and write only through the app's paths: INSERT on the append-only
tables (no UPDATE, DELETE or TRUNCATE of the ledger, the audit log, purchases, ticket messages or store records
beyond the status, sent and refreshed fields), UPDATE of the mutable rows (balances and status, tickets with
their status and assignee, flags, refunds, cashouts).
`supportdesk_lead` is an agent with the lead-only actions, which the triggers of migration 0006 check.
No role gets DDL; the reference tables (regions, prices, gifts) and the policy are the owner's.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

from supportdesk.errors import Forbidden, InvalidInput, NotFound

AGENT, LEAD = "supportdesk_agent", "supportdesk_lead"
GROUPS = {"agent": AGENT, "lead": LEAD}

INSERT_ONLY = ("ledger_entries", "audit_log")
INSERT_UPDATE = ("accounts", "tickets", "refunds", "review_flags", "cashouts")
# Columns of append-mostly tables that the app changes after the row exists.
COLUMN_UPDATES = {
    "purchases": ("status",),
    "idempotency_keys": ("result",),  # the key row is inserted first, its result written when the work is done
    "ticket_messages": ("sent_at",),  # a message is never edited; a reply is marked sent once the outbox has it
    "store_records": None,  # every column but its identity (store, store_transaction_id, id): the sync's upsert
}
OWNER_ONLY = ("regions", "price_points", "gifts", "policy_versions", "alembic_version")


def _require_postgres(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        raise InvalidInput("database roles are for a shared PostgreSQL database; on SQLite the actor is you")


def _columns(conn: Connection, table: str, skip: tuple[str, ...]) -> list[str]:
    rows = conn.execute(text("SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                             "AND table_schema = current_schema() ORDER BY ordinal_position"), {"t": table})
    return [r[0] for r in rows if r[0] not in skip]


def setup_roles(engine: Engine) -> dict[str, object]:
    """Create the group roles if missing and (re)grant what each may do on this database's tables. Idempotent;
    run it again after `db upgrade` so new tables get their grants."""
    _require_postgres(engine)
    with engine.begin() as conn:
        if not conn.execute(text("SELECT supportdesk_is_admin()")).scalar():
            raise Forbidden("only the database owner (or a superuser) sets up roles")
        for name, extra in ((AGENT, ""), (LEAD, f" IN ROLE {AGENT}")):
            exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first()
            if not exists:
                conn.execute(text(f"CREATE ROLE {name} NOLOGIN{extra}"))
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))]
        db = conn.execute(text("SELECT current_database()")).scalar()
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{db}" TO {AGENT}'))
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {AGENT}"))
        conn.execute(text(f"REVOKE CREATE ON SCHEMA public FROM {AGENT}"))
        for table in tables:
            conn.execute(text(f'REVOKE ALL ON "{table}" FROM {AGENT}'))
            conn.execute(text(f'GRANT SELECT ON "{table}" TO {AGENT}'))
            if table in OWNER_ONLY:
                continue
            conn.execute(text(f'GRANT INSERT ON "{table}" TO {AGENT}'))
            if table in INSERT_ONLY:
                continue
            if table in COLUMN_UPDATES:
                cols = COLUMN_UPDATES[table] or _columns(conn, table, ("store", "store_transaction_id", "id"))
                conn.execute(text(f'GRANT UPDATE ({", ".join(cols)}) ON "{table}" TO {AGENT}'))
            else:
                conn.execute(text(f'GRANT UPDATE ON "{table}" TO {AGENT}'))
        conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {AGENT}"))
    return {"roles": [AGENT, LEAD], "tables": len(tables)}


def grant(engine: Engine, login: str, role: str) -> dict[str, str]:
    """Make an existing login role an agent or a lead (and not the other)."""
    _require_postgres(engine)
    if role not in GROUPS:
        raise InvalidInput(f"--role must be agent or lead, not {role!r}")
    with engine.begin() as conn:
        if not conn.execute(text("SELECT supportdesk_is_admin()")).scalar():
            raise Forbidden("only the database owner (or a superuser) grants roles")
        found = conn.execute(text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :n"), {"n": login}).first()
        if found is None:
            raise NotFound(f"no database role {login!r}: create the login first (CREATE ROLE \"{login}\" LOGIN; "
                           "then a password or your LDAP/GSSAPI mapping in pg_hba.conf)")
        for name in GROUPS.values():
            if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first():
                raise NotFound("the supportdesk roles do not exist yet: run `supportdesk db roles` first")
        quoted = '"' + login.replace('"', '""') + '"'
        conn.execute(text(f"REVOKE {LEAD}, {AGENT} FROM {quoted}"))
        conn.execute(text(f"GRANT {GROUPS[role]} TO {quoted}"))
    return {"login": login, "role": role}
