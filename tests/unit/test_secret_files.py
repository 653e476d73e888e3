"""Secrets: 0600 from the first byte, and store keys from a file or the environment instead of inline TOML."""

from __future__ import annotations

import os
import stat

import pytest

from supportdesk.errors import ConfigError
from supportdesk.secret_files import resolve_store_secrets, write_private


def test_write_private_never_exposes_the_file(tmp_path, monkeypatch):
    seen = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *a, **kw):  # the mode the file is created with
        seen.append(mode)
        return real_open(path, flags, mode, *a, **kw)

    monkeypatch.setattr(os, "open", spy)
    target = tmp_path / "key.json"
    write_private(target, "secret")
    assert seen == [0o600]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_text() == "secret"
    assert [p.name for p in tmp_path.iterdir()] == ["key.json"]


def test_store_secrets_from_a_file_key_or_the_environment(tmp_path):
    pem = tmp_path / "apple.p8"
    pem.write_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n")
    sk = tmp_path / "sk"
    sk.write_text("sk_live_from_file\n")
    stores = {"apple": {"private_key_file": str(pem), "key_id": "K"}, "web": {"base_url": "https://api"}}
    got = resolve_store_secrets(stores, env={"SUPPORTDESK_WEB_SECRET_KEY_FILE": str(sk),
                                             "SUPPORTDESK_WEB_WEBHOOK_SECRET": "whsec_env"})
    assert got["apple"]["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert got["web"]["secret_key"] == "sk_live_from_file" and got["web"]["webhook_secret"] == "whsec_env"
    assert "private_key" not in stores["apple"]  # the caller's dict is left alone


def test_an_unreadable_secret_file_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"\[stores.web\] secret_key_file: cannot read"):
        resolve_store_secrets({"web": {"secret_key_file": str(tmp_path / "missing")}}, env={})
