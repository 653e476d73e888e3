"""`supportdesk cashout hold|release|reject`: confirmed, audited, listed in `account --json`; refusals (an agent
lifting a review hold, an empty reason, an unknown cashout, a paid one) write nothing."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from supportdesk.cli.main import app
from supportdesk.db.engine import make_engine
from tests.service.factories import write_dataset
from tests.service.test_cashouts import FLAG, creator_dataset, flag_hold, rows

runner = CliRunner()


def run(db: str, *args: str, config: str | None = None):
    return runner.invoke(app, ["--db", db, *(["--config", config] if config else []), *args])


@pytest.fixture
def db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert run(url, "import", str(write_dataset(tmp_path / "ds", creator_dataset())), "--json").exit_code == 0
    engine = make_engine(url)
    flag_hold(engine)  # co_1 and co_2 held by a gift_laundering flag
    engine.dispose()
    return url


@pytest.fixture
def agent(tmp_path) -> str:
    path = tmp_path / "agent.toml"
    path.write_text('[agent]\nactor = "ana"\nrole = "agent"\n')
    return str(path)


def state(url: str):
    engine = make_engine(url)
    try:
        return rows(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize(("args", "code", "words"), [
    (("release", "co_1", "--reason", "asked"), "forbidden", f"review flag {FLAG}"),
    (("reject", "co_2", "--reason", "asked"), "forbidden", "needs the lead role"),
    (("hold", "co_4", "--reason", "  "), "invalid_input", "a reason is required"),
    (("hold", "co_404", "--reason", "x"), "not_found", "no cashout 'co_404'"),
    (("release", "co_3", "--reason", "x"), "invalid_input", "co_3 is paid"),
    (("hold", "co_4", "--reason", "x", "--ticket", "T-9999"), "not_found", "no ticket"),
])
def test_refusals_write_nothing(db, agent, args, code, words):
    before = state(db)
    out = run(db, "cashout", *args, "--yes", "--json", config=agent)
    assert out.exit_code == 1
    error = json.loads(out.stdout)["error"]
    assert error["code"] == code and words in error["message"]
    assert state(db) == before


def test_lead_releases_the_review_hold_and_account_json_lists_why(db, tmp_path):
    lead = tmp_path / "lead.toml"
    lead.write_text('[agent]\nactor = "lee"\nrole = "lead"\n')
    asked = run(db, "cashout", "release", "co_1", "--reason", "gifts genuine", "--json", config=str(lead))
    assert asked.exit_code == 1 and "Re-run with --yes" in json.loads(asked.stdout)["error"]["message"]
    done = run(db, "cashout", "release", "co_1", "--reason", "gifts genuine", "--ticket", "T-1001", "--yes",
               "--json", config=str(lead))
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert (body["before"], body["after"], body["changed"], body["hold_flag_id"]) == ("held", "requested", True, FLAG)
    story = json.loads(run(db, "account", "@user1", "--json").stdout)
    cash = {c["cashout_id"]: c for c in story["cashouts"]}
    assert (cash["co_1"]["status"], cash["co_1"]["status_by"], cash["co_1"]["status_reason"]) == (
        "requested", "lee", "gifts genuine")
    assert (cash["co_2"]["status"], cash["co_2"]["hold_flag_rule"]) == ("held", "gift_laundering")
    assert story["summary"]["cashouts"] == {"requested": 1, "held": 2, "paid": 1}
    human = runner.invoke(app, ["--db", db, "account", "@user1"], env={"COLUMNS": "160"})
    assert human.exit_code == 0 and "review flag gift_laundering (lead releases)" in human.output


def test_reject_human_output_says_the_diamonds_came_back(db, tmp_path):
    out = run(db, "cashout", "reject", "co_4", "--reason", "fraud ring", "--yes")
    assert out.exit_code == 0, out.output
    said = " ".join(out.output.split())
    assert "reject done" in said and "held -> rejected; 500 diamonds back" in said
