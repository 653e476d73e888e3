"""TUI modules import each other at the top of the file only, where a reader sees the arrows that the contracts in
pyproject.toml check: an import inside a function is how the old cycles were hidden. The one exception is the
registry (tui/registry.py), which loads the screens the App opens the first time they are opened: there the
arrows are its TYPE_CHECKING imports, which must name exactly what it loads."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

from textual.command import Provider
from textual.screen import Screen

from supportdesk.tui import registry

ROOT = Path(__file__).resolve().parents[2]
TUI = ROOT / "supportdesk" / "tui"
LOADER = TUI / "registry.py"


def _dynamic_import(node: ast.AST) -> bool:
    """`importlib.import_module(...)`, `import_module(...)` or `__import__(...)`."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in ("import_module", "__import__")


def test_no_function_local_import_of_a_tui_module() -> None:
    found = []
    for path in sorted(TUI.rglob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found += [f"{path.relative_to(TUI)}:{node.lineno}" for node in ast.walk(fn)
                          if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("supportdesk.tui")]
    assert found == [], "import it at the top; if that makes a cycle, post an Open.X message (tui/navigation.py)"


def test_the_registry_is_the_only_lazy_loader() -> None:
    found = [f"{path.relative_to(TUI)}:{node.lineno}" for path in sorted(TUI.rglob("*.py")) if path != LOADER
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if _dynamic_import(node)]
    assert found == [], "load a screen lazily through tui/registry.py (a Lazy entry), not with importlib here"


def _entries() -> dict[str, registry.Lazy[object]]:
    return {name: value for name, value in vars(registry).items() if isinstance(value, registry.Lazy)}


def test_every_registered_target_loads_and_is_what_it_says() -> None:
    entries = _entries()
    assert set(registry.SCREENS.values()) | set(registry.OPENERS.values()) | {registry.PALETTE} == \
        set(entries.values())  # every entry is listed by kind
    for name, lazy in registry.SCREENS.items():
        cls = lazy.load()
        assert isinstance(cls, type) and issubclass(cls, Screen), name
        assert lazy.module.startswith("supportdesk.tui.screens."), name
    for name, lazy in registry.OPENERS.items():
        opener = lazy.load()
        assert callable(opener) and not isinstance(opener, type), name
        assert opener.__module__ == lazy.module, name
    palette = registry.PALETTE.load()
    assert isinstance(palette, type) and issubclass(palette, Provider)
    for lazy in entries.values():
        assert lazy.loaded() is lazy.load() is getattr(importlib.import_module(lazy.module), lazy.attribute)


def test_the_registry_type_checking_imports_name_exactly_what_it_loads() -> None:
    """The contracts see the App's arrows to its screens through these imports: they must not drift."""
    tree = ast.parse(LOADER.read_text(encoding="utf-8"))
    guarded = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    imported = {f"{node.module}:{alias.name}" for node in guarded.body if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    targets = {lazy.target for lazy in _entries().values()}
    protocols = {"supportdesk.tui.navigation:AccountView", "supportdesk.tui.navigation:CashoutView"}  # types only
    assert imported - protocols == targets


def test_the_first_paint_loads_no_other_screen_and_nothing_of_the_data() -> None:
    """Opening the app imports the search screen only: every registered screen, flow and the palette wait for
    their first use; the settings' validation (pydantic), the database code, typer and the desk's result types
    (dozens of dataclasses) wait too."""
    targets = sorted({lazy.module for lazy in _entries().values()})
    code = ("import sys, supportdesk.cli.start, supportdesk.tui.app\n"
            f"print(' '.join(m for m in {targets!r} if m in sys.modules))\n"
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click', 'pydantic', "
            "'sqlalchemy', 'sqlmodel', 'markdown_it') or m.startswith(('supportdesk.db', 'supportdesk.services', "
            "'supportdesk.stores', 'supportdesk.config_file', 'supportdesk.desk.accounts', "
            "'supportdesk.desk.ticket_results')))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split("\n")[:2] == ["", ""], out.stdout
