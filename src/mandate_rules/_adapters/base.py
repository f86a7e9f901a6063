"""`SourceAdapter`: what an adapter of an HTTP source system holds in common with every other.

The settings every such connection has (`SourceSettings`: address, stable identity, mapping,
page size, ``since``, overlap, push secret, timeouts and retries) are read and checked once,
here; so are the source, the push secret, closing the connection, mapping records, retrying a
rejected record and the write-back guard (an advisory about another source, or one that names
no record, is refused before any request). A subclass supplies what truly differs between
sources: its own settings and auth header (`auth`, `from_settings`), the source it names
by default (`default_source`), where its records can be seen on the web (`default_record_url`,
`record_url_names`, `record_url_values`), its cursor algorithm
(`pull`, `rewind`), reading a push (`parse`) and the write-back call (`write`).
"""

from __future__ import annotations

import abc
import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

import attrs
from requests.auth import AuthBase

from .._models import Advisory
from .config import Settings
from .contract import Adapter, Batch, WriteResult
from .errors import AdapterConfigError, AdapterError
from .http import HttpClient, Transport
from .mapping import FieldMapping
from .mappingload import load_mapping
from .recordurl import fill_record_url, record_url_setting

__all__ = ["DEFAULT_OVERLAP_SECONDS", "SourceAdapter", "SourceSettings", "parse_source_time"]

#: How far back each run re-reads (seconds), unless ``overlap_seconds`` says otherwise: a
#: record that becomes readable later than this after a newer one was read is missed. Generous
#: on purpose: the records re-read cost a request, and come out as unchanged.
DEFAULT_OVERLAP_SECONDS = 3600.0

_URI_RE = re.compile(r"[a-z][a-z0-9+.-]*://\S+")


