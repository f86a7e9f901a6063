"""docs/event-fields.md is generated from event_types.yaml and kept in step with it; the same
reference ends `mandate-rules phrasebook` and is printed by `mandate-rules fields`."""

from __future__ import annotations

from click.testing import CliRunner

from mandate_rules._cli import main
from mandate_rules._fields import REGENERATE, field_reference_markdown, field_rows
from mandate_rules._schema import leaf_paths, load_schema

from .helpers import ROOT

PAGE = ROOT / "docs" / "event-fields.md"


def test_the_page_is_what_the_schema_generates() -> None:
    assert PAGE.read_text("utf-8") == field_reference_markdown(), (
        f"docs/event-fields.md is out of step with event_types.yaml; run: {REGENERATE}")
    done = CliRunner().invoke(main, ["fields", "--format", "markdown"])
    assert done.exit_code == 0
    assert done.output == field_reference_markdown()


def test_every_type_and_every_field_is_listed_with_its_kind_and_words() -> None:
    schema = load_schema()
    page = field_reference_markdown()
    for name, event_type in schema.types.items():
        assert f"\n## {name}\n" in page
        rows = field_rows(schema, name)
        assert [r.path for r in rows] == list(leaf_paths(event_type.tree))
        assert {r.path for r in rows if r.required} == set(event_type.required)
    assert ("| `status` | word | yes | `approved`, `cancelled`, `completed`, `requested` |"
            in page)
    assert "| `alternatives_considered` | list of words |  | `acceptance_negotiation`" in page
    assert "| `provider.kind` | actor kind |  |  |" in page
    assert "| `event.subject` | no |" in page


def test_both_guides_link_to_it() -> None:
    for doc in ("rule-format.md", "writing-specs.md"):
        assert "(event-fields.md)" in (ROOT / "docs" / doc).read_text("utf-8"), doc


def test_the_phrasebook_and_the_fields_command_end_with_it_in_plain_text() -> None:
    for args in (["phrasebook", "--width", "100"], ["fields", "--width", "100"]):
        done = CliRunner().invoke(main, args)
        assert done.exit_code == 0, done.output
        assert "Event fields (also in docs/event-fields.md)" in done.output
        assert "  * status (word): approved, cancelled, completed, requested\n" in done.output
        assert "      provider.kind (actor kind)\n" in done.output
        assert max(len(line) for line in done.output.splitlines()) <= 100
