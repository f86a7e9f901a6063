"""The adapter contract and the machinery every adapter shares.

An adapter (a subclass of `Adapter`, registered under the entry-point group
``mandate_rules.adapters``) turns a source system's records into `Event`s by a declarative
`FieldMapping`, and writes `Advisory`s back; `SourceAdapter` (base) holds what every adapter
of an HTTP source shares. Around it: `HttpClient` (timeouts, retries, the loopback guard),
`AdapterStore` in `syncstate` (cursors, seen and rejected records), `sync` (the incremental
pull) and `Outbox` (write-back retried until it succeeds, never twice).
"""

from .base import DEFAULT_OVERLAP_SECONDS, SourceAdapter, SourceSettings, parse_source_time
from .config import Settings, load_settings
from .contract import (
    Adapter,
    Batch,
    Ignored,
    Pulled,
    Rejected,
    WriteResult,
    advisory_marker,
    advisory_text,
)
from .errors import (
    AdapterConfigError,
    AdapterError,
    EgressRefusedError,
    MappingError,
    PayloadError,
    RegistryError,
    SourceAuthError,
    SourceError,
    SourceRejectedError,
    SourceUnavailableError,
)
from .http import (
    LOOPBACK_ENV,
    BasicAuth,
    HeaderAuth,
    HttpClient,
    Transport,
    is_loopback_host,
    loopback_only,
    write_unless_there,
)
from .mapping import FieldMapping, get_source
from .mappingload import load_mapping
from .outbox import Outbox, OutboxReport, OutboxRow
from .registry import ENTRY_POINT_GROUP, AdapterEntry, available_adapters, load_adapter_class
from .sync import SyncProgress, SyncReport, sync
from .syncstate import AdapterStore, Admitted, event_fingerprint

__all__ = [
    "DEFAULT_OVERLAP_SECONDS",
    "ENTRY_POINT_GROUP",
    "LOOPBACK_ENV",
    "Adapter",
    "AdapterConfigError",
    "AdapterEntry",
    "AdapterError",
    "AdapterStore",
    "Admitted",
    "BasicAuth",
    "Batch",
    "EgressRefusedError",
    "FieldMapping",
    "HeaderAuth",
    "HttpClient",
    "Ignored",
    "MappingError",
    "Outbox",
    "OutboxReport",
    "OutboxRow",
    "PayloadError",
    "Pulled",
    "RegistryError",
    "Rejected",
    "Settings",
    "SourceAdapter",
    "SourceAuthError",
    "SourceError",
    "SourceRejectedError",
    "SourceSettings",
    "SourceUnavailableError",
    "SyncProgress",
    "SyncReport",
    "Transport",
    "WriteResult",
    "advisory_marker",
    "advisory_text",
    "available_adapters",
    "event_fingerprint",
    "get_source",
    "is_loopback_host",
    "load_adapter_class",
    "load_mapping",
    "load_settings",
    "loopback_only",
    "parse_source_time",
    "sync",
    "write_unless_there",
]
