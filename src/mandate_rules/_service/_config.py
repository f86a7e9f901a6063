"""The sidecar's settings: command-line flags over a config file over the environment.

A config file is TOML (``.toml``) or YAML (``.yaml``, ``.yml``) with flat keys::

    rules = "rules"                 # relative paths are read from the file's folder
    db = "/var/lib/mandate-rules/events.db"   # or postgresql://USER@HOST:PORT/DB (replicas)
    port = 8765
    tick_interval = 60
    snapshot_every = 50000          # events stored between snapshots of a tenant's state
    retain_days = 365               # delete events and decisions older, once a snapshot covers them
    max_header_bytes = 65536        # a request's line and headers (431 past it)
    header_timeout = 10             # seconds for a request's headers to arrive (then 408)
    body_timeout = 60               # seconds for its body, from the end of its headers
    max_connections = 1000          # open connections; one more is answered 503 and closed
    password_env = "MR_DB_PASSWORD" # PostgreSQL: the variable holding the password (or PGPASSWORD)
    lease_seconds = 6               # PostgreSQL: a dead replica's operations move after this
    advertise_url = "http://10.0.0.5:8765"  # PostgreSQL: where the other replicas reach this one

    [[tokens]]
    tenant = "ngo-horn-relief"
    roles = ["submit", "read"]
    token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

A token is given as its SHA-256 (``token_sha256``, so the file holds no secret) or, from
the environment variable ``MANDATE_RULES_TOKENS`` (a JSON list of the same objects), as
``token`` itself. Without any token, auth is off: one tenant, every role, loopback only.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from .._database import DatabaseError, Target, parse_target
from .._errors import MandateRulesError

# A tenant's token acts for that tenant only; an operator's token (no tenant) acts on what all
# tenants share: every tenant's counters, and the rule packs they all run.
TENANT_ROLES = ("submit", "read", "admin")
OPERATOR_ROLES = ("metrics", "reload")
ROLES = (*TENANT_ROLES, *OPERATOR_ROLES)
DEFAULT_TENANT = "default"
TOKENS_ENV = "MANDATE_RULES_TOKENS"
MIN_TOKEN_LENGTH = 16

_TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_PATH_KEYS = ("rules", "contexts", "shadow", "db")
_KEYS = (*_PATH_KEYS, "host", "port", "max_body_bytes", "max_batch", "tick_interval",
         "queue_limit", "snapshot_every", "max_header_bytes", "header_timeout", "body_timeout",
         "max_connections", "tokens", "password_env", "lease_seconds", "advertise_url",
         "retain_days")
# `db` names a file or a URL (``postgresql://…``), which must not be read as a relative path.
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_TOKEN_KEYS = ("tenant", "role", "roles", "token", "token_sha256")


class ConfigError(MandateRulesError):
    """Raised by `serve` before it listens when the settings (flags, config file, tokens in
    the environment) cannot be used; `problems` says every reason at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@attrs.frozen
class TokenSpec:
    """A bearer token, known only by its SHA-256, and what it may do for which tenant.

    `tenant` None: an operator's token, holding only operator roles.
    """

    tenant: str | None
    roles: frozenset[str]
    digest: str


def _target(value: Target | Path | str) -> Target:
    if isinstance(value, Target):
        return value
    return Target(path=value) if isinstance(value, Path) else parse_target(value)


