"""The TOML config that tells the app how to reach the emulator (formats.md section 3).

Written next to it: ``<stem>-google-service-account.json`` (the key file google-auth reads; its
``token_uri`` points at the emulator) and ``<stem>-keys.json`` (every generated key, reused on restart).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tomli_w

from supportdesk.emulator.clock import format_timestamp
from supportdesk.emulator.deliver import PUSH_AUDIENCE, webhook_secret
from supportdesk.emulator.pki import GOOGLE_PROJECT
from supportdesk.emulator.state import EmulatorState
from supportdesk.secret_files import write_private


def keys_path(config_path: Path) -> Path:
    return config_path.resolve().with_name(f"{config_path.stem}-keys.json")


def service_account_path(config_path: Path) -> Path:
    return config_path.resolve().with_name(f"{config_path.stem}-google-service-account.json")


def service_account(emu: EmulatorState) -> dict[str, Any]:
    keys = emu.keys
    return {
        "type": "service_account",
        "project_id": GOOGLE_PROJECT,
        "private_key_id": keys.google_key_id,
        "private_key": keys.google_key,
        "client_email": keys.google_client_email,
        "client_id": str(int(keys.google_key_id[:15], 16)),
        "auth_uri": f"{emu.identity.base_url}/google/auth",
        "token_uri": emu.identity.token_uri,
        "universe_domain": "googleapis.com",
    }


def config_document(emu: EmulatorState, sa_path: Path) -> dict[str, Any]:
    keys, identity, base = emu.keys, emu.identity, emu.identity.base_url
    document: dict[str, Any] = {
        "stores": {
            "apple": {
                "base_url": f"{base}/apple",
                "issuer_id": keys.apple_issuer_id,
                "key_id": keys.apple_key_id,
                "private_key": keys.apple_api_key,
                "bundle_id": identity.bundle_id,
                "app_apple_id": identity.app_apple_id,
                "environment": identity.environment,
                "root_certificates": [keys.root_cert],
            },
            "google": {
                "base_url": f"{base}/google",
                "package_name": identity.package_name,
                "service_account_file": str(sa_path),
                "pubsub_base_url": f"{base}/google/pubsub",
                "subscription": identity.subscription,
                "push_audience": PUSH_AUDIENCE,
                "push_service_account": keys.google_client_email,
                "push_certs_url": f"{base}/_emulator/push-certs",
            },
            "web": {"base_url": f"{base}/web", "secret_key": keys.web_secret_key,
                    "webhook_secret": webhook_secret(keys)},
        },
        "emulator": {"control_url": f"{base}/_emulator"},
    }
    if identity.environment == "Production":  # the client falls back there for a transaction it does not know
        document["stores"]["apple"]["sandbox_base_url"] = f"{base}/apple-sandbox"
    if emu.notify_url:
        document["emulator"]["notify_url"] = emu.notify_url
    if emu.clock.fixed_ms is not None:
        document["emulator"]["now"] = format_timestamp(emu.clock.fixed_ms)
    return document


def write_config(config_path: Path, emu: EmulatorState) -> Path:
    """Write the config and the service-account file beside it; returns the config's absolute path."""
    config_path = config_path.resolve()
    config_path.parent.mkdir(parents=True, exist_ok=True)
    sa_path = service_account_path(config_path)
    write_private(sa_path, json.dumps(service_account(emu), indent=2))
    write_private(config_path, tomli_w.dumps(config_document(emu, sa_path)))  # it holds private keys
    return config_path
