"""The reference of every event field, generated from `event_types.yaml`.

One source, two renderings: Markdown for `docs/event-fields.md` (``mandate-rules fields
--format markdown``; `tests/test_fields.py` regenerates the file and compares) and plain text
for the terminal and the end of ``mandate-rules phrasebook``.
"""

from __future__ import annotations

import textwrap
from types import MappingProxyType

import attrs

from ._conditions import EVENT_ATTRIBUTES
from ._schema import (
    BOOL,
    BOOL_OR_TEXT,
    ENUM,
    INTEGER,
    LIST,
    NUMBER,
    TEXT,
    TIME,
    Kind,
    ObjectList,
    Schema,
    leaf_paths,
    load_schema,
)

__all__ = ["FieldRow", "field_reference_markdown", "field_reference_text", "field_rows"]

SOURCE = "src/mandate_rules/event_types.yaml"
REGENERATE = "mandate-rules fields --format markdown > docs/event-fields.md"

# The CloudEvents attributes rules read as `event.<name>`, and what each holds.
_ENVELOPE = MappingProxyType({
    "id": (True, "the event's id, unique within its source"),
    "source": (True, "the system that sent it"),
    "type": (True, "the event type, one of those below"),
    "time": (True, "when it happened (RFC 3339); windows and deadlines use it"),
    "subject": (False, "the record's id in the source system; stands in for a missing "
                       "`entity_id` in `by: [entity_id]`"),
    "country": (True, "the operation, an ISO 3166-1 alpha-3 code"),
    "area": (False, "the area (p-code) within the operation"),
})
assert tuple(_ENVELOPE) == EVENT_ATTRIBUTES

_KIND_WORDS = MappingProxyType({TEXT: "text", BOOL: "yes/no", NUMBER: "number",
                                INTEGER: "whole number", TIME: "time",
                                BOOL_OR_TEXT: "yes/no or text"})


@attrs.frozen
class FieldRow:
    """One field of one event type (or of the context profile)."""

    path: str
    kind: str
    required: bool
    words: tuple[str, ...]  # the allowed words, when the field takes words


def field_rows(schema: Schema, event_type: str | None) -> list[FieldRow]:
    """Every field of `event_type`'s data (None: of the context profile), in schema order."""
    required: tuple[str, ...] = ()
    if event_type is None:
        tree = schema.context_tree
    else:
        found = schema.types[event_type]
        tree, required = found.tree, found.required
    rows = []
    for path in leaf_paths(tree):
        kind = schema.lookup(tree, path.replace("[]", "")) if "[]" not in path else \
            _item_kind(schema, tree, path)
        if kind is None:
            continue
        name, words = _describe(kind, schema.actors)
        rows.append(FieldRow(path, name, path in required, words))
    return rows


def _item_kind(schema: Schema, tree: object, path: str) -> Kind | ObjectList | None:
    """The kind of `list[].field`: looked up in the list's item fields."""
    head, _, rest = path.partition("[].")
    holder = schema.lookup(tree, head)  # type: ignore[arg-type]
    if not isinstance(holder, ObjectList):
        return None
    if "[]" in rest:
        return _item_kind(schema, holder.fields, rest)
    return schema.lookup(holder.fields, rest)


def _describe(kind: Kind | ObjectList, actors: frozenset[str]) -> tuple[str, tuple[str, ...]]:
    if isinstance(kind, ObjectList):
        return "list of objects", ()
    if kind.name == ENUM:
        if kind.choices == actors:
            return "actor kind", ()
        if kind.choices == actors | {"none"}:
            return "actor kind or none", ()
        return "word", tuple(sorted(kind.choices))
    if kind.name == LIST and kind.item is not None:
        item_name, words = _describe(kind.item, actors)
        plural = {"actor kind": "actor kinds"}.get(item_name, item_name + "s")
        return f"list of {plural}", words
    return _KIND_WORDS[kind.name], ()


def field_reference_markdown(schema: Schema | None = None) -> str:
    """`docs/event-fields.md`: each event type, each field, its kind, required, words."""
    schema = schema or load_schema()
    out = [
        "# Event fields",
        "",
        f"Generated from `{SOURCE}`; do not edit by hand. To regenerate it after a change:",
        "",
        "```",
        REGENERATE,
        "```",
        "",
        "Each event type's `data` fields, as conditions name them ([rule-format.md]"
        "(rule-format.md)) and as scenario tables fill them ([writing-specs.md]"
        "(writing-specs.md)). A field marked *required* is in every event of its type; any "
        "other may be missing, and a condition on a missing field is never true (except "
        "`is missing`, `lacks`, `is not true` and `none of`). `name[].field` is a field of "
        "each item of the list `name`.",
        "",
        "## The envelope (`event.`)",
        "",
        "| attribute | required | holds |",
        "| --- | --- | --- |",
    ]
    for name, (required, holds) in _ENVELOPE.items():
        out.append(f"| `event.{name}` | {'yes' if required else 'no'} | {holds} |")
    out += ["", "## Actor kinds", "",
            "A field of kind *actor kind* takes one of: "
            + ", ".join(f"`{a}`" for a in sorted(schema.actors)) + ".", ""]
    for event_type in schema.types:
        out += _markdown_table(f"## {event_type}", field_rows(schema, event_type))
    out += _markdown_table("## The context profile (`context.`)", field_rows(schema, None),
                           required=False)
    return "\n".join(out).rstrip() + "\n"


def _markdown_table(title: str, rows: list[FieldRow], *, required: bool = True) -> list[str]:
    out = [title, ""]
    if not rows:
        return [*out, "No data fields.", ""]
    head = "| field | kind | required | allowed words |" if required else \
        "| field | kind | allowed words |"
    out += [head, "| --- | --- | --- | --- |" if required else "| --- | --- | --- |"]
    for row in rows:
        words = ", ".join(f"`{w}`" for w in row.words)
        cells = [f"`{row.path}`", row.kind, *(["yes" if row.required else ""] if required
                                              else []), words]
        out.append("| " + " | ".join(cells) + " |")
    return [*out, ""]


def field_reference_text(width: int = 88, schema: Schema | None = None) -> str:
    """The same reference as plain text, wrapped to `width` columns."""
    schema = schema or load_schema()
    out = ["Event fields (also in docs/event-fields.md)", ""]

    def para(text: str, indent: str, more: str) -> None:
        out.extend(textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=more,
                                 break_on_hyphens=False))

    para("Each event type's fields; * marks a field every event of the type carries. The "
         "envelope: " + ", ".join(f"event.{name}" + ("" if req else " (optional)")
                                  for name, (req, _) in _ENVELOPE.items()) + ".", "  ", "  ")
    para("Actor kinds: " + ", ".join(sorted(schema.actors)) + ".", "  ", "  ")
    sections = [(t, field_rows(schema, t)) for t in schema.types]
    sections.append(("context (the operation's profile)", field_rows(schema, None)))
    for title, rows in sections:
        out += ["", f"  {title}"]
        if not rows:
            out.append("      no data fields")
        for row in rows:
            words = f": {', '.join(row.words)}" if row.words else ""
            para(f"{'*' if row.required else ' '} {row.path} ({row.kind}){words}", "    ",
                 "        ")
    return "\n".join(out) + "\n"
