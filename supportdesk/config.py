"""Configuration: a TOML file (`--config`, SUPPORTDESK_CONFIG, or the user config dir), then flags.

Policy numbers (refund windows, review thresholds, role limits) live here, never in code paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_config_dir, user_data_dir

from supportdesk.errors import ConfigError
from supportdesk.secret_files import resolve_store_secrets

if TYPE_CHECKING:
    from supportdesk.config_file import EmulatorConfig

ENV_CONFIG = "SUPPORTDESK_CONFIG"

DEFAULT_POLICY: dict[str, Any] = {
    "refund": {
        "apple_grant_full_days": 14,
        "apple_decline_spent_percent": 50,
        "google_window_days": 30,
        "web_window_days": 14,
        "max_refunds": 3,
        "refund_count_days": 90,
        "diamond_clawback_reasons": ["fraud", "chargeback"],
    },
    "review": {
        "duplicate_charge_seconds": 120,
        "velocity_purchases": 5,
        "velocity_usd_minor": 50000,
        "velocity_hours": 24,
        "laundering_percent": 80,
        "laundering_gift_hours": 24,
        "laundering_cashout_days": 7,
        "refund_abuse_count": 3,
        "refund_abuse_days": 90,
    },
    "roles": {"lead_only_credit_over": 5000},
}


@dataclass
class Settings:
    database_url: str | None = None
    actor: str = field(default_factory=lambda: os.environ.get("SUPPORTDESK_ACTOR") or _login())
    role: str = "agent"
    stores: dict[str, dict[str, Any]] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=lambda: _merge(DEFAULT_POLICY, {}))
    keys: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    policy_version: int | None = None  # set from the database (services/policy.py); None: the defaults
    policy_from_file: bool = False  # the config file has a [policy] section (refused on a shared database)
    macros: dict[str, Any] = field(default_factory=dict)  # [macros.NAME] title + body, over the defaults in code
    outbox_path: Path | None = None  # [outbox] path: where sent replies go, one JSON line each (None: default)

    @property
    def outbox(self) -> Path:
        """The outbox file: `[outbox] path`, else `outbox.jsonl` in the user data directory."""
        return self.outbox_path or Path(user_data_dir("supportdesk", appauthor=False)) / "outbox.jsonl"

    emulator: EmulatorConfig | None = None  # the file's [emulator] table, read with the rest (store_clock)


def _login() -> str:
    import getpass  # (these imports wait for the settings, which the app reads after its first paint)

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "agent"


def merge_policy(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    return _merge(base, over)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def default_config_path() -> Path:
    return Path(user_config_dir("supportdesk", appauthor=False)) / "config.toml"


def load_settings(path: Path | str | None = None, *, database_url: str | None = None) -> Settings:
    explicit = path or os.environ.get(ENV_CONFIG)
    cfg_path = Path(explicit) if explicit else default_config_path()
    raw: dict[str, Any] = {}
    if cfg_path.exists():
        import tomllib

        try:
            raw = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{cfg_path}: not valid TOML: {exc}") from exc
    elif explicit:
        raise ConfigError(f"config file {cfg_path} does not exist")
    from supportdesk.config_file import validate  # pydantic: loaded with the settings, not with this module

    checked = validate(raw, str(cfg_path))  # every key typed once, here; the error names the key
    settings = Settings(path=cfg_path if cfg_path.exists() else None)
    settings.actor = os.environ.get("SUPPORTDESK_ACTOR") or checked.agent.actor or settings.actor
    settings.role = checked.agent.role
    settings.database_url = database_url or checked.database.url
    settings.stores = resolve_store_secrets(raw.get("stores", {}))  # the clients take their tables as written
    settings.policy = _merge(DEFAULT_POLICY, raw.get("policy", {}))
    settings.policy_from_file = bool(raw.get("policy"))
    settings.keys = dict(checked.keys)
    settings.emulator = checked.emulator
    settings.macros = {name: m.model_dump(exclude_none=True) for name, m in checked.macros.items()}
    outbox = checked.outbox.path
    if outbox is not None and not outbox.strip():
        raise ConfigError(f"{cfg_path}: outbox.path: must be a file path")
    settings.outbox_path = Path(outbox).expanduser() if outbox else None
    return settings