def parse_source_time(text: str) -> dt.datetime:
    """An ISO 8601 time as an aware UTC datetime: ``Z``, an offset, or none (taken as UTC,
    as KoboToolbox writes ``_submission_time``); a date alone is its midnight. `ValueError`
    when it is not one."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


@attrs.frozen
class SourceSettings:
    """The settings every HTTP source adapter reads, checked, each error naming its key:

    ``base_url``; ``source`` (optional: the connection's stable identity, a URI);
    ``mapping`` (optional: default the adapter's bundled one); ``page_size``; ``since``
    (optional: ISO 8601 with ``Z``, an offset, or a date); ``overlap_seconds``;
    ``push_secret_env``; ``timeout: {connect, read}``; ``retry: {attempts, backoff,
    max_backoff, max_retry_after}``; ``record_url`` (optional: the template of a record's web
    address, checked against the adapter's placeholders; ``false`` for no link).
    """

    where: str
    base_url: str
    source: str | None
    mapping: FieldMapping = attrs.field(repr=False)
    page_size: int
    since: dt.datetime | None
    overlap: float
    push_secret: str | None = attrs.field(repr=False)
    timeout: tuple[float, float]
    retries: int
    backoff: float
    max_backoff: float
    max_retry_after: float
    record_url: str | None = None

    @classmethod
    def read(cls, settings: Settings, env: Mapping[str, str], *, bundled_mapping: Path,
             max_page_size: int = 1000, default_record_url: str | None = None,
             record_url_names: Collection[str] = ("base_url", "id")) -> SourceSettings:
        """The common settings in `settings`, credentials from `env`; ``record_url`` may use
        the placeholders `record_url_names`, and is `default_record_url` when not given."""
        timeout = settings.section("timeout")
        retry = settings.section("retry")
        base_url = _base_url_setting(settings)
        return cls(
            where=settings.where, base_url=base_url,
            source=_source_setting(settings),
            mapping=load_mapping(settings.path("mapping") or bundled_mapping),
            page_size=settings.integer("page_size", 100, high=max_page_size),
            since=_since_setting(settings),
            overlap=settings.number("overlap_seconds", DEFAULT_OVERLAP_SECONDS),
            push_secret=settings.secret("push_secret_env", env, required=False),
            timeout=(timeout.number("connect", 5.0), timeout.number("read", 30.0)),
            retries=retry.integer("attempts", 4, low=0, high=20),
            backoff=retry.number("backoff", 0.5), max_backoff=retry.number("max_backoff", 30.0),
            max_retry_after=retry.number("max_retry_after", 120.0),
            record_url=record_url_setting(settings, default=default_record_url,
                                          names=record_url_names, base_url=base_url))

    def client(self, auth: AuthBase | None, *, transport: Transport | None = None) -> HttpClient:
        """The HTTP client these settings describe, sending with `auth`."""
        return HttpClient(self.base_url, auth=auth, timeout=self.timeout, retries=self.retries,
                          backoff=self.backoff, max_backoff=self.max_backoff,
                          max_retry_after=self.max_retry_after, transport=transport)


def _base_url_setting(settings: Settings) -> str:
    value = settings.text("base_url")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AdapterConfigError(f"{settings.where}: base_url: expected the source's http(s) "
                                 f"address, such as https://kf.kobotoolbox.org, got {value!r}")
    return value


def _source_setting(settings: Settings) -> str | None:
    value = settings.optional_text("source")
    if value is not None and not _URI_RE.fullmatch(value):
        raise AdapterConfigError(f"{settings.where}: source: expected a URI (scheme://name/"
                                 f"path, e.g. kobotoolbox://kobo-somalia/assets/aBc123), got "
                                 f"{value!r}")
    return value


def _since_setting(settings: Settings) -> dt.datetime | None:
    text = settings.optional_text("since")
    if text is None:
        return None
    try:
        return parse_source_time(text)
    except ValueError:
        raise AdapterConfigError(
            f"{settings.where}: since: expected an ISO 8601 time such as "
            f"2026-01-01T00:00:00Z (or with an offset, or a date), got {text!r}") from None


class SourceAdapter(Adapter):
    """An adapter of one HTTP source system, with the common settings in `settings`, the
    connection in `http` and the mapping in `mapping`. See the module docstring for what a
    subclass writes."""

    #: The adapter's field mapping when the settings name none.
    bundled_mapping: ClassVar[Path]
    #: The largest ``page_size`` the source serves.
    max_page_size: ClassVar[int] = 1000
    #: What the source calls the record an advisory is written on, for messages.
    record_noun: ClassVar[str] = "record"
    #: The template of a record's web address when the settings give no ``record_url``
    #: (None: the source's addresses are not known, so no link).
    default_record_url: ClassVar[str | None] = None
    #: The placeholders a ``record_url`` may use; `record_url_values` gives each a value.
    record_url_names: ClassVar[tuple[str, ...]] = ("base_url", "id")

    def __init__(self, settings: SourceSettings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http
        self.mapping = settings.mapping
        self.page_size = settings.page_size
        self.overlap = settings.overlap

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, base_dir: Path,
                    env: Mapping[str, str], transport: Transport | None = None) -> Self:
        """Build the adapter from its settings; `transport` (tests) answers its requests
        instead of the network (see `HttpClient`)."""
        settings = Settings(config, where=f"{cls.name} settings", base_dir=base_dir)
        common = SourceSettings.read(settings, env, bundled_mapping=cls.bundled_mapping,
                                     max_page_size=cls.max_page_size,
                                     default_record_url=cls.default_record_url,
                                     record_url_names=cls.record_url_names)
        return cls.from_settings(settings, common,
                                 common.client(cls.auth(settings, env), transport=transport))

    @classmethod
    @abc.abstractmethod
    def auth(cls, settings: Settings, env: Mapping[str, str]) -> AuthBase | None:
        """How requests to the source authenticate, from the settings' credentials."""

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, settings: Settings, common: SourceSettings, http: HttpClient) -> Self:
        """The adapter, reading its own settings from `settings` (the common ones are read)."""

    @property
    def host(self) -> str:
        """The source's host (and port), for `default_source`."""
        return urlsplit(self.http.base_url).netloc

    @abc.abstractmethod
    def default_source(self) -> str:
        """The `source` when the settings give none, made from the address (`host`) and what
        the connection reads (a form, a record type, a case type)."""

    @property
    def source(self) -> str:
        return self.settings.source or self.default_source()

    @property
    def push_secret(self) -> str | None:
        return self.settings.push_secret

    def close(self) -> None:
        self.http.close()

    def record_url_values(self, record_id: str) -> dict[str, str]:
        """The value of each of `record_url_names` for record `record_id`: ``base_url`` and
        ``id`` here; a subclass adds its own (a form, a record type, a project space)."""
        return {"base_url": self.http.base_url, "id": record_id}

    def record_url(self, record_id: str) -> str | None:
        """Record `record_id`'s web address in the source, or None when it is not known."""
        template = self.settings.record_url
        return None if template is None else fill_record_url(template,
                                                             self.record_url_values(record_id))

    def map_records(self, records: Iterable[Mapping[str, Any]]) -> Batch:
        """Source records as a batch of events (each with its record's web address, when
        known), rejected and ignored records."""
        return self.mapping.map_batch(list(records), source=self.source, system=self.name,
                                      record_url=self.record_url)

    def remap(self, record: Mapping[str, Any]) -> Batch:
        return self.map_records([record])

    def write_back(self, advisory: Advisory) -> WriteResult:
        if advisory.source != self.source:
            raise AdapterError(f"advisory {advisory.id} is about {advisory.source}, not "
                               f"{self.source}")
        if not advisory.subject:
            raise AdapterError(f"advisory {advisory.id} names no {self.record_noun} (subject)")
        return self.write(advisory, advisory.subject)

    @abc.abstractmethod
    def write(self, advisory: Advisory, record_id: str) -> WriteResult:
        """Put `advisory` on record `record_id` of this source, once (see
        `write_unless_there`)."""
