"""Reloading the rule packs and reading the counters act for every tenant at once, so only an
operator's token (one without a tenant) may do them; a tenant's token, even its admin's, may
not, and a tenant's token cannot be given those roles at all."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mandate_rules._service._config import ConfigError, load_config

from .packs import escort, v1_rules
from .server import Server, token, tokens_env

pytestmark = pytest.mark.both_backends


def test_a_tenants_admin_can_neither_reload_nor_read_the_counters(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    admin_a, submit_b, operator = token(), token(), token()
    server = start_server(rules=v1_rules(tmp_path / "rules"), env=tokens_env([
        {"token": admin_a, "tenant": "ngo-a", "role": "admin"},
        {"token": submit_b, "tenant": "ngo-b", "role": "submit"},
        {"token": operator, "roles": ["reload", "metrics"]},
    ]))
    assert server.client(submit_b).events(escort()).status_code == 200
    tenant_a = server.client(admin_a)
    assert tenant_a.events(escort()).status_code == 200  # admin: every role of its tenant
    refused = tenant_a.post("/v1/admin/reload")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert "reload" in refused.json()["error"]["message"]
    assert tenant_a.get("/metrics").status_code == 403

    ops = server.client(operator)
    assert ops.post("/v1/admin/reload").json()["changed"] is False
    assert "mandate_rules_events_total" in ops.get("/metrics").text
    # An operator acts for no tenant: it cannot post or read a tenant's events.
    assert ops.events(escort()).status_code == 403
    assert ops.get("/v1/advisories").status_code == 403


def test_a_tenants_token_cannot_hold_an_operators_role() -> None:
    env = {"MANDATE_RULES_TOKENS": json.dumps([
        {"token": token(), "tenant": "ngo-a", "roles": ["read", "metrics"]},
        {"token": token(), "tenant": "ngo-b", "role": "reload"},
        {"token": token(), "role": "submit"},
    ])}
    with pytest.raises(ConfigError) as caught:
        load_config(None, env, {})
    assert caught.value.problems == [
        "MANDATE_RULES_TOKENS[0].roles: 'metrics' act(s) for every tenant, so only an "
        "operator's token (one without a tenant) may hold them; tenant 'ngo-a' may hold "
        "submit, read, admin",
        "MANDATE_RULES_TOKENS[1].roles: 'reload' act(s) for every tenant, so only an "
        "operator's token (one without a tenant) may hold them; tenant 'ngo-b' may hold "
        "submit, read, admin",
        "MANDATE_RULES_TOKENS[2].roles: a token without a tenant is an operator's and holds "
        "only metrics, reload; give a tenant to a token with 'submit'"]
    only_operator = {"MANDATE_RULES_TOKENS": json.dumps([{"token": token(), "role": "reload"}])}
    with pytest.raises(ConfigError) as caught:
        load_config(None, only_operator, {})
    assert caught.value.problems == [
        "tokens: only operators' tokens (without a tenant) are configured; events are taken "
        "only with a tenant's token, so configure one"]
