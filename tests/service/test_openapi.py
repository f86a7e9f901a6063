"""The OpenAPI document and the code agree: same routes and methods, and a fuzz run of the
live server against the document (schemathesis) finds no 5xx and no undocumented answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from starlette.routing import Route

from mandate_rules._service import ServiceConfig, create_app
from mandate_rules._service._openapi import openapi_document

from .packs import escort, v1_rules
from .server import RULES_DIR, Server, token

MAX_EXAMPLES = 8  # per operation and phase


def test_every_route_is_documented_and_every_documented_operation_exists(
        tmp_path: Path) -> None:
    app = create_app(ServiceConfig(db=tmp_path / "e.db",
                                   rules_dir=v1_rules(tmp_path / "rules")))
    served = {(route.path, method.lower()) for route in app.routes if isinstance(route, Route)
              for method in route.methods or () if method != "HEAD"}
    document = openapi_document()
    documented = {(path, method) for path, item in document["paths"].items()
                  for method in item}
    assert served == documented
    assert len(served) == 18


def test_a_fuzz_run_against_the_document_finds_no_server_error(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    # Auth off: one token holds every role, where a tenant's token cannot reach the operators'
    # routes (/metrics, reload) nor an operator's the tenants' (docs/sidecar.md, roles).
    admin = token()
    server = start_server(rules=RULES_DIR,
                          args=["--shadow", str(v1_rules(tmp_path / "candidate"))])
    client = server.client()
    assert client.get("/v1/openapi.json").json() == json.loads(json.dumps(openapi_document()))
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    # Hostile bodies (lone surrogates, integers beyond a double) among the generated ones.
    env["SCHEMATHESIS_HOOKS"] = "hostile_hooks"
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent),
                                         env.get("PYTHONPATH", "")])
    run = subprocess.run(
        [str(Path(sys.executable).with_name("st")), "run", f"{server.url}/v1/openapi.json",
         "--header", f"Authorization: Bearer {admin}",
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                     "response_schema_conformance",
         "--max-examples", str(MAX_EXAMPLES), "--seed", "20261127", "--workers", "1",
         "--generation-database", "none", "--request-timeout", "60", "--no-color"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540, check=False)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
    assert " failed" not in run.stdout
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert "Traceback" not in server.log_text()
    # JSON numbers that parse to infinity, which no generated body (json.dumps) can carry.
    for route in ("/v1/events", "/v1/evaluate"):
        for member in ('"location": {"lat": 1e400}', '"version": -1e999'):
            body = json.dumps(escort()).replace('"armed": true', f'"armed": true, {member}')
            response = client.post(route, data=body.encode(),
                                   headers={"Authorization": f"Bearer {admin}"})
            assert response.status_code == 422, response.text
    assert client.get("/readyz").status_code == 200
    assert server.rows("PRAGMA integrity_check") == [("ok",)]
