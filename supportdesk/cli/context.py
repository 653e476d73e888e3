"""Re-exported: the composition root lives in supportdesk/desk/context.py (the TUI uses it too)."""

from supportdesk.desk.context import AppContext

__all__ = ["AppContext"]
