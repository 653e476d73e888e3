"""The config file is validated once, when the settings load, and a bad key is named with what it should be."""

from __future__ import annotations

import json
from typing import get_args

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from supportdesk.cli.main import app
from supportdesk.config import DEFAULT_POLICY, load_settings
from supportdesk.config_file import ConfigFile, PolicyConfig
from supportdesk.errors import ConfigError


def _load(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


@pytest.mark.parametrize(("toml", "message"), [
    ('[stores.apple]\nbundle_id = 42\n', "stores.apple.bundle_id: expected a string"),
    ('[stores.apple]\napp_apple_id = "123"\n', "stores.apple.app_apple_id: expected an integer"),
    ('[stores.apple]\nenvironment = "Live"\n', "stores.apple.environment: expected 'Production' or 'Sandbox'"),
    ('[stores.apple]\nroot_certificates = 5\n', "stores.apple.root_certificates: expected a string or a list"),
    ('[stores.web]\nrequests_per_second = 0\n', "stores.web.requests_per_second: must be a positive number"),
    ('[stores.google]\npackage = "com.x"\n', "stores.google.package: unknown key"),
    ('[stores.steam]\nbase_url = "http://x"\n', "stores.steam: unknown key"),
    ('stores = "apple"\n', "stores: expected a table"),
    ('[agent]\nrole = "boss"\n', "agent.role: expected 'agent' or 'lead'"),
    ('[database]\nurl = 5\n', "database.url: expected a string"),
    ('[policy.refund]\ngoogle_windw_days = 10\n', "policy.refund.google_windw_days: unknown key"),
    ('[policy.refund]\nmax_refunds = "three"\n', "policy.refund.max_refunds: expected an integer"),
    ('[policy.roles]\nlead_only_credit_over = true\n', "policy.roles.lead_only_credit_over: expected an integer"),
    ('[keys]\nsearch = 3\n', "keys.search: expected a string"),
])
def test_a_bad_key_is_named_with_the_file(tmp_path, toml, message):
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, toml)
    assert str(caught.value).endswith(message)
    assert str(caught.value).startswith(str(tmp_path / "config.toml"))


def test_every_bad_key_is_named_at_once(tmp_path):
    with pytest.raises(ConfigError, match=r"agent.actor: expected a string; database.url: expected a string"):
        _load(tmp_path, '[agent]\nactor = 1\n[database]\nurl = 2\n')


def test_a_good_file_keeps_what_the_stores_and_the_app_read(tmp_path):
    settings = _load(tmp_path, '[agent]\nactor = "ana"\nrole = "lead"\n[database]\nurl = "sqlite:///x.db"\n'
                               '[stores.apple]\nbundle_id = "com.x"\napp_apple_id = 7\nrequests_per_second = 2\n'
                               'root_certificates = ["a.cer"]\n[policy.refund]\nweb_window_days = 7\n'
                               '[keys]\nsearch = "ctrl+f"\n[macros.thanks]\nbody = "Thank you"\n'
                               '[emulator]\ncontrol_url = "http://127.0.0.1:9/_emulator"\nseed = 3\n')
    assert (settings.actor, settings.role, settings.database_url) == ("ana", "lead", "sqlite:///x.db")
    assert settings.stores["apple"] == {"bundle_id": "com.x", "app_apple_id": 7, "requests_per_second": 2,
                                        "root_certificates": ["a.cer"]}  # as written: no keys filled in
    assert settings.policy["refund"]["web_window_days"] == 7 and settings.policy_from_file
    assert settings.policy["refund"]["google_window_days"] == DEFAULT_POLICY["refund"]["google_window_days"]
    assert settings.keys == {"search": "ctrl+f"}
    assert settings.emulator is not None and settings.emulator.control_url == "http://127.0.0.1:9/_emulator"


def test_the_policy_model_holds_exactly_the_default_policy():
    """A knob added to DEFAULT_POLICY must be added to config_file.PolicyConfig (typed and documented) too."""
    assert PolicyConfig().model_dump() == DEFAULT_POLICY


def test_every_key_is_documented():
    undocumented = [f"{model.__name__}.{name}" for model in _models(ConfigFile)
                    for name, info in model.model_fields.items() if not info.description]
    assert undocumented == []


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for info in model.model_fields.values():
        for arg in (info.annotation, *get_args(info.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in found:
                found += _models(arg)
    return found


def test_the_cli_reports_a_bad_key_as_a_config_error(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[agent]\nrole = "boss"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(path), "--db", f"sqlite:///{tmp_path / 'x.db'}",
                                      "whoami", "--json"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "config_error" and error["message"].endswith("agent.role: expected 'agent' or 'lead'")