@attrs.frozen
class ServiceConfig:
    """Everything `serve` needs. `rules_dir` None means the packs shipped with mandate-rules."""

    db: Target = attrs.field(default=Target(path=Path("mandate-rules.db")),
                             converter=_target)
    rules_dir: Path | None = None
    contexts_dir: Path | None = None
    shadow_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8765
    tokens: tuple[TokenSpec, ...] = ()
    max_body_bytes: int = 1024 * 1024
    max_batch: int = 1000
    tick_interval: float = 60.0
    queue_limit: int = 10_000
    # A tenant's state is written as a snapshot after this many stored events (and when the
    # server stops), so a restart replays only what came after; 0: only when it stops.
    snapshot_every: int = 50_000
    # Retention (_retention.py): events and decisions older than this many days that a
    # snapshot covers are deleted, advisories and their evidence kept; 0: keep everything.
    retain_days: int = 0
    # The edges of every connection (see _protocol.py): a request's head in bytes, the seconds
    # its head and then its body may take to arrive, and the connections open at once.
    max_header_bytes: int = 64 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    max_connections: int = 1000
    # Replicas on PostgreSQL (see _leases.py): how long an operation's lease lasts unrenewed
    # (a dead replica's operations move to another after it), and the URL the other
    # replicas forward this one's operations to (None: http://host:port).
    lease_seconds: float = 6.0
    advertise_url: str | None = None

    @property
    def db_path(self) -> Path | None:
        """The SQLite file (None on PostgreSQL)."""
        return self.db.path

    @property
    def replica_url(self) -> str:
        """Where the other replicas reach this one."""
        if self.advertise_url is not None:
            return self.advertise_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def auth_enabled(self) -> bool:
        return bool(self.tokens)

    @property
    def tenants(self) -> tuple[str, ...]:
        if not self.tokens:
            return (DEFAULT_TENANT,)
        return tuple(sorted({t.tenant for t in self.tokens if t.tenant is not None}))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_config(file: Path | None, env: Mapping[str, str],
                overrides: Mapping[str, Any]) -> ServiceConfig:
    """Settings from `file`, then the environment's tokens, then `overrides` (flags, not None).

    Raises `ConfigError` naming every problem.
    """
    problems: list[str] = []
    values: dict[str, Any] = {}
    if file is not None:
        values.update(_read_file(file, problems))
    raw_tokens: list[tuple[str, Any]] = []
    if isinstance(values.get("tokens"), list):
        raw_tokens.extend((f"{file}: tokens[{i}]", t) for i, t in enumerate(values["tokens"]))
    elif "tokens" in values:
        problems.append(f"{file}: tokens: expected a list of tables")
    if env.get(TOKENS_ENV):
        try:
            from_env = json.loads(env[TOKENS_ENV])
        except json.JSONDecodeError as exc:
            problems.append(f"{TOKENS_ENV}: not valid JSON ({exc.msg})")
            from_env = []
        if not isinstance(from_env, list):
            problems.append(f"{TOKENS_ENV}: expected a JSON list of objects")
            from_env = []
        raw_tokens.extend((f"{TOKENS_ENV}[{i}]", t) for i, t in enumerate(from_env))
    values.update({k: v for k, v in overrides.items() if v is not None})
    tokens = _tokens(raw_tokens, problems)
    if tokens and all(t.tenant is None for t in tokens):
        problems.append("tokens: only operators' tokens (without a tenant) are configured; "
                        "events are taken only with a tenant's token, so configure one")
    config = ServiceConfig()
    kwargs: dict[str, Any] = {"tokens": tokens}
    for key, field, convert in (
        ("rules", "rules_dir", Path), ("contexts", "contexts_dir", Path),
        ("shadow", "shadow_dir", Path), ("host", "host", str),
    ):
        if key in values:
            if not isinstance(values[key], (str, Path)) or not str(values[key]):
                problems.append(f"{key}: expected a non-empty text, got {values[key]!r}")
            else:
                kwargs[field] = convert(values[key])
    for key, low, high in (("port", 0, 65535), ("max_body_bytes", 1024, 1 << 30),
                           ("max_batch", 1, 100_000), ("queue_limit", 1, 10_000_000),
                           ("snapshot_every", 0, 1 << 40),
                           ("max_header_bytes", 1024, 16 << 20),
                           ("max_connections", 1, 1_000_000), ("retain_days", 0, 36_500)):
        if key in values:
            value = values[key]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                problems.append(f"{key}: expected a whole number from {low} to {high}, "
                                f"got {value!r}")
            else:
                kwargs[key] = value
    if "tick_interval" in values:
        value = values["tick_interval"]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            problems.append(f"tick_interval: expected seconds (0 turns ticks off), got {value!r}")
        else:
            kwargs["tick_interval"] = float(value)
    for key in ("header_timeout", "body_timeout"):
        if key in values:
            value = values[key]
            if (not isinstance(value, (int, float)) or isinstance(value, bool)
                    or not 0 < value <= 3600):
                problems.append(f"{key}: expected seconds, more than 0 and at most 3600, "
                                f"got {value!r}")
            else:
                kwargs[key] = float(value)
    origin = "--db" if overrides.get("db") is not None else f"{file}: db" if file else "db"
    _database_settings(values, env, kwargs, problems, origin)
    config = attrs.evolve(config, **kwargs)
    if not config.auth_enabled and not is_loopback(config.host):
        problems.append(f"host: auth is off (no tokens are configured), so the server listens "
                        f"on loopback only; configure tokens to listen on {config.host!r}")
    if problems:
        raise ConfigError(problems)
    return config


