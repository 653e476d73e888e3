"""What every front-end shares: settings, the engine (schema checked), and the acting agent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from supportdesk.config import Settings, load_settings
from supportdesk.domain.tickets import ticket_id_of

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from supportdesk.db.identity import Identity
    from supportdesk.services.audit import ActionContext

T = TypeVar("T")
_CONNECTING = threading.RLock()  # the engine and the identity are made once, whichever thread asks first


class once(Generic[T]):  # noqa: N801 - used as a decorator, like functools.cached_property
    """functools.cached_property under one lock: the TUI reads the engine and the identity from its workers (the
    App's connect worker and the first screens' loads at once), which must wait for one connect, not each open
    their own. Stored in the instance's __dict__ like cached_property (tests assign `state.engine = engine`)."""

    def __init__(self, make: Callable[[Any], T]) -> None:
        self.make = make
        self.__doc__ = make.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> once[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> T | once[T]:
        if obj is None:
            return self
        with _CONNECTING:
            if self.name not in obj.__dict__:
                obj.__dict__[self.name] = self.make(obj)
            value: T = obj.__dict__[self.name]
            return value


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
        """Read and validated once (the TUI reads them in its connect worker, after the first paint: the
        validation loads pydantic), under the lock the engine and the identity are made under."""
        if self._settings is None:
            with _CONNECTING:
                if self._settings is None:
                    self._settings = load_settings(self.config_path, database_url=self.db_url)
        return self._settings

    @property
    def settings_read(self) -> bool:
        return self._settings is not None

    @once
    def identity(self) -> Identity:
        """On PostgreSQL the connected role and its membership decide; the config and flags cannot."""
        from supportdesk.db.identity import connected

        return connected(self.engine, self.settings.actor, self.settings.role)

    @property
    def connected(self) -> bool:
        """The engine and the identity are read (the app draws before they are; tui/app.py)."""
        return "engine" in self.__dict__ and "identity" in self.__dict__

    def action_context(self, actor: str | None, reason: str | None, ticket: str | None) -> ActionContext:
        """Who acts, why, under which ticket, with the role and the policy's limits.

        The ticket is checked here, before any confirmation is asked (the services check it again when they write)."""
        from supportdesk.db.engine import read_session
        from supportdesk.errors import InvalidInput
        from supportdesk.services.audit import ActionContext, check_ticket

        me = self.identity
        if actor and me.enforced and actor != me.actor:
            raise InvalidInput(f"you act as the database role you connect as ({me.actor}); --actor cannot change "
                               "that: connect as the other agent instead")
        ticket_id = ticket_id_of(ticket) if ticket else None
        if ticket_id is not None:
            with read_session(self.engine) as session:
                check_ticket(session, ticket_id)
        return ActionContext(
            actor=me.actor if me.enforced else (actor or me.actor), reason=reason or "", ticket_id=ticket_id,
            role=me.role, credit_limit=self.settings.policy.get("roles", {}).get("lead_only_credit_over"),
            policy_version=self.settings.policy_version,
        )

    @once
    def engine(self) -> Engine:
        from supportdesk.db.engine import make_engine
        from supportdesk.db.schema import ensure_schema

        engine = make_engine(self.settings.database_url)
        ensure_schema(engine)
        self._read_policy(engine)
        return engine

    def _read_policy(self, engine: Engine) -> None:
        """The policy in force comes from the database; a shared database refuses a [policy] in a config file,
        which an agent could write themselves."""
        from supportdesk.db.engine import read_session
        from supportdesk.errors import ConfigError
        from supportdesk.services.policy import in_force

        settings = self.settings
        if settings.policy_from_file and engine.dialect.name == "postgresql":
            raise ConfigError(f"{settings.path}: [policy] is not read on a shared database: the policy lives in the "
                              "database (`supportdesk policy show`; an administrator runs `supportdesk policy set`)")
        with read_session(engine) as session:
            version, policy = in_force(session)
        if version is not None:
            settings.policy, settings.policy_version = policy, version
