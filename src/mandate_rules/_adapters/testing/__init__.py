"""The adapter test kit: loopback fakes of the source systems, the payloads they serve, and
the contract test suite any adapter runs against itself.

Everything here but `AdapterContract` needs only the standard library and the package's own
dependencies, so an installation without pytest can run a fake (``python -m
mandate_rules.adapters.testing kobotoolbox``) and point ``mandate-rules sync`` at it.
`AdapterContract` (pytest fixtures and tests) is imported, and pytest with it, only when
asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .fake_commcare import COMMCARE_DOMAIN, COMMCARE_KEY, COMMCARE_USER, FakeCommCare
from .fake_kobo import KOBO_ASSET, KOBO_TOKEN, FakeKobo
from .fake_primero import (
    PRIMERO_FORBIDDEN_USER,
    PRIMERO_PASSWORD,
    PRIMERO_TOKEN,
    PRIMERO_USER,
    FakePrimero,
)
from .mock import MockTransport
from .payloads import (
    DERIVED,
    INFO_SHARE,
    commcare_case,
    external_fixtures_dir,
    fixture,
    fixture_bytes,
    kobo_submission,
    primero_case,
    primero_webhook,
)
from .server import FakeServer, Reply, Seen
from .support import pull_all, sample_advisory

if TYPE_CHECKING:
    from .contract import AdapterContract

__all__ = [
    "COMMCARE_DOMAIN",
    "COMMCARE_KEY",
    "COMMCARE_USER",
    "DERIVED",
    "INFO_SHARE",
    "KOBO_ASSET",
    "KOBO_TOKEN",
    "PRIMERO_FORBIDDEN_USER",
    "PRIMERO_PASSWORD",
    "PRIMERO_TOKEN",
    "PRIMERO_USER",
    "AdapterContract",
    "FakeCommCare",
    "FakeKobo",
    "FakePrimero",
    "FakeServer",
    "MockTransport",
    "Reply",
    "Seen",
    "commcare_case",
    "external_fixtures_dir",
    "fixture",
    "fixture_bytes",
    "kobo_submission",
    "primero_case",
    "primero_webhook",
    "pull_all",
    "sample_advisory",
]


def __getattr__(name: str) -> Any:
    # The contract suite is made of pytest fixtures: import pytest only for it.
    if name == "AdapterContract":
        from .contract import AdapterContract  # noqa: PLC0415

        return AdapterContract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
