"""Bulk-imported rows are stored exactly as the ORM stores them, so time ranges compare correctly."""

from datetime import UTC, datetime

from sqlalchemy import text
from sqlmodel import select

from supportdesk.db.engine import read_session
from supportdesk.db.models import LedgerEntry
from supportdesk.services.importer import run_import
from tests.service.factories import minimal, write_dataset


def test_imported_times_read_back_and_compare_like_orm_times(engine, tmp_path):
    data = minimal()
    data["ledger"][0]["at"] = "2026-10-01T14:00:00.5+02:00"  # an offset: stored in UTC
    run_import(engine, write_dataset(tmp_path / "ds", data))
    with read_session(engine) as s:
        entry = s.exec(select(LedgerEntry)).one()
        assert entry.at == datetime(2026, 10, 1, 12, 0, 0, 500000, tzinfo=UTC)
        later = s.exec(select(LedgerEntry).where(LedgerEntry.at > datetime(2026, 10, 1, 11, 59, tzinfo=UTC))).all()
        assert len(later) == 1
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.execute(text("SELECT at FROM ledger_entries")).scalar() == "2026-10-01 12:00:00.500000"
