"""Bearer tokens: who is calling (the tenant) and what they may do (the roles).

Roles: ``submit`` (post events, record resolutions), ``read`` (advisories, decisions, the
shadow diff), ``admin`` (everything, and reloading rule packs), ``metrics`` (scraping
``/metrics``). Everyone authenticated may read the rules and dry-run an event.
Tokens are compared by their SHA-256, so the server holds no token in memory or on disk.
"""

from __future__ import annotations

import attrs

from ._config import DEFAULT_TENANT, ROLES, ServiceConfig, token_digest
from ._errors import ApiError

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="mandate-rules"'}


@attrs.frozen
class Principal:
    tenant: str
    roles: frozenset[str]

    def require(self, *allowed: str) -> None:
        """Raise `forbidden` unless the principal holds one of `allowed` (admin holds all)."""
        if "admin" in self.roles or any(role in self.roles for role in allowed):
            return
        raise ApiError("forbidden", f"this token's role(s) ({', '.join(sorted(self.roles))}) "
                                    f"do not allow this request; it needs "
                                    f"{' or '.join(allowed)}", "header.authorization")


class Authenticator:
    def __init__(self, config: ServiceConfig) -> None:
        self._by_digest = {t.digest: Principal(t.tenant, t.roles) for t in config.tokens}
        self.enabled = config.auth_enabled
        self._open = Principal(DEFAULT_TENANT, frozenset(ROLES))

    def authenticate(self, header: str | None) -> Principal:
        if not self.enabled:
            return self._open
        if not header:
            raise ApiError("unauthorized", "send 'Authorization: Bearer <token>'",
                           "header.authorization", headers=_CHALLENGE)
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError("unauthorized", "expected 'Authorization: Bearer <token>'",
                           "header.authorization", headers=_CHALLENGE)
        principal = self._by_digest.get(token_digest(token))
        if principal is None:
            raise ApiError("unauthorized", "this token is not configured",
                           "header.authorization", headers=_CHALLENGE)
        return principal
