"""A real `mandate-rules serve` process on a free loopback port, and a client for it.

Every request goes to 127.0.0.1 only, with the environment's proxies ignored.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from mandate_rules._resources import demo_timeline

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "rules"
DEMO = demo_timeline()
START_TIMEOUT = 120.0  # generous: the machine is shared with other test runs


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def token() -> str:
    return secrets.token_urlsafe(32)


def tokens_env(specs: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    return {"MANDATE_RULES_TOKENS": json.dumps(list(specs))}


def demo_events() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DEMO.read_text().splitlines() if line.strip()]


class Client:
    """A `requests` session on one server, optionally with a bearer token."""

    def __init__(self, base: str, bearer: str | None = None) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.trust_env = False  # never a proxy: loopback only
        if bearer is not None:
            self.session.headers["Authorization"] = f"Bearer {bearer}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base + path, timeout=60, **kwargs)

    def post(self, path: str, body: Any = None, *, content_type: str = "application/json",
             data: bytes | None = None, **kwargs: Any) -> requests.Response:
        payload = data if data is not None else json.dumps(body).encode()
        headers = {"Content-Type": content_type, **kwargs.pop("headers", {})}
        return self.session.post(self.base + path, data=payload, headers=headers, timeout=60,
                                 **kwargs)

    def events(self, body: Any, **kwargs: Any) -> requests.Response:
        return self.post("/v1/events", body, **kwargs)

    def all_advisories(self, **params: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {**params, "limit": "1000", **({"cursor": cursor} if cursor else {})}
            response = self.get("/v1/advisories", params=query)
            assert response.status_code == 200, response.text
            page = response.json()
            out.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return out


class Server:
    """`mandate-rules serve` in a subprocess; `start()` returns once /readyz says ready."""

    def __init__(self, workdir: Path, *, db: Path | str | None = None,
                 rules: Path | None = RULES_DIR,
                 args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> None:
        self.workdir = workdir
        self.db = db or workdir / "events.db"
        self.rules = rules
        self.args = list(args)
        self.env = dict(env or {})
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "server.log"
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, bearer: str | None = None) -> Client:
        return Client(self.url, bearer)

    def command(self) -> list[str]:
        cmd = [sys.executable, "-c", "from mandate_rules._cli import main; main()", "serve",
               "--db", self._db_without_password(), "--port", str(self.port),
               "--no-access-log", "--tick-interval", "0"]
        if self.rules is not None:
            cmd += ["--rules", str(self.rules)]
        return cmd + self.args

    def _db_without_password(self) -> str:
        """The database as the command line names it: a URL's password goes in PGPASSWORD
        instead, as a deployment would pass it (a command line is visible to `ps`)."""
        if not self.on_postgresql:
            return str(self.db)
        parts = urlsplit(str(self.db))
        if parts.password is None:
            return str(self.db)
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=f"{parts.username}@{host}"))

    def start(self) -> Server:
        """Start (or start again, on the same port and database)."""
        self.port = self.port or free_port()
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
        password = urlsplit(str(self.db)).password if self.on_postgresql else None
        if password is not None:
            env["PGPASSWORD"] = password
        env.update(self.env)
        self.starts += 1
        log = self.log.open("ab")
        log.write(f"\n--- start {self.starts} ---\n".encode())
        log.flush()
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     env=env, cwd=self.workdir)
        log.close()
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        client = self.client()
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited ({self.proc.returncode}):\n"
                                     f"{self.log_text()}")
            try:
                if client.get("/readyz").status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server was not ready in {START_TIMEOUT} s:\n"
                             f"{self.log_text()}")

    def assert_engine_alive(self) -> None:
        """The engine thread survived whatever the test sent: /readyz still answers 200.

        Called before every stop, so no test can leave a server whose engine died behind
        an answer that looked right (issue 10: one request's content stopped the thread)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        response = self.client().get("/readyz")
        assert response.status_code == 200, \
            f"/readyz answered {response.status_code}: {response.text}\n{self.log_text()[-4000:]}"

    def stop(self) -> None:
        """SIGTERM, as an orchestrator would; wait for a graceful shutdown."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.assert_engine_alive()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError("the server did not stop on SIGTERM") from None
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert code in (0, -signal.SIGTERM), self.log_text()
        assert self.log_text().rstrip().endswith(f"Finished server process [{self.proc.pid}]"), \
            self.log_text()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def restart(self) -> Server:
        self.stop()
        return self.start()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    @property
    def on_postgresql(self) -> bool:
        return str(self.db).startswith(("postgresql://", "postgres://"))

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Read the store directly (read-only), as an auditor would; `?` placeholders on
        either backend."""
        if self.on_postgresql:
            import psycopg  # noqa: PLC0415 (only the PostgreSQL runs need it)
            with psycopg.connect(str(self.db), autocommit=True) as pg:
                return [tuple(r) for r in pg.execute(sql.replace("?", "%s"), args)]
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            return [tuple(r) for r in conn.execute(sql, args)]
        finally:
            conn.close()