def _read_file(file: Path, problems: list[str]) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(f"{file}: cannot read it ({exc.strerror})")
        return {}
    data: Any
    try:
        if file.suffix == ".toml":
            data = tomllib.loads(text)
        elif file.suffix in (".yaml", ".yml"):
            data = YAML(typ="safe").load(text) or {}
        else:
            problems.append(f"{file}: expected a .toml, .yaml or .yml file")
            return {}
    except (tomllib.TOMLDecodeError, YAMLError) as exc:
        problems.append(f"{file}: cannot parse it: {exc}")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{file}: expected a table of settings at the top")
        return {}
    for key in data:
        if key not in _KEYS:
            close = difflib.get_close_matches(str(key), _KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{file}: unknown setting {key!r}{hint}")
    for key in _PATH_KEYS:
        if isinstance(data.get(key), str) and not _is_url(data[key]):
            data[key] = str(file.parent / Path(data[key]).expanduser())
    return {k: v for k, v in data.items() if k in _KEYS}


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and bool(_URL_RE.match(value))


def _database_settings(values: Mapping[str, Any], environ: Mapping[str, str],
                       kwargs: dict[str, Any], problems: list[str], origin: str) -> None:
    """`db` (a SQLite file or a postgresql:// URL), its `password_env`, and the replicas'
    `lease_seconds` and `advertise_url`."""
    password_env = values.get("password_env")
    if password_env is not None and (not isinstance(password_env, str) or not password_env):
        problems.append(f"password_env: expected the name of an environment variable, got "
                        f"{password_env!r}")
        password_env = None
    db = values.get("db")
    if db is not None and (not isinstance(db, (str, Path)) or not str(db)):
        problems.append(f"{origin}: expected a file path or a postgresql:// URL, got {db!r}")
    elif db is not None or password_env is not None:
        try:
            kwargs["db"] = parse_target(str(db if db is not None else "mandate-rules.db"),
                                        password_env=password_env, environ=environ)
        except DatabaseError as exc:
            problems.append(f"{origin}: {exc}")
    if "lease_seconds" in values:
        value = values["lease_seconds"]
        if not isinstance(value, (int, float)) or isinstance(value, bool) \
                or not 2 <= value <= 600:
            problems.append(f"lease_seconds: expected seconds from 2 to 600, got {value!r}")
        else:
            kwargs["lease_seconds"] = float(value)
    url = values.get("advertise_url")
    if url is not None:
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+/?$", url):
            problems.append(f"advertise_url: expected http://HOST:PORT (where the other "
                            f"replicas reach this one), got {url!r}")
        else:
            kwargs["advertise_url"] = url


def _tokens(raw: list[tuple[str, Any]], problems: list[str]) -> tuple[TokenSpec, ...]:
    out: list[TokenSpec] = []
    seen: set[str] = set()
    for where, item in raw:
        if not isinstance(item, Mapping):
            problems.append(f"{where}: expected a table with tenant, roles and token_sha256")
            continue
        unknown = [k for k in item if k not in _TOKEN_KEYS]
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                            f"known: {', '.join(_TOKEN_KEYS)}")
        tenant = item.get("tenant")
        if tenant is not None and (not isinstance(tenant, str) or not _TENANT_RE.match(tenant)):
            problems.append(f"{where}.tenant: expected a name of letters, digits, '.', '_' "
                            f"or '-' (at most 64), got {tenant!r}")
            continue
        roles_raw = item.get("roles", [item["role"]] if "role" in item else None)
        if (not isinstance(roles_raw, list) or not roles_raw
                or any(r not in ROLES for r in roles_raw)):
            problems.append(f"{where}.roles: expected one or more of {', '.join(ROLES)}, "
                            f"got {roles_raw!r}")
            continue
        misplaced = [r for r in roles_raw
                     if r not in (OPERATOR_ROLES if tenant is None else TENANT_ROLES)]
        if misplaced and tenant is None:
            problems.append(f"{where}.roles: a token without a tenant is an operator's and "
                            f"holds only {', '.join(OPERATOR_ROLES)}; give a tenant to a token "
                            f"with {', '.join(map(repr, misplaced))}")
            continue
        if misplaced:
            problems.append(f"{where}.roles: {', '.join(map(repr, misplaced))} act(s) for "
                            f"every tenant, so only an operator's token (one without a "
                            f"tenant) may hold them; tenant {tenant!r} may hold "
                            f"{', '.join(TENANT_ROLES)}")
            continue
        token, digest = item.get("token"), item.get("token_sha256")
        if (token is None) == (digest is None):
            problems.append(f"{where}: give exactly one of token and token_sha256")
            continue
        if token is not None:
            if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH:
                problems.append(f"{where}.token: expected a text of at least "
                                f"{MIN_TOKEN_LENGTH} characters")
                continue
            digest = token_digest(token)
        elif not isinstance(digest, str) or not _SHA256_RE.match(digest):
            problems.append(f"{where}.token_sha256: expected 64 lowercase hex digits")
            continue
        if digest in seen:
            problems.append(f"{where}: the same token is configured twice")
            continue
        seen.add(digest)
        out.append(TokenSpec(tenant=tenant, roles=frozenset(roles_raw), digest=digest))
    return tuple(out)
