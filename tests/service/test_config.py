"""Settings: flags over a TOML or YAML file over the environment; tokens known by hash only."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mandate_rules._service._auth import Authenticator
from mandate_rules._service._config import ConfigError, load_config
from mandate_rules._service._errors import ApiError

from .server import token


def test_without_tokens_auth_is_off_and_only_loopback_is_allowed() -> None:
    config = load_config(None, {}, {})
    assert config.auth_enabled is False
    assert config.tenants == ("default",)
    assert config.host == "127.0.0.1"
    with pytest.raises(ConfigError) as caught:
        load_config(None, {}, {"host": "0.0.0.0"})
    assert "loopback only" in caught.value.problems[0]
    assert load_config(None, {}, {"host": "::1"}).host == "::1"


def test_a_toml_file_with_hashed_tokens_and_paths_relative_to_it(tmp_path: Path) -> None:
    secret = token()
    digest = hashlib.sha256(secret.encode()).hexdigest()
    (tmp_path / "conf").mkdir()
    file = tmp_path / "conf" / "sidecar.toml"
    file.write_text(f'rules = "packs"\ndb = "data/events.db"\nhost = "0.0.0.0"\n'
                    f'tick_interval = 30\n\n[[tokens]]\ntenant = "ngo-a"\n'
                    f'roles = ["submit", "read"]\ntoken_sha256 = "{digest}"\n')
    config = load_config(file, {}, {"port": 9000})
    assert config.rules_dir == tmp_path / "conf" / "packs"
    assert config.db_path == tmp_path / "conf" / "data" / "events.db"
    assert (config.host, config.port, config.tick_interval) == ("0.0.0.0", 9000, 30.0)
    assert config.tenants == ("ngo-a",)
    principal = Authenticator(config).authenticate(f"Bearer {secret}")
    assert (principal.tenant, principal.roles) == ("ngo-a", frozenset({"submit", "read"}))
    assert secret not in file.read_text()


def test_a_yaml_file_and_tokens_from_the_environment(tmp_path: Path) -> None:
    file = tmp_path / "sidecar.yaml"
    file.write_text("max_batch: 10\n")
    secret = token()
    env = {"MANDATE_RULES_TOKENS": json.dumps([{"token": secret, "tenant": "ngo-b",
                                                 "role": "admin"}])}
    config = load_config(file, env, {})
    assert config.max_batch == 10
    auth = Authenticator(config)
    assert auth.authenticate(f"bearer {secret}").tenant == "ngo-b"
    for header in (None, "", f"Basic {secret}", "Bearer ", f"Bearer {token()}"):
        with pytest.raises(ApiError) as caught:
            auth.authenticate(header)
        assert caught.value.code == "unauthorized"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    file = tmp_path / "sidecar.toml"
    file.write_text('prot = 80\nport = "eighty"\n\n[[tokens]]\ntenant = "a b"\nrole = "submit"\n'
                    'token = "short"\n\n[[tokens]]\ntenant = "ok"\nrole = "writer"\n'
                    'token = "long-enough-token-1234"\n')
    env = {"MANDATE_RULES_TOKENS": "not json"}
    with pytest.raises(ConfigError) as caught:
        load_config(file, env, {})
    text = "\n".join(caught.value.problems)
    assert "unknown setting 'prot'; did you mean 'port'?" in text
    assert "port: expected a whole number" in text
    assert "tokens[0].tenant" in text
    assert "tokens[1].roles: expected one or more of submit, read, admin, metrics" in text
    assert "MANDATE_RULES_TOKENS: not valid JSON" in text


def test_the_snapshot_interval_is_a_whole_number_zero_meaning_only_on_stop(
        tmp_path: Path) -> None:
    assert load_config(None, {}, {}).snapshot_every == 50_000
    file = tmp_path / "sidecar.toml"
    file.write_text("snapshot_every = 0\n")
    assert load_config(file, {}, {}).snapshot_every == 0
    assert load_config(file, {}, {"snapshot_every": 500}).snapshot_every == 500
    for bad in ("-1", '"often"', "2.5"):
        file.write_text(f"snapshot_every = {bad}\n")
        with pytest.raises(ConfigError) as caught:
            load_config(file, {}, {})
        assert caught.value.problems[0].startswith("snapshot_every: expected a whole number")


def test_short_and_repeated_tokens_are_refused() -> None:
    repeated = token()
    env = {"MANDATE_RULES_TOKENS": json.dumps([
        {"token": "abc", "tenant": "a", "role": "read"},
        {"token": repeated, "tenant": "a", "role": "read"},
        {"token": repeated, "tenant": "b", "role": "read"},
    ])}
    with pytest.raises(ConfigError) as caught:
        load_config(None, env, {})
    assert caught.value.problems == [
        "MANDATE_RULES_TOKENS[0].token: expected a text of at least 16 characters",
        "MANDATE_RULES_TOKENS[2]: the same token is configured twice"]


def test_roles_admin_holds_every_role() -> None:
    secret, admin = token(), token()
    config = load_config(None, {"MANDATE_RULES_TOKENS": json.dumps([
        {"token": secret, "tenant": "a", "role": "read"},
        {"token": admin, "tenant": "a", "role": "admin"}])}, {})
    auth = Authenticator(config)
    reader = auth.authenticate(f"Bearer {secret}")
    reader.require("read")
    with pytest.raises(ApiError) as caught:
        reader.require("submit")
    assert caught.value.code == "forbidden"
    auth.authenticate(f"Bearer {admin}").require("submit")
