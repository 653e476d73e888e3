"""The config file's shape: every table and key the TOML may hold, its type, and what it does.

Validated once, when the settings are loaded (config.load_settings); an error names the key
(`config.toml: stores.apple.bundle_id: expected a string`). Unknown keys are refused, so a misspelt
policy knob is an error and not a default silently kept. Docs: README "Configuration", docs/formats.md section 3.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from supportdesk.errors import ConfigError


class _Table(BaseModel):
    # strict: TOML is typed, so "14" for a number of days is a mistake to report, not a value to coerce.
    # use_attribute_docstrings: each field's docstring is its description (in the JSON schema too).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, use_attribute_docstrings=True)


class AgentConfig(_Table):
    """`[agent]`: who acts, on a SQLite file (on PostgreSQL the connected role decides)."""

    actor: str | None = None
    """The acting agent's name in the audit trail; SUPPORTDESK_ACTOR and `--actor` win over it.
    Default: the OS user."""
    role: Literal["agent", "lead"] = "agent"
    """`lead` may do what `[policy.roles]` keeps from agents (large credits); nothing enforces it on a file
    its user owns."""


class DatabaseConfig(_Table):
    """`[database]`."""

    url: str | None = None
    """`sqlite:///path` or `postgresql://user@host:5432/db`; `--db` and SUPPORTDESK_DATABASE_URL win over it.
    Default: a SQLite file in the user data directory."""


class _StoreConfig(_Table):
    base_url: str | None = None
    """The store's API root (the emulator's `--write-config` writes its own)."""
    requests_per_second: float | None = Field(default=None, gt=0)
    """Overrides the store's documented rate limits that the client paces itself to."""


class AppleStoreConfig(_StoreConfig):
    """`[stores.apple]`: the App Store Server API."""

    issuer_id: str | None = None
    """The API key's issuer id (App Store Connect, Users and Access, Integrations)."""
    key_id: str | None = None
    """The API key's id (the `kid` of the ES256 token)."""
    private_key: str | None = None
    """The API key (PEM). Also `private_key_file`, SUPPORTDESK_APPLE_PRIVATE_KEY or
    SUPPORTDESK_APPLE_PRIVATE_KEY_FILE."""
    private_key_file: str | None = None
    """A file holding `private_key`."""
    bundle_id: str | None = None
    """The app's bundle id; notifications and transactions for another app are refused."""
    app_apple_id: int | None = None
    """The app's Apple id (a number); required for environment Production."""
    environment: Literal["Production", "Sandbox"] | None = None
    """Which App Store the key talks to."""
    root_certificates: str | list[str] | None = None
    """Apple's root certificates that signed payloads must chain to: PEM text, or paths to `.cer` (DER) or `.pem`
    files, or a list of them."""
    sandbox_base_url: str | None = None
    """Production only: where a transaction Production does not know is looked up."""


class GoogleStoreConfig(_StoreConfig):
    """`[stores.google]`: the Google Play Developer API and its Pub/Sub notifications."""

    package_name: str | None = None
    """The app's package name (`com.example.app`)."""
    service_account_file: str | None = None
    """A service-account key file (JSON); without it, Application Default Credentials are used."""
    pubsub_base_url: str | None = None
    """The Pub/Sub API root, to pull real-time developer notifications (with `subscription`)."""
    subscription: str | None = None
    """The Pub/Sub subscription the notifications are pulled from (`projects/P/subscriptions/S`)."""
    pull_timeout: float | None = Field(default=None, gt=0)
    """Seconds to wait for a pull (default 30, longer than Pub/Sub's hold of an empty pull)."""
    push_audience: str | None = None
    """`supportdesk listen`: the audience Google's push tokens must carry."""
    push_service_account: str | None = None
    """`supportdesk listen`: the service account Google's push tokens must be issued to."""
    push_certs_url: str | None = None
    """`supportdesk listen`: where Google's token-signing certificates are fetched (default: Google's)."""


class WebStoreConfig(_StoreConfig):
    """`[stores.web]`: the web payment processor."""

    secret_key: str | None = None
    """The processor's secret API key. Also `secret_key_file`, SUPPORTDESK_WEB_SECRET_KEY or ..._FILE."""
    secret_key_file: str | None = None
    """A file holding `secret_key`."""
    webhook_secret: str | None = None
    """`supportdesk listen`: the secret the processor signs its webhooks with. Also `webhook_secret_file`."""
    webhook_secret_file: str | None = None
    """A file holding `webhook_secret`."""


class StoresConfig(_Table):
    """`[stores.*]`: a store without a table is not configured (its refunds and syncs are refused)."""

    apple: AppleStoreConfig | None = None
    """The App Store."""
    google: GoogleStoreConfig | None = None
    """Google Play."""
    web: WebStoreConfig | None = None
    """The web payment processor."""


class RefundPolicyConfig(_Table):
    """`[policy.refund]`: when a refund is granted, declined or sent to a lead (domain/refunds.py)."""

    apple_grant_full_days: int = 14
    """Apple: a refund asked within this many days of the purchase is granted in full."""
    apple_decline_spent_percent: int = 50
    """Apple: declined when this percentage of the purchase's coins is already spent."""
    google_window_days: int = 30
    """Google Play: days after the purchase during which we refund."""
    web_window_days: int = 14
    """Web: days after the purchase during which we refund."""
    max_refunds: int = 3
    """Refunds an account may have within `refund_count_days` before the next one is declined."""
    refund_count_days: int = 90
    """The window `max_refunds` counts over."""
    diamond_clawback_reasons: list[str] = Field(default_factory=lambda: ["fraud", "chargeback"])
    """Refund reasons for which the creator's diamonds from the refunded coins are clawed back too."""


