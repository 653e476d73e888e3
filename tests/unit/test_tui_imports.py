"""TUI modules import each other at the top of the file only, where a reader sees the arrows that the contracts in
pyproject.toml check: an import inside a function is how the old cycles were hidden."""

import ast
from pathlib import Path

TUI = Path(__file__).resolve().parents[2] / "supportdesk" / "tui"


def test_no_function_local_import_of_a_tui_module() -> None:
    found = []
    for path in sorted(TUI.rglob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found += [f"{path.relative_to(TUI)}:{node.lineno}" for node in ast.walk(fn)
                          if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("supportdesk.tui")]
    assert found == [], "import it at the top; if that makes a cycle, post an Open.X message (tui/navigation.py)"
