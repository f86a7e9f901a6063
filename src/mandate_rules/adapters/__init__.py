"""The public face of the adapter contract: what an adapter (bundled or third-party) imports.

An adapter subclasses `Adapter`, turns a source's records into `Event`s with a `FieldMapping`
and writes `Advisory`s back, talks to its source through `HttpClient`, translates foreign
failures into the errors below (``raise … from exc``), and registers itself under the
entry-point group ``mandate_rules.adapters`` (`ENTRY_POINT_GROUP`). Importing this package
loads neither the engine nor durable_rules, the sidecar or pytest.
`mandate_rules.adapters.testing` (imported on its own, never by this module) is the test kit:
loopback fakes of the sources and the contract test suite any adapter can run against itself.
See docs/writing-an-adapter.md.
"""

from .._adapters import (
    DEFAULT_OVERLAP_SECONDS,
    ENTRY_POINT_GROUP,
    LOOPBACK_ENV,
    Adapter,
    AdapterConfigError,
    AdapterEntry,
    AdapterError,
    BasicAuth,
    Batch,
    EgressRefusedError,
    FieldMapping,
    HeaderAuth,
    HttpClient,
    Ignored,
    MappingError,
    PayloadError,
    Pulled,
    RegistryError,
    Rejected,
    Settings,
    SourceAdapter,
    SourceAuthError,
    SourceError,
    SourceRejectedError,
    SourceSettings,
    SourceUnavailableError,
    Transport,
    WriteResult,
    advisory_marker,
    advisory_text,
    available_adapters,
    get_source,
    is_loopback_host,
    load_adapter_class,
    load_mapping,
    parse_source_time,
    write_unless_there,
)
from .._models import Advisory, Event

__all__ = [
    "DEFAULT_OVERLAP_SECONDS",
    "ENTRY_POINT_GROUP",
    "LOOPBACK_ENV",
    "Adapter",
    "AdapterConfigError",
    "AdapterEntry",
    "AdapterError",
    "Advisory",
    "BasicAuth",
    "Batch",
    "EgressRefusedError",
    "Event",
    "FieldMapping",
    "HeaderAuth",
    "HttpClient",
    "Ignored",
    "MappingError",
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
    "Transport",
    "WriteResult",
    "advisory_marker",
    "advisory_text",
    "available_adapters",
    "get_source",
    "is_loopback_host",
    "load_adapter_class",
    "load_mapping",
    "parse_source_time",
    "write_unless_there",
]
