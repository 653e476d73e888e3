from supportdesk.db.engine import read_session
from supportdesk.services import lookup
from supportdesk.services.importer import run_import
from tests.service.factories import minimal, write_dataset


def test_import_then_story(engine, tmp_path):
    result = run_import(engine, write_dataset(tmp_path / "ds", minimal()))
    assert result.imported["accounts.jsonl"] == 3
    with read_session(engine) as s:
        story = lookup.story(s, "ch_abc123")
    assert story["account"]["account_id"] == "acc_0000"
    assert story["balances"]["coin"] == {"ledger": 70, "cached": 70, "drift": 0}
