"""What every command shares: settings, the engine (schema checked), and the acting agent."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from supportdesk.config import Settings, load_settings
from supportdesk.domain.tickets import ticket_id_of

if TYPE_CHECKING:
    from supportdesk.services.audit import ActionContext


@dataclass
class AppContext:
    config_path: Path | None = None
    db_url: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    def use_config(self, path: Path) -> None:
        """Switch to another config file (the demo's emulator config) before the settings are used."""
        self.config_path = path
        self._settings = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path, database_url=self.db_url)
        return self._settings

    def action_context(self, actor: str | None, reason: str | None, ticket: str | None) -> ActionContext:
        """Who acts (flag, else config), why, under which ticket, with the role and limits from the config.

        The ticket is checked here, before any confirmation is asked (the services check it again when they write)."""
        from supportdesk.db.engine import read_session
        from supportdesk.services.audit import ActionContext, check_ticket

        settings = self.settings
        ticket_id = ticket_id_of(ticket) if ticket else None
        if ticket_id is not None:
            with read_session(self.engine) as session:
                check_ticket(session, ticket_id)
        return ActionContext(
            actor=actor or settings.actor, reason=reason or "", ticket_id=ticket_id, role=settings.role,
            credit_limit=settings.policy.get("roles", {}).get("lead_only_credit_over"),
        )

    @cached_property
    def engine(self) -> Engine:
        from supportdesk.db.engine import make_engine
        from supportdesk.db.schema import ensure_schema

        engine = make_engine(self.settings.database_url)
        ensure_schema(engine)
        return engine
