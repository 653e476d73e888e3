"""A team on PostgreSQL: the actor is the connected role, and what a role may do is enforced by the database,
so a modified client (a forged role, raw SQL) still cannot do what its role forbids."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg.errors import InsufficientPrivilege
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select
from typer.testing import CliRunner

from supportdesk.cli.context import AppContext
from supportdesk.cli.main import app
from supportdesk.db.engine import make_engine, read_session, write_session
from supportdesk.db.models import AuditRecord
from supportdesk.db.roles import AGENT, LEAD, grant, setup_roles
from supportdesk.domain.ledger import Posting
from supportdesk.errors import Forbidden
from supportdesk.services import ledger
from supportdesk.services.accounts import set_status
from supportdesk.services.audit import ActionContext
from supportdesk.services.importer import run_import
from tests.conftest import PG_URL, _admin, drop_database, drop_group_roles, group_roles_lock, new_database_url
from tests.service.factories import minimal, write_dataset

pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="database roles need PostgreSQL (SUPPORTDESK_TEST_PG_URL)"),
    pytest.mark.xdist_group("pg_group_roles"),  # one worker runs them in turn: the lock below never makes one wait
]


@pytest.fixture
def roles_locked() -> Iterator[None]:
    with group_roles_lock():
        yield


@pytest.fixture
def team(roles_locked: None, tmp_path: Path, pg_template: str | None) -> Iterator[dict[str, str]]:
    """A migrated, imported database; `supportdesk db roles` run by its owner; one agent and one lead login.
    The cluster-wide group roles are this test's alone until it has dropped them (`roles_locked`)."""
    url, name = new_database_url("postgresql", tmp_path, pg_template)
    owner = make_engine(url)
    run_import(owner, write_dataset(tmp_path / "ds", minimal()))
    setup_roles(owner)
    suffix = uuid.uuid4().hex[:8]
    logins = {"agent": f"sd_agent_{suffix}", "lead": f"sd_lead_{suffix}"}
    with _admin().connect() as conn:
        for login in logins.values():
            conn.execute(text(f'CREATE ROLE "{login}" LOGIN'))
    for role, login in logins.items():
        grant(owner, login, role)
    owner.dispose()
    yield {"owner": url, **{role: make_url(url).set(username=login).render_as_string(hide_password=False)
                            for role, login in logins.items()}, **{f"{r}_login": v for r, v in logins.items()}}
    drop_database(name)
    with _admin().connect() as conn:
        for login in logins.values():
            conn.execute(text(f'DROP ROLE IF EXISTS "{login}"'))
    drop_group_roles()  # cluster-wide: dropped unless another database still grants to them


def _as(url: str):  # an engine connected as that login
    return make_engine(url)


def test_the_actor_is_the_connected_role_whatever_the_config_says(team, tmp_path):
    cfg = tmp_path / "forged.toml"
    cfg.write_text('[agent]\nactor = "lead_bob"\nrole = "lead"\n')
    state = AppContext(config_path=cfg, db_url=team["agent"])
    assert (state.identity.actor, state.identity.role, state.identity.enforced) == (team["agent_login"], "agent", True)
    ctx = state.action_context(None, "goodwill", None)
    assert (ctx.actor, ctx.role) == (team["agent_login"], "agent")
    with pytest.raises(Exception, match="you act as the database role"):
        state.action_context("lead_bob", "goodwill", None)


def test_agent_with_a_forged_lead_role_is_refused_by_the_database(team):
    engine = _as(team["agent"])
    forged = ActionContext(team["agent_login"], "goodwill", role="lead", credit_limit=None)
    for action in (
        lambda s: ledger.post(s, [Posting("acc_0000", "coin", 5001, "grant")], forged, key="big"),
        lambda s: ledger.post(s, [Posting("acc_0000", "diamond", -10, "refund_clawback")], forged, key="dia"),
        lambda s: set_status(s, "acc_0000", "suspended", forged, key="sus"),
    ):
        with pytest.raises(Forbidden, match="the database refused it: .*needs the lead role"):
            with write_session(engine) as s:
                action(s)
    with read_session(engine) as s:
        assert s.exec(text("SELECT count(*) FROM ledger_entries")).scalar() == 1  # only the imported credit


