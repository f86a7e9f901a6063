"""The adapter test kit: loopback fakes of KoboToolbox, Primero and CommCare (no pytest
needed), their payloads, and the contract test suite `AdapterContract` (needs pytest; imported
only when used). ``python -m mandate_rules.adapters.testing ADAPTER`` runs a fake from the
command line; `MockTransport` answers an `HttpClient` without a socket, for unit tests of an
adapter's logic. See docs/writing-an-adapter.md."""

from typing import TYPE_CHECKING, Any

from ..._adapters.testing import (
    COMMCARE_DOMAIN,
    COMMCARE_KEY,
    COMMCARE_USER,
    DERIVED,
    INFO_SHARE,
    KOBO_ASSET,
    KOBO_TOKEN,
    PRIMERO_FORBIDDEN_USER,
    PRIMERO_PASSWORD,
    PRIMERO_TOKEN,
    PRIMERO_USER,
    FakeCommCare,
    FakeKobo,
    FakePrimero,
    FakeServer,
    MockTransport,
    Reply,
    Seen,
    commcare_case,
    external_fixtures_dir,
    fixture,
    fixture_bytes,
    kobo_submission,
    primero_case,
    primero_webhook,
    pull_all,
    sample_advisory,
)

if TYPE_CHECKING:
    from ..._adapters.testing.contract import AdapterContract

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
        from ..._adapters.testing.contract import AdapterContract  # noqa: PLC0415

        return AdapterContract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
