"""Generate a dataset, import it, build the review queue and act on it, as an agent and a lead do with the CLI.

No store emulator: the rules read our own records (refunds dated by their clawback entries)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import ProgrammingError

from supportdesk.dataset.generate import generate
from supportdesk.db.engine import make_engine
from supportdesk.db.roles import grant, setup_roles
from tests.conftest import _admin
from tests.e2e.conftest import NOW, cli, cli_json


@dataclass
class Loaded:
    db: str
    planted: dict[str, Any]
    lead: Path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("review-e2e")
    generate(root / "dataset", seed=11, accounts=300, now=NOW)
    yield root / "dataset", json.loads((root / "dataset" / "planted.json").read_text())


@pytest.fixture
def loaded(dataset, db_url, tmp_path) -> Loaded:
    """The dataset imported into SQLite, and into PostgreSQL when SUPPORTDESK_TEST_PG_URL is set."""
    data, planted = dataset
    db = db_url
    cli("import", str(data), db=db)
    lead = tmp_path / "lead.toml"
    lead.write_text('[agent]\nactor = "lee"\nrole = "lead"\n')
    return Loaded(db, planted, lead)


def test_every_planted_flag_raised_and_none_on_clean_accounts(loaded):
    body = cli_json("review", db=loaded.db)
    got = {(f["rule"], f["account_id"], f["purchase_id"]) for f in body["flags"]}
    planted = {(f["rule"], f["account_id"], f["purchase_id"]) for f in loaded.planted["flags"]}
    assert planted and planted <= got, f"missed: {sorted(planted - got)}"
    clean = set(loaded.planted["clean_accounts"])
    assert not [f for f in body["flags"] if f["account_id"] in clean]
    near = {n["account_id"]: n["case"] for n in loaded.planted["near_misses"]}
    assert not [(near[f["account_id"]], f["rule"]) for f in body["flags"] if f["account_id"] in near]
    scores = [f["score"] for f in body["flags"]]
    assert scores == sorted(scores, reverse=True)
    assert all(f["evidence"] and f["store_transaction_id"] for f in body["flags"])

    velocity = cli_json("review", "--rule", "velocity", db=loaded.db)
    assert {f["rule"] for f in velocity["flags"]} == {"velocity"}
    assert velocity["built"]["raised"] == 0  # the same flags, found again
    stored = cli_json("review", "--no-rebuild", db=loaded.db)  # the queue as stored: the rules not run
    assert stored["built"] is None and [f["flag_id"] for f in stored["flags"]] == [f["flag_id"] for f in body["flags"]]


def test_confirm_laundering_holds_cashouts_once_and_survives_rebuilds(loaded):
    flags = cli_json("review", "--rule", "gift_laundering", db=loaded.db)["flags"]
    requested = [f for f in flags if any(c["status"] == "requested" for c in f["evidence"]["cashouts"])]
    flag = (requested or flags)[0]
    done = cli_json("review", "act", flag["flag_id"], "--action", "suspend", "--reason", "laundering via gifts",
                    "--ticket", "T-1001", "--yes", db=loaded.db, config=loaded.lead)
    assert done["applied"]["replayed"] is False and done["flag"]["status"] == "suspended"
    assert done["applied"]["account_status"]["after"] == "suspended"
    pending = {c["cashout_id"] for c in flag["evidence"]["cashouts"] if c["status"] == "requested"}
    assert pending <= set(done["applied"]["held_cashouts"])
    again = cli_json("review", "act", flag["flag_id"], "--action", "suspend", "--reason", "laundering via gifts",
                     "--ticket", "T-1001", "--yes", db=loaded.db, config=loaded.lead)
    assert again["applied"]["replayed"] is True and again["applied"]["held_cashouts"] == done["applied"]["held_cashouts"]

    rebuilt = cli_json("review", db=loaded.db)
    assert flag["flag_id"] not in {f["flag_id"] for f in rebuilt["flags"]}
    everything = cli_json("review", "--all", db=loaded.db)
    kept = next(f for f in everything["flags"] if f["flag_id"] == flag["flag_id"])
    actor = make_url(loaded.db).username if loaded.db.startswith("postgres") else "e2e-agent"  # session_user there
    assert (kept["status"], kept["decided_by"], kept["reason"]) == ("suspended", actor, "laundering via gifts")

    account = cli_json("account", flag["account_id"], db=loaded.db)
    assert account["account"]["status"] == "suspended"


@pytest.fixture
def agent_db(loaded) -> Iterator[str]:
    """Where an agent acts: on SQLite the configured role; on PostgreSQL a real login in supportdesk_agent."""
    if not loaded.db.startswith("postgres"):
        yield loaded.db
        return
    login = f"sd_e2e_agent_{uuid.uuid4().hex[:8]}"
    with _admin().connect() as conn:
        conn.execute(text(f'CREATE ROLE "{login}" LOGIN'))
    owner = make_engine(loaded.db)
    setup_roles(owner)
    grant(owner, login, "agent")
    owner.dispose()
    yield make_url(loaded.db).set(username=login).render_as_string(hide_password=False)
    with _admin().connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{login}'"))
        conn.execute(text(f'DROP OWNED BY "{login}"'))
    drop_role(login)


def drop_role(login: str) -> None:
    """The login's privileges live in the test database, dropped after the test; retry the role once it is gone."""
    with _admin().connect() as conn:
        try:
            conn.execute(text(f'DROP ROLE IF EXISTS "{login}"'))
        except ProgrammingError:
            pass


def test_an_agent_may_not_suspend(loaded, agent_db):
    flag = cli_json("review", "--rule", "underage", db=agent_db)["flags"][0]
    done = cli("review", "act", flag["flag_id"], "--action", "suspend", "--reason", "under age", "--yes", "--json",
               db=agent_db, check=False)
    assert done.returncode == 1 and json.loads(done.stdout)["error"]["code"] == "forbidden"
    dismissed = cli_json("review", "act", flag["flag_id"], "--action", "dismiss", "--reason", "parent's card, refunded",
                         "--yes", db=agent_db)
    assert dismissed["flag"]["status"] == "dismissed"