class ReviewPolicyConfig(_Table):
    """`[policy.review]`: the review rules' thresholds (docs/formats.md section 2)."""

    duplicate_charge_seconds: int = 120
    """`duplicate_charge`: the same product charged again within this many seconds."""
    velocity_purchases: int = 5
    """`velocity`: more purchases than this within `velocity_hours`."""
    velocity_usd_minor: int = 50000
    """`velocity`: more than this (USD cents, converted by the price points) within `velocity_hours`."""
    velocity_hours: int = 24
    """`velocity`: the window."""
    laundering_percent: int = 80
    """`gift_laundering`: this percentage or more of the coins bought gifted to one creator."""
    laundering_gift_hours: int = 24
    """`gift_laundering`: gifted within this many hours of the purchase."""
    laundering_cashout_days: int = 7
    """`gift_laundering`: the creator asks for a cashout within this many days."""
    refund_abuse_count: int = 3
    """`refund_abuse`: this many refunds, revocations, voids or chargebacks or more ..."""
    refund_abuse_days: int = 90
    """... within this many days."""


class RolesPolicyConfig(_Table):
    """`[policy.roles]`: what needs a lead."""

    lead_only_credit_over: int = 5000
    """A goodwill credit of more coins than this needs a lead."""


class PolicyConfig(_Table):
    """`[policy]`: read from the file on SQLite only, until a version is set in the database
    (`supportdesk policy set`); a shared database refuses it. Defaults: config.DEFAULT_POLICY (version 0)."""

    refund: RefundPolicyConfig = Field(default_factory=RefundPolicyConfig)
    """Refund decisions."""
    review: ReviewPolicyConfig = Field(default_factory=ReviewPolicyConfig)
    """Review thresholds."""
    roles: RolesPolicyConfig = Field(default_factory=RolesPolicyConfig)
    """Role limits."""


class EmulatorConfig(_Table):
    """`[emulator]`: written by `supportdesk store-emulator --write-config`, read by the app (not for people)."""

    model_config = ConfigDict(extra="allow")  # the emulator's own notes; the app reads only these

    control_url: str | None = None
    """The emulator's control API: the stores' clock (refund and look-back windows count from it)."""
    notify_url: str | None = None
    """Where the emulator delivers store notifications."""
    now: str | None = None
    """The emulator's fixed clock when it was started (informative: the control API is asked)."""


class MacroConfig(_Table):
    """`[macros.NAME]`: a reply template; placeholders such as `{handle}` are filled from the ticket's account,
    purchase and last decision (see `supportdesk macro list`)."""

    body: str = Field(min_length=1)
    """The reply text with its placeholders."""
    title: str | None = None
    """What the palette and the picker show (default: the macro's name)."""


class OutboxConfig(_Table):
    """`[outbox]`: where sent replies go, one JSON line each, for an email or help-desk integration to pick up."""

    path: str | None = None
    """The outbox file (default: `outbox.jsonl` in the user data directory)."""


class ConfigFile(_Table):
    """The whole file. Every table is optional."""

    agent: AgentConfig = Field(default_factory=AgentConfig)
    """Who acts."""
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    """Where the data lives."""
    stores: StoresConfig = Field(default_factory=StoresConfig)
    """How to reach the stores."""
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    """Refund, review and role policy (SQLite only; see PolicyConfig)."""
    keys: dict[str, str] = Field(default_factory=dict)
    """The TUI's key map: a binding id to the keys that trigger it (`search = "ctrl+f"`)."""
    macros: dict[str, MacroConfig] = Field(default_factory=dict)
    """Ticket reply macros, over the defaults in code."""
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    """The outbound channel for replies."""
    emulator: EmulatorConfig = Field(default_factory=EmulatorConfig)
    """The local store emulator, when it wrote this file."""


_TYPE_TAGS = {"str", "int", "float", "bool"}
_PHRASES = {
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
    "list_type": "expected a list",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "extra_forbidden": "unknown key",
    "greater_than": "must be a positive number",
    "literal_error": "expected {expected}",
}


def validate(raw: dict[str, Any], where: str) -> ConfigFile:
    """The file's tables, typed; a ConfigError naming each bad key (`where: stores.apple.bundle_id: ...`)."""
    try:
        return ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {describe(exc)}") from None


def describe(exc: ValidationError) -> str:
    """One line per bad key; a key that may take several types says so once ("expected a string or a list")."""
    by_key: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        # A union's member types appear in the location ("str", "list[str]"); the key is the rest.
        key = ".".join(str(p) for p in error["loc"] if str(p) not in _TYPE_TAGS and "[" not in str(p))
        phrase = _PHRASES.get(error["type"], error["msg"]).format(**error.get("ctx", {}))
        phrases = by_key.setdefault(key, [])
        if phrase not in phrases:
            phrases.append(phrase)
    return "; ".join(f"{key}: {' or '.join(_joined(p))}" for key, p in by_key.items())


def _joined(phrases: list[str]) -> list[str]:
    """"expected a string", "expected a list" -> "expected a string", "a list"."""
    return [phrases[0], *(p.removeprefix("expected ") if phrases[0].startswith("expected ") else p
                          for p in phrases[1:])]
