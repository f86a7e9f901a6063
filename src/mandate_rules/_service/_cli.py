"""`mandate-rules serve`: the HTTP sidecar, one uvicorn process on the embedded SQLite store."""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import sys
from pathlib import Path

import click

from .._errors import RulePackError
from ._config import TOKENS_ENV, ConfigError, ServiceConfig, load_config
from ._dbfile import StoreError
from ._dblock import DatabaseInUse, hold_database

EXIT_BAD_SETUP = 2
# Descriptors kept for what is not a client connection: the listening socket, the database
# and its journal, logs, the event loop's own, the thread pool's.
_SPARE_DESCRIPTORS = 64

_dir = click.Path(file_okay=False, path_type=Path)


@click.command()
@click.option("--rules", "rules_dir", type=_dir, default=None,
              help="Directory of rule packs (default: the packs shipped with mandate-rules).")
@click.option("--contexts", "contexts_dir", type=_dir, default=None,
              help="Directory of context profiles (default: RULES/contexts).")
@click.option("--shadow", "shadow_dir", type=_dir, default=None,
              help="Candidate rule packs evaluated beside the live ones; see /v1/shadow/diff.")
# Text, not a Path: a Path would fold "postgresql://h/db" into "postgresql:/h/db", and the
# URL could no longer be told from a file name.
@click.option("--db", "db", default=None, metavar="FILE|URL",
              help="SQLite file (created if missing), or postgresql://USER@HOST:PORT/DB for "
                   "several replicas on one database (password from PGPASSWORD or "
                   "password_env)  [default: ./mandate-rules.db]")
@click.option("--host", default=None, help="Address to listen on  [default: 127.0.0.1]")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port to listen on  [default: 8765]")
@click.option("--config", "config_file", envvar="MANDATE_RULES_CONFIG",
              type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Settings and tokens, TOML or YAML (env: MANDATE_RULES_CONFIG).")
@click.option("--tick-interval", type=click.FloatRange(min=0), default=None,
              help="Seconds between clock ticks that let deadlines expire; 0: off  "
                   "[default: 60]")
@click.option("--max-body-bytes", type=click.IntRange(1024), default=None,
              help="Largest request body taken  [default: 1048576]")
@click.option("--snapshot-every", type=click.IntRange(0), default=None,
              help="Stored events between snapshots of a tenant's state (a restart replays "
                   "only what came after the last); 0: only when the server stops  "
                   "[default: 50000]")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True)
@click.option("--access-log/--no-access-log", default=True, show_default=True)
def serve(rules_dir: Path | None, contexts_dir: Path | None, shadow_dir: Path | None,
          db: str | None, host: str | None, port: int | None, config_file: Path | None,
          tick_interval: float | None, max_body_bytes: int | None,
          snapshot_every: int | None, log_level: str, access_log: bool) -> None:
    """Serve the HTTP API (/v1), storing events in a SQLite file (one server) or a
    PostgreSQL database (any number of replicas, each operation judged by one of them).

    Tokens come from --config or from the environment variable MANDATE_RULES_TOKENS (a JSON
    list of {"token", "tenant", "roles"}). Without any, auth is off and the server listens
    on loopback only.
    """
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("mandate_rules.service")
    try:
        config = load_config(config_file, os.environ, {
            "rules": rules_dir, "contexts": contexts_dir, "shadow": shadow_dir, "db": db,
            "host": host, "port": port, "tick_interval": tick_interval,
            "max_body_bytes": max_body_bytes, "snapshot_every": snapshot_every})
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"config: {problem}", err=True)
        sys.exit(EXIT_BAD_SETUP)
    try:
        # One server per SQLite file; replicas on PostgreSQL share the database by leases.
        with (hold_database(config.db_path) if config.db_path is not None
              else contextlib.nullcontext()):
            _serve(config, log, log_level, access_log)
    except DatabaseInUse as exc:
        click.echo(f"store: {exc}", err=True)
        sys.exit(EXIT_BAD_SETUP)


def _serve(config: ServiceConfig, log: logging.Logger, log_level: str,
           access_log: bool) -> None:
    # Imported here, not at the top: every other command of the CLI stays as quick to start.
    import uvicorn  # noqa: PLC0415

    from ._app import create_app  # noqa: PLC0415
    from ._bundles import load_bundles  # noqa: PLC0415
    from ._protocol import Limits, guarded_protocol  # noqa: PLC0415

    try:
        bundles = load_bundles(config)
    except RulePackError as exc:
        for rule_problem in exc.problems:
            click.echo(str(rule_problem), err=True)
        click.echo(f"{len(exc.problems)} problem(s): the rule packs were not loaded", err=True)
        sys.exit(EXIT_BAD_SETUP)
    try:
        app = create_app(config, bundles)
    except StoreError as exc:
        click.echo(f"store: {exc}", err=True)
        sys.exit(EXIT_BAD_SETUP)
    if config.auth_enabled:
        log.info("auth is on: %d token(s) for %d tenant(s)", len(config.tokens),
                 len(config.tenants))
    else:
        log.warning("auth is OFF: no tokens configured (--config or %s), so every request "
                    "acts for the single tenant 'default' with every role; listening on "
                    "loopback only (%s)", TOKENS_ENV, config.host)
    log.info("rules %s%s; store %s", bundles.live.version,
             f"; shadow {bundles.shadow.version}" if bundles.shadow else "", config.db.shown)
    limits = Limits(max_header_bytes=config.max_header_bytes,
                    header_timeout=config.header_timeout, body_timeout=config.body_timeout,
                    max_connections=_connections_allowed(config.max_connections, log))
    # ws="none": the API has no WebSocket route, so every offer to switch protocols (h2c from
    # Java's HttpClient) is answered in HTTP/1.1 by the guarded protocol.
    uvicorn.Server(uvicorn.Config(
        app, host=config.host, port=config.port, workers=1, lifespan="on",
        http=guarded_protocol(limits, app.state.count_error), ws="none",
        log_level=log_level, access_log=access_log, server_header=False,
        proxy_headers=False, timeout_graceful_shutdown=30)).run()


def _connections_allowed(wanted: int, log: logging.Logger) -> int:
    """`wanted`, or fewer if the process may not open that many descriptors.

    Past the descriptor limit the server could accept no connection at all, not even the one
    that answers 503, and could not open its database files: the soft limit is raised as far
    as the hard limit allows, and the connections capped below what remains.
    """
    needed = wanted + _SPARE_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    allowed = max(1, soft - _SPARE_DESCRIPTORS)
    log.warning("max_connections is %d, but the process may open only %d files (ulimit -n): "
                "at most %d connections are taken", wanted, soft, allowed)
    return allowed
