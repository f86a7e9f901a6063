"""Bearer tokens: who is calling (the tenant) and what they may do (the roles).

A tenant's token holds tenant roles, for that tenant only: ``submit`` (post events, record
resolutions), ``read`` (advisories, decisions, the shadow diff), ``admin`` (both). A token
without a tenant is an operator's and holds operator roles, which act for every tenant at
once: ``metrics`` (scraping ``/metrics``, every tenant's counters) and ``reload`` (the rule
packs all tenants run). Everyone authenticated may read the rules.
Tokens are compared by their SHA-256, so the server holds no token in memory or on disk.
"""

from __future__ import annotations

from types import MappingProxyType

import attrs

from ._config import DEFAULT_TENANT, ROLES, TENANT_ROLES, ServiceConfig, token_digest
from ._errors import ApiError

_CHALLENGE = MappingProxyType({"WWW-Authenticate": 'Bearer realm="mandate-rules"'})


@attrs.frozen
class Principal:
    """Who calls: a tenant (empty for an operator's token) and the roles it holds."""

    tenant: str
    roles: frozenset[str]

    def require(self, *allowed: str) -> None:
        """Raise `forbidden` unless the principal holds one of `allowed` (a tenant's admin
        holds every tenant role, and no operator role)."""
        if any(role in self.roles for role in allowed):
            return
        if "admin" in self.roles and any(role in TENANT_ROLES for role in allowed):
            return
        raise ApiError("forbidden", f"this token's role(s) ({', '.join(sorted(self.roles))}) "
                                    f"do not allow this request; it needs "
                                    f"{' or '.join(allowed)}", "header.authorization")


class Authenticator:
    def __init__(self, config: ServiceConfig) -> None:
        self._by_digest = {t.digest: Principal(t.tenant or "", t.roles) for t in config.tokens}
        self.enabled = config.auth_enabled
        self._open = Principal(DEFAULT_TENANT, frozenset(ROLES))

    def by_digest(self, digest: str) -> Principal | None:
        """Who the token of this digest (`token_digest`) acts as, if it is configured."""
        return self._by_digest.get(digest)

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
