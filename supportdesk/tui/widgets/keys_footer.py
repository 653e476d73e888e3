"""A Footer that rebuilds its keys only when the keys it shows change.

Textual's Footer recomposes (removes and mounts every key widget, 8-25 ms at 160 columns) after each change of the
screen's bindings, and every focus change is one: opening an account moved the focus four times and rebuilt the
footer eight times, with the same keys each time (and the search screen's footer under it once more, out of
sight). This one coalesces the changes until the next refresh and rebuilds only when what it would show (the
shown bindings, their enabled state and tooltips, the palette key) differs from what it shows, and only while
its screen is in sight.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

from textual.widgets import Footer

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.screen import Screen


class KeysFooter(Footer):
    _pending = False
    _composed: Hashable = None

    def shown_keys(self) -> Hashable:
        """What `compose` would show now (None before the bindings are ready)."""
        if not self._bindings_ready:
            return None
        active = self.screen.active_bindings
        keys = tuple((binding, enabled, tooltip) for (_, binding, enabled, tooltip) in active.values() if binding.show)
        palette = active.get(self.app.COMMAND_PALETTE_BINDING) if (
            self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE) else None
        return keys, palette[1:] if palette else None

    def compose(self) -> ComposeResult:
        self._composed = self.shown_keys()
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or self._pending or not screen.is_current:
            return  # a screen out of sight publishes again when it is back (its stack updates)
        if self.is_attached and screen is self.screen:
            self._pending = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._pending = False
        if self.is_attached and self.shown_keys() != self._composed:
            await self.recompose()
