"""Secrets on disk: created with mode 0600 from the first byte (never written, then chmod-ed), and read from a
file or the environment so store credentials need not sit inline in a TOML file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from supportdesk.errors import ConfigError

# [stores.S] keys that hold a secret: each may also come from `KEY_file = "path"` in the section, or from the
# environment as SUPPORTDESK_<STORE>_<KEY> or SUPPORTDESK_<STORE>_<KEY>_FILE (a path).
SECRET_KEYS = {"apple": ("private_key",), "web": ("secret_key", "webhook_secret")}


def write_private(path: Path, data: str | bytes) -> None:
    """Replace `path` with `data`, readable by its owner only at every moment."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read_secret(path: str, where: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}") from exc


def resolve_store_secrets(stores: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Fill each store's secret keys from `KEY_file` or the environment; inline values stay as they are."""
    env = dict(os.environ) if env is None else env
    out = {name: dict(section) if isinstance(section, dict) else section for name, section in stores.items()}
    for store, keys in SECRET_KEYS.items():
        for key in keys:
            var = f"SUPPORTDESK_{store.upper()}_{key.upper()}"
            section = out.get(store)
            if isinstance(section, dict) and section.get(f"{key}_file"):
                section[key] = _read_secret(section[f"{key}_file"], f"[stores.{store}] {key}_file")
            elif env.get(var):
                out.setdefault(store, {})[key] = env[var]
            elif env.get(f"{var}_FILE"):
                out.setdefault(store, {})[key] = _read_secret(env[f"{var}_FILE"], f"{var}_FILE")
    return out
