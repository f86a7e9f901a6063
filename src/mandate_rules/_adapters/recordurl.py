"""A record's web address in its source system: the ``record_url`` setting, a template such as
``{base_url}/v2/cases/{id}``, checked when the settings load and filled in for each record.

The address travels on the event the adapter makes, as the CloudEvents extension attribute
``recordurl`` (`RECORD_URL_ATTRIBUTE`), so the console can link an advisory's record to the
page where people read and correct it.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Mapping
from urllib.parse import quote, urlsplit

from .._content import RECORD_URL_ATTRIBUTE
from .config import Settings
from .errors import AdapterConfigError

__all__ = ["RECORD_URL_ATTRIBUTE", "fill_record_url", "record_url_setting"]


def record_url_setting(settings: Settings, *, default: str | None, names: Collection[str],
                       base_url: str) -> str | None:
    """The ``record_url`` template in `settings` (`default` when absent; None, no link, when
    the adapter knows no address or the setting is ``false``), checked: only placeholders in
    `names`, and an http(s) address with a host once filled in."""
    raw = settings.values.get("record_url")
    if raw is False:
        return None
    template = default if raw is None else settings.text("record_url")
    if template is None:
        return None
    where = f"{settings.where}: record_url"
    expected = ", ".join("{" + n + "}" for n in sorted(names))
    formatter = string.Formatter()
    try:
        parts = list(formatter.parse(template))
    except ValueError as exc:
        raise AdapterConfigError(f"{where}: expected a template such as {{base_url}}/records/"
                                 f"{{id}} (a literal brace is written twice), got {template!r}: "
                                 f"{exc}") from None
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in names or spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "") + \
                    (f":{spec}" if spec else "") + "}"
            raise AdapterConfigError(f"{where}: unknown placeholder {shown}; expected some of "
                                     f"{expected}, got {template!r}")
    sample = fill_record_url(template, {n: "x" for n in names} | {"base_url": base_url})
    parts_of = urlsplit(sample)
    if parts_of.scheme not in ("http", "https") or not parts_of.hostname:
        raise AdapterConfigError(f"{where}: expected an http(s) address with a host, such as "
                                 f"https://records.example.org/{{id}}, got {template!r}")
    return template


def fill_record_url(template: str, values: Mapping[str, str]) -> str:
    """`template` with each placeholder replaced by its value, percent-encoded (a record id
    holding ``/``, ``?`` or ``#`` cannot change the address's path); ``{base_url}`` is put in
    as it stands, without a trailing slash. Never raises for a value: one that is no Unicode
    text (a lone surrogate) is encoded with replacement marks, and its record is refused for
    its id anyway."""
    return template.format_map({name: value.rstrip("/") if name == "base_url"
                                else quote(value, safe="", errors="replace")
                                for name, value in values.items()})
