"""The adapters' exceptions: one base class, one subclass per thing that can go wrong.

Exceptions of `requests`, `sqlite3`, `importlib.metadata` or an adapter's own libraries never
leave an adapter: they are translated here, at the boundary, with ``raise ... from exc`` so the
cause stays in the traceback. No message carries a credential: messages name the URL path,
the status and what the source said, never a header.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import MandateRulesError
from .._problems import Problem

__all__ = [
    "AdapterConfigError",
    "AdapterError",
    "EgressRefusedError",
    "MappingError",
    "PayloadError",
    "RegistryError",
    "SourceAuthError",
    "SourceError",
    "SourceRejectedError",
    "SourceUnavailableError",
]


class AdapterError(MandateRulesError):
    """Base class of every error an adapter raises on purpose."""


class AdapterConfigError(AdapterError):
    """A deployment's adapter configuration is wrong: a key missing, a value of the wrong kind,
    or an environment variable that should hold a credential is not set."""


class RegistryError(AdapterError):
    """No adapter of that name is installed, two distributions register the same name, or an
    entry point does not load an adapter class."""


class MappingError(AdapterError):
    """A field-mapping file is wrong. `problems` lists every problem, each with file and line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        shown = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the field mapping:\n{shown}")


class PayloadError(AdapterError, ValueError):
    """A pushed payload is not something the adapter understands (not JSON, not a record)."""


class EgressRefusedError(AdapterError):
    """The loopback guard is on and a request was about to leave this machine."""


class SourceError(AdapterError):
    """The source system failed or refused a request.

    `status` is the HTTP status (None when no response came), `retryable` says whether the
    same request may succeed later (the outbox and the sync retry those), `retry_after` the
    seconds the source asked us to wait, when it said.
    """

    retryable = False

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class SourceAuthError(SourceError):
    """401 or 403: the credential is wrong, expired, or lacks a permission."""


class SourceRejectedError(SourceError):
    """Another 4xx, such as 404 or 422: the source refused this request as it stands."""


class SourceUnavailableError(SourceError):
    """No usable answer: connection refused or reset, a timeout, or 429/5xx after the retries."""

    retryable = True
