"""One TUI at 80x24, however many hands built it: every screen's footer still shows `? Help` and `q Quit`
whole, Escape backs out of every screen, no screen takes an app key, and help.md lists every key's binding id."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

from textual.binding import Binding
from textual.dom import DOMNode
from textual.pilot import Pilot
from textual.widgets import Footer, Input
from textual.widgets._footer import FooterKey

import supportdesk.tui.screens
import supportdesk.tui.widgets
from supportdesk.tui.app import SupportDeskApp
from supportdesk.tui.screens.account import AccountScreen
from supportdesk.tui.screens.base import DeskScreen
from supportdesk.tui.screens.help import HELP, HelpScreen
from supportdesk.tui.screens.search import SearchInput
from tests.tui.test_app import SIZE, settle


def footer_keys(app: SupportDeskApp) -> tuple[dict[str, FooterKey], int]:
    """The footer's keys by key, and the column where the palette key (docked right) starts."""
    keys = list(app.screen.query_one(Footer).query(FooterKey))
    palette = next(k for k in keys if k.has_class("-command-palette"))
    return {k.key: k for k in keys if k is not palette}, palette.region.x


def footer_problem(app: SupportDeskApp) -> str | None:
    """? and q whole, left of the palette key; q only where it quits (typing in a box, q is a letter)."""
    keys, limit = footer_keys(app)
    for key in ("question_mark", "q") if not isinstance(app.focused, Input) else ("question_mark",):
        if key not in keys:
            return f"{type(app.screen).__name__}: no {key} in the footer"
        if keys[key].region.right > limit or keys[key].region.width == 0:
            shown = " ".join(f"{k.key_display} {k.description}" for k in keys.values())
            return f"{type(app.screen).__name__}: {key} cut off: {shown}"
    return None


async def visit(pilot: Pilot[None], *keys: str) -> None:
    await pilot.press(*keys)
    await settle(pilot)


async def test_every_screen_shows_help_and_quit_and_escape_backs_out(make_app) -> None:
    app = make_app()
    problems: list[str | None] = []
    seen: list[str] = []

    async def check(expected: str) -> None:
        assert type(app.screen).__name__ == expected, f"expected {expected}, got {app.screen!r}"
        seen.append(expected)
        problems.append(footer_problem(app))

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await check("SearchScreen")
        await visit(pilot, *"@user")
        await visit(pilot, "down")  # the results: the footer has no box to make room for
        await check("SearchScreen")
        await visit(pilot, "ctrl+t")
        await check("TicketsScreen")
        await visit(pilot, *"f" * 7)  # unsolved, new, open, pending, on-hold, solved, closed, then all: T-1002 is the newest
        await visit(pilot, "enter")
        await check("TicketScreen")
        await visit(pilot, "a")
        await check("AuditScreen")
        await visit(pilot, "escape", "w")  # working a ticket adds a line on top; the footer stays whole
        await check("TicketScreen")
        await visit(pilot, "o")
        await check("AccountScreen")
        await visit(pilot, "R")
        await check("ReconcileScreen")
        await visit(pilot, "escape", "1")
        await visit(pilot, "f")
        await check("RefundScreen")
        await visit(pilot, "escape", "g")
        await check("RegionScreen")
        await visit(pilot, "escape", "a")
        await check("AuditScreen")
        await visit(pilot, "escape", "enter")
        await check("PurchaseScreen")
        await visit(pilot, "escape")
        assert isinstance(app.screen, AccountScreen)
        app.action_search()
        await visit(pilot, "ctrl+f")
        await check("ReviewScreen")
        await visit(pilot, "escape")
        await visit(pilot, "ctrl+g")
        await check("RegionScreen")
        await visit(pilot, "escape")
        assert isinstance(app.focused, SearchInput)
        await visit(pilot, "ctrl+r")
        await check("ReconcileScreen")
        await visit(pilot, "escape")
        await check("SearchScreen")
    assert [p for p in problems if p] == [], "\n".join(p for p in problems if p)
    screens = {c.__name__ for c in classes() if issubclass(c, DeskScreen) and c is not DeskScreen}
    assert screens <= set(seen), f"not visited: {screens - set(seen)}"


def classes() -> Iterator[type[DOMNode]]:
    """Every screen and widget class the TUI defines."""
    for package in (supportdesk.tui.screens, supportdesk.tui.widgets):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for value in vars(module).values():
                if isinstance(value, type) and issubclass(value, DOMNode) and value.__module__ == module.__name__:
                    yield value


def own_bindings(cls: type[DOMNode]) -> list[Binding]:
    return [b for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding)]


def keys_of(binding: Binding) -> set[str]:
    return {k.strip() for k in binding.key.split(",")}


def test_no_screen_takes_an_app_key() -> None:
    app_keys = {k for b in own_bindings(SupportDeskApp) for k in keys_of(b)} | {"ctrl+p", "ctrl+q", "ctrl+c"}
    taken = [(cls.__name__, b.key, b.action) for cls in classes() for b in own_bindings(cls)
             if keys_of(b) & app_keys and not b.action.startswith("app.")  # the search box's ? is the app's help
             and cls is not HelpScreen]  # ? and F1 close what they opened
    assert taken == []


def test_help_lists_every_binding_id() -> None:
    text = HELP.read_text(encoding="utf-8")
    ids = {b.id for cls in [SupportDeskApp, *classes()] for b in own_bindings(cls)}
    assert None not in ids, "a binding without an id cannot be remapped"
    assert sorted(i for i in ids if f"`{i}`" not in text) == []