def test_agent_within_its_limit_posts_and_the_audit_names_session_user(team):
    engine = _as(team["agent"])
    me = ActionContext(team["agent_login"], "goodwill for the outage", credit_limit=5000)
    with write_session(engine) as s:
        ledger.post(s, [Posting("acc_0000", "coin", 100, "grant")], me, key="small")
    with read_session(engine) as s:
        actors = s.exec(select(AuditRecord.actor).where(AuditRecord.action != "import.ledger"))
        assert list(actors) == [team["agent_login"]]


def test_agent_cannot_post_as_someone_else(team):
    engine = _as(team["agent"])
    other = ActionContext("lead_bob", "forged", role="lead")
    with pytest.raises(Forbidden, match="you act as the role you connect as"):
        with write_session(engine) as s:
            ledger.post(s, [Posting("acc_0000", "coin", 10, "grant")], other, key="as-bob")


@pytest.mark.parametrize("sql", [
    "UPDATE ledger_entries SET amount = 1000000",
    "DELETE FROM audit_log",
    "TRUNCATE ledger_entries",
    "UPDATE purchases SET price_minor = 1",
    "UPDATE store_records SET store_transaction_id = 'x'",
    "INSERT INTO policy_versions VALUES (1, '{}', 'me', now(), 'x')",
    "CREATE TABLE mine (x int)",
    "ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only",
])
def test_agent_sql_that_its_role_forbids_is_refused(team, sql):
    engine = create_engine(make_url(team["agent"]).set(drivername="postgresql+psycopg"))
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        conn.execute(text(sql))
    assert caught.value.orig.sqlstate == "42501"  # insufficient privilege
    engine.dispose()


ENTRY = ("entry_id", "account_id", "asset", "amount", "kind", "at", "actor")


@pytest.mark.parametrize("copy", [False, True], ids=["insert", "copy"])
@pytest.mark.parametrize("bad, refused", [
    (("coin", 5001, "grant", None), "a credit of 5001 coins needs the lead role"),
    (("diamond", -1, "refund_clawback", None), "clawing back diamonds needs the lead role"),
    (("coin", 1, "grant", "lead_bob"), "you act as the role you connect as .*, not as lead_bob"),
])
def test_one_forbidden_row_refuses_the_whole_statement(team, bad, refused, copy):
    """Migration 0013: the guards check a statement's rows together (one row or a million, INSERT or COPY):
    a single forbidden row among allowed ones refuses them all; a lead's same rows pass (but not as another)."""
    def rows(login: str) -> list[tuple[object, ...]]:
        asset, amount, kind, actor = bad
        ok = [(f"le_ok{i}", "acc_0000", "coin", 10, "grant", "2026-06-01T12:00:00Z", login) for i in range(3)]
        return [*ok[:2], ("le_bad", "acc_0000", asset, amount, kind, "2026-06-01T12:00:00Z", actor or login), ok[2]]

    def write(role: str) -> None:
        engine = create_engine(make_url(team[role]).set(drivername="postgresql+psycopg"))
        try:
            with engine.begin() as conn:
                cursor = conn.connection.dbapi_connection.cursor()
                if copy:
                    with cursor.copy(f"COPY ledger_entries ({', '.join(ENTRY)}) FROM STDIN") as stream:
                        for row in rows(team[f"{role}_login"]):
                            stream.write_row(row)
                else:
                    cursor.execute(f"INSERT INTO ledger_entries ({', '.join(ENTRY)}) SELECT * FROM "
                                   f"unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[], "
                                   f"%s::timestamptz[], %s::text[])",
                                   [list(c) for c in zip(*rows(team[f"{role}_login"]), strict=True)])
        finally:
            engine.dispose()

    def count() -> int:
        with read_session(_as(team["owner"])) as s:
            return int(s.exec(text("SELECT count(*) FROM ledger_entries")).scalar())

    before = count()
    with pytest.raises(InsufficientPrivilege, match=refused):  # SQLSTATE 42501
        write("agent")
    assert count() == before
    if bad[3] is None:
        write("lead")
        assert count() == before + 4


