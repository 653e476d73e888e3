"""`supportdesk demo` a second time (later, the same database) finds its rows already present; it refuses nothing."""

from __future__ import annotations

import json
import time

from typer.testing import CliRunner

from supportdesk.cli.main import app


def test_a_second_demo_later_finds_everything_already_imported(tmp_path):
    db, out = f"sqlite:///{tmp_path / 'demo.db'}", tmp_path / "ds"
    runner = CliRunner()
    args = ["--db", db, "demo", "--accounts", "44", "--out", str(out), "--no-open"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    made_for = json.loads((out / "planted.json").read_text())["now"]
    time.sleep(1.1)  # the generator's clock has whole seconds: a later run is another second
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "imported 0 rows" in again.output
    assert json.loads((out / "planted.json").read_text())["now"] == made_for