def test_lead_may_suspend_and_the_owner_changes_the_policy_audited_and_versioned(team):
    lead = _as(team["lead"])
    me = ActionContext(team["lead_login"], "laundering ring", role="lead")
    with write_session(lead) as s:
        set_status(s, "acc_0001", "suspended", me, key="sus")
    runner = CliRunner()
    refused = runner.invoke(app, ["--db", team["agent"], "policy", "set", "roles.lead_only_credit_over", "999999",
                                  "--reason", "me", "--json"])
    assert refused.exit_code == 1 and json.loads(refused.stdout)["error"]["code"] == "forbidden"
    done = runner.invoke(app, ["--db", team["owner"], "policy", "set", "roles.lead_only_credit_over", "50",
                               "--reason", "tighter goodwill", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"version": 1, "key": "roles.lead_only_credit_over", "before": 5000,
                                       "after": 50}
    agent = _as(team["agent"])
    state = AppContext(db_url=team["agent"])
    ctx = state.action_context(None, "goodwill", None)
    assert (ctx.credit_limit, ctx.policy_version) == (50, 1)
    forged = ActionContext(team["agent_login"], "goodwill", credit_limit=None)  # a client ignoring the limit
    with pytest.raises(Forbidden, match="agents may credit up to 50"), write_session(agent) as s:
        ledger.post(s, [Posting("acc_0000", "coin", 51, "grant")], forged, key="over")
    with read_session(agent) as s:
        audit = s.exec(text("SELECT action, actor, policy_version FROM audit_log ORDER BY seq")).all()
    assert [tuple(r) for r in audit][-1] == ("policy.set", "postgres", 1)


def test_the_group_roles_exist_and_nest(team):
    with _admin().connect() as conn:
        assert conn.execute(text("SELECT pg_has_role(:l, :a, 'MEMBER')"), {"l": LEAD, "a": AGENT}).scalar()


def test_only_a_lead_may_write_a_refund_override(team):
    """Migration 0011: the override's own audit record is refused to an agent whatever role the client claims."""
    from supportdesk.services import audit

    def override(url: str, actor: str) -> None:
        forged = ActionContext(actor, "outside the window but fair", role="lead")
        with write_session(_as(url)) as s:
            audit.append(s, forged, action="refund.override", target="rf_test", account_id="acc_0000",
                         key=f"rf_test_{actor}", after={"overridden": "web.window"})

    with pytest.raises(Forbidden, match="the database refused it: .*overriding the refund policy needs the lead"):
        override(team["agent"], team["agent_login"])
    override(team["lead"], team["lead_login"])
    with read_session(_as(team["owner"])) as s:
        actors = s.exec(select(AuditRecord.actor).where(AuditRecord.action == "refund.override")).all()
    assert actors == [team["lead_login"]]


def test_an_agent_cannot_import_and_nothing_is_written(team, tmp_path):
    """The import's binary COPY passes the ledger's guards like any write: an agent's import of a credit whose
    actor is not the agent is refused by the database, whole, with the guard's message."""
    from supportdesk.errors import ImportFailed
    from tests.service.factories import account
    from tests.service.test_import import counts

    data = minimal()
    data["accounts"] = [account(50), account(51)]
    data["purchases"] = [{**p, "purchase_id": f"pur_x{i}", "account_id": "acc_0050", "store_transaction_id": f"ch_x{i}"}
                         for i, p in enumerate(data["purchases"])]
    data["ledger"] = [{**e, "entry_id": f"le_x{i}", "account_id": "acc_0050", "ref": f"pur_x{i}"}
                      for i, e in enumerate(data["ledger"])]
    agent = _as(team["agent"])
    before = counts(agent)
    with pytest.raises(ImportFailed, match="nothing was imported: supportdesk: you act as the role you connect as"):
        run_import(agent, write_dataset(tmp_path / "new", data))
    assert counts(agent) == before
    agent.dispose()
