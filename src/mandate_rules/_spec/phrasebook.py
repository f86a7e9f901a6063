"""The phrasebook: every sentence policy staff may write in a feature file, and what it means.

This is the one list of sentences. `steps` binds exactly one implementation to each entry (and
refuses to import when an entry has none or two); ``mandate-rules phrasebook`` prints it
(`render`); the message for an unknown sentence suggests the closest entries (`closest`); and
coverage reads which rules a Then sentence checks (`checked_rules`). Pure data: it imports no
pytest, so the command works without the test tools.

Each entry has a regular expression that must match the whole step text (after the keyword),
the step kinds it is written after (``given``, ``when``, ``then``), example sentences, and its
meaning in plain words. The patterns are written so that no two entries of the same kind match
the same sentence; ``tests/spec/test_phrasebook.py`` proves it for every example, through
pytest-bdd's own step lookup.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

from .._fields import field_reference_text
from .tables import VALUE_FORMS

__all__ = [
    "EVENT_KINDS",
    "KEYWORDS",
    "SECTIONS",
    "SENTENCES",
    "Sentence",
    "checked_rules",
    "closest",
    "matching",
    "render",
    "split_rule_list",
]

StepKind = Literal["given", "when", "then"]
KEYWORDS: Mapping[str, str] = MappingProxyType({"given": "Given", "when": "When", "then": "Then"})

# The kinds of event a scenario can record, as policy staff say them, and their event types.
EVENT_KINDS: Mapping[str, str] = MappingProxyType({
    "a movement request": "movement.request",
    "an escort request": "escort.request",
    "an asset request": "asset.request",
    "a distribution plan": "distribution.plan",
    "a publication": "communication.publication",
    "an information share": "info.share",
    "a premises change": "premises.change",
    "a meeting": "engagement.meeting",
    "an incident report": "incident.report",
    "a context update": "context.update",
})

SECTIONS: Mapping[str, str] = MappingProxyType({
    "context": "The operation and its context",
    "events": "Events",
    "time": "Time",
    "expectations": "Expectations",
})

_RULE = r"(?P<rule>\S+)"


@attrs.frozen
class Sentence:
    """One sentence of the phrasebook."""

    key: str
    section: str
    kinds: tuple[StepKind, ...]
    pattern: str
    examples: tuple[str, ...]
    meaning: str
    table: Literal["none", "optional", "required"] = "none"
    # context values a fixed context sentence sets (`mission.party_to_conflict` -> perceived)
    sets: Mapping[str, Any] = attrs.field(factory=dict)
    # what a Then sentence asserts about the rules it names, for coverage
    checks: Literal["raised", "not_raised"] | None = None
    regex: re.Pattern[str] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))

    def written(self, example: str) -> str:
        """`example` with its keyword(s): ``Given/When 4 days pass``."""
        return "/".join(KEYWORDS[k] for k in self.kinds) + " " + example


def _fact(key: str, text: str, sets: Mapping[str, Any], meaning: str) -> Sentence:
    return Sentence(key=key, section="context", kinds=("given",), pattern=re.escape(text),
                    examples=(text,), meaning=meaning, sets=sets)


SENTENCES: tuple[Sentence, ...] = (
    # ------------------------------------------------------------------ context
    Sentence(
        key="operation", section="context", kinds=("given",),
        pattern=r"an operation in (?P<country>\S+)",
        examples=("an operation in SOM", "an operation in PHL"),
        meaning="The operation's country, as its three-letter ISO code. Its shipped context "
                "profile applies if there is one (rules/contexts/SOM.yaml, PHL.yaml); a country "
                "with no profile is an operation where nothing is known."),
    Sentence(
        key="no_profile", section="context", kinds=("given",),
        pattern=r"an operation with no context profile",
        examples=("an operation with no context profile",),
        meaning="Nothing is known about the operation (this is also where every scenario "
                "starts): no uplift applies, and advisories say the context was unknown."),
    _fact("integrated", "the UN presence is structurally integrated",
          {"integration": {"present": True, "structural": True, "model": "two_feet_in"}},
          "An integrated UN presence, structurally integrated (\"two feet in\": the "
          "Humanitarian Coordinator is also deputy head of the mission)."),
    _fact("not_integrated", "the UN presence is not integrated",
          {"integration": {"present": False, "structural": False, "model": "none"}},
          "No integrated UN presence."),
    _fact("mission_party", "the mission is a party to the conflict",
          {"mission": {"party_to_conflict": "yes"}}, "mission.party_to_conflict = yes."),
    _fact("mission_perceived", "the mission is seen as a party to the conflict",
          {"mission": {"party_to_conflict": "perceived"}},
          "mission.party_to_conflict = perceived."),
    _fact("mission_not_party", "the mission is not a party to the conflict",
          {"mission": {"party_to_conflict": "no"}}, "mission.party_to_conflict = no."),
    _fact("state_party", "state forces are a party to the conflict",
          {"state_forces_party": True}, "state_forces_party = yes."),
    _fact("state_not_party", "state forces are not a party to the conflict",
          {"state_forces_party": False}, "state_forces_party = no."),
    _fact("actors_illegitimate", "armed actors have declared the UN illegitimate",
          {"armed_actor_stance_on_un": "declared_illegitimate"},
          "armed_actor_stance_on_un = declared_illegitimate."),
    _fact("actors_hostile", "armed actors are hostile to the UN",
          {"armed_actor_stance_on_un": "hostile"}, "armed_actor_stance_on_un = hostile."),
    _fact("actors_accept", "armed actors accept the UN",
          {"armed_actor_stance_on_un": "accepting"}, "armed_actor_stance_on_un = accepting."),
    _fact("complex_emergency", "the emergency is a complex emergency",
          {"emergency_type": "complex_emergency"}, "emergency_type = complex_emergency."),
    _fact("natural_disaster", "the emergency is a natural disaster",
          {"emergency_type": "natural_disaster"}, "emergency_type = natural_disaster."),
    _fact("mixed_emergency", "the emergency is a mixed emergency",
          {"emergency_type": "mixed"}, "emergency_type = mixed."),
    Sentence(
        key="guidance", section="context", kinds=("given",),
        pattern=r"the country guidance sets (?P<name>\S+) to (?P<value>.+)",
        examples=("the country guidance sets min_escort_separation_m to 100",
                  "the country guidance sets escort_decision_authority to hc"),
        meaning="One value of the country guidance (country_guidance.<name>), read like a "
                "table value of that field."),
    Sentence(
        key="profile_table", section="context", kinds=("given",),
        pattern=r"the context profile has:",
        examples=("the context profile has:",), table="required",
        meaning="Any context fields, one field/value row each (e.g. data.isp_in_place | yes, "
                "deconfliction_channels | osocc). A list given here replaces the shipped one."),
    Sentence(
        key="alternative", section="context", kinds=("given",),
        pattern=r"a civilian alternative:",
        examples=("a civilian alternative:",), table="required",
        meaning="Adds one civilian alternative (rows mode, provider, routes, lead_time_h) to "
                "those of the shipped profile."),
    Sentence(
        key="area", section="context", kinds=("given",),
        pattern=r"the events happen in area (?P<area>\S+)",
        examples=("the events happen in area SO-BN",),
        meaning="The area (admin p-code) of the events that follow; the profile's values for "
                "that area apply to them."),
    Sentence(
        key="area_table", section="context", kinds=("given",),
        pattern=r"in area (?P<area>\S+) the context profile has:",
        examples=("in area SO-BN the context profile has:",), table="required",
        meaning="Context values for that area only (field/value rows), on top of the "
                "operation's."),
    Sentence(
        key="organisation", section="context", kinds=("given",),
        pattern=r"the organisation is (?P<org>[^,\s]+), an? (?P<kind>\S+)",
        examples=("the organisation is org-7, a un_agency", "the organisation is ngo-2, an ingo"),
        meaning="The organisation (org.id and org.kind) of the events that follow. Every "
                "scenario starts with org-1, an ingo."),
    # ------------------------------------------------------------------ events
    Sentence(
        key="event", section="events", kinds=("given", "when"),
        pattern=r"(?P<kind>an? [a-z][a-z ]*?)(?: \"(?P<name>[^\"]*)\")? is recorded:?",
        examples=("an escort request is recorded:", 'an escort request "esc-1" is recorded:',
                  "a movement request is recorded:", "an asset request is recorded:",
                  "a distribution plan is recorded:", "a publication is recorded:",
                  "an information share is recorded:", "a premises change is recorded:",
                  "a meeting is recorded:", "an incident report is recorded:",
                  "a context update is recorded:"),
        table="optional",
        meaning="An event of that kind at the scenario's current time, for the current "
                "organisation and area, with the fields of the table below it. After Given it "
                "is history (what it raises is not checked); after When it is what happens. "
                "A name in quotes makes later events with the same name the next versions of "
                "the same record (same entity_id and subject, version 1, 2, 3, ...); without a "
                "name each event is a new record."),
    Sentence(
        key="event_by_subject", section="events", kinds=("given", "when"),
        pattern=r"(?P<kind>an? [a-z][a-z ]*?) \"(?P<name>[^\"]*)\" is recorded with its id only "
                r"in the subject:?",
        examples=('a movement request "kobo-mov-77" is recorded with its id only in the '
                  'subject:',),
        table="optional",
        meaning="An event as above, but the record's name goes only in the event's subject: it "
                "has no entity_id, as some field systems (KoboToolbox) send it. Rules that "
                "follow a record by its entity_id then follow it by its subject. Later events "
                "with the same name, written either way, are the next versions of the record. "
                "A table row for entity_id or event.subject stops the scenario."),
    # ------------------------------------------------------------------ time
    Sentence(
        key="time_passes", section="time", kinds=("given", "when"),
        pattern=r"(?P<amount>\d+) (?P<unit>minutes?|hours?|days?|weeks?) pass(?:es)?",
        examples=("4 days pass", "1 day passes", "72 hours pass", "2 weeks pass"),
        meaning="Time moves forward (minutes, hours, days or weeks); deadlines that pass are "
                "checked, and what they raise counts like an event's."),
    Sentence(
        key="it_is", section="time", kinds=("given", "when"),
        pattern=r"it is (?P<moment>\S+)",
        examples=("it is 2026-11-20", "it is 2026-11-20T14:00Z"),
        meaning="Time moves forward to that date (08:00 UTC) or date-time."),
    # ------------------------------------------------------------------ expectations
    Sentence(
        key="raised", section="expectations", kinds=("then",),
        pattern=_RULE + r" is raised", examples=("ESC-004 is raised",), checks="raised",
        meaning="The When steps raised the rule."),
    Sentence(
        key="raised_as", section="expectations", kinds=("then",),
        pattern=_RULE + r" is raised as (?P<severity>\S+)",
        examples=("ESC-004 is raised as critical", "AST-008 is raised as info"),
        checks="raised",
        meaning="... each time with that severity (info, advice, warning or critical), after "
                "escalation and uplift."),
    Sentence(
        key="raised_times", section="expectations", kinds=("then",),
        pattern=_RULE + r" is raised (?P<count>\d+) times?",
        examples=("ESC-004 is raised 2 times",), checks="raised",
        meaning="... exactly that many times."),
    Sentence(
        key="raised_once", section="expectations", kinds=("then",),
        pattern=_RULE + r" is raised once", examples=("ESC-004 is raised once",),
        checks="raised", meaning="... exactly once."),
    Sentence(
        key="not_raised", section="expectations", kinds=("then",),
        pattern=_RULE + r" is not raised", examples=("ESC-004 is not raised",),
        checks="not_raised", meaning="The When steps did not raise the rule."),
    Sentence(
        key="nothing", section="expectations", kinds=("then",),
        pattern=r"no advisory is raised", examples=("no advisory is raised",),
        meaning="The When steps raised nothing at all."),
    Sentence(
        key="only", section="expectations", kinds=("then",),
        pattern=r"only (?P<rules>.+?) (?:is|are) raised",
        examples=("only ESC-001 and ESC-004 are raised", "only ESC-001 is raised",
                  "only ESC-001, ESC-002 and ESC-004 are raised"),
        checks="raised",
        meaning="The When steps raised exactly these rules (separated by commas or `and`), "
                "and no other."),
    Sentence(
        key="advice_mentions", section="expectations", kinds=("then",),
        pattern=r"the advice of " + _RULE + r" mentions \"(?P<phrase>[^\"]+)\"",
        examples=('the advice of ESC-004 mentions "one side"',), checks="raised",
        meaning="The rule was raised and its advice contains the phrase (in any case)."),
    Sentence(
        key="explanation_mentions", section="expectations", kinds=("then",),
        pattern=r"the explanation of " + _RULE + r" mentions \"(?P<phrase>[^\"]+)\"",
        examples=('the explanation of ESC-004 mentions "provider.kind"',), checks="raised",
        meaning="The rule was raised and a condition, a field, a value or the reason its "
                "severity was raised, in its explanation, contains the phrase (in any case)."),
    Sentence(
        key="context_unknown", section="expectations", kinds=("then",),
        pattern=_RULE + r" says the context was unknown",
        examples=("ESC-004 says the context was unknown",), checks="raised",
        meaning="The rule was raised for an operation with no context profile, and says so."),
)

SENTENCES_BY_KEY: Mapping[str, Sentence] = MappingProxyType({s.key: s for s in SENTENCES})

# How a scenario is read: printed at the top of the phrasebook.
READING = (
    "Every scenario starts on 1 November 2026, 08:00 UTC, in an operation with no context "
    "profile, for the organisation org-1 (an ingo), in no particular area.",
    "Given steps set the scene. Events recorded under Given are history: what they raise is "
    "not checked.",
    "When steps are what happens: each event recorded, or time passing.",
    "Then steps check what the When steps raised since the previous Then. Several Then steps "
    "in a row (Then, And, But) check the same When steps.",
    "Every Then needs a When before it (since the previous Then); every scenario needs a Then.",
    "Events are recorded at the scenario's current time; time moves only when you say it passes.",
    "Context sentences come before the first event or time step. To change the context during "
    "the story, record a context update.",
    "When the When steps raised a rule more than once, a check on its severity, advice, "
    "explanation or context must hold each time.",
)


def matching(kind: str, text: str) -> list[tuple[Sentence, re.Match[str]]]:
    """Every sentence written after `kind` whose pattern matches the whole of `text`."""
    out = []
    for sentence in SENTENCES:
        if kind in sentence.kinds:
            found = sentence.regex.fullmatch(text)
            if found is not None:
                out.append((sentence, found))
    return out


def split_rule_list(text: str) -> list[str]:
    """``ESC-001, ESC-002 and ESC-004`` -> the three ids."""
    parts = re.split(r"\s*,\s*|\s+and\s+", text.strip())
    return [p.strip() for p in parts if p.strip()]


def checked_rules(kind: str, text: str) -> list[tuple[str, bool]]:
    """(rule id as written, raised?) for each rule a Then sentence asserts about."""
    out: list[tuple[str, bool]] = []
    for sentence, found in matching(kind, text):
        if sentence.checks is None:
            continue
        raised = sentence.checks == "raised"
        if "rules" in found.groupdict():
            out.extend((rule, raised) for rule in split_rule_list(found["rules"]))
        else:
            out.append((found["rule"], raised))
    return out


def all_written() -> Iterator[tuple[str, str]]:
    """(keyword, example) for every example of every sentence, once per kind."""
    for sentence in SENTENCES:
        for kind in sentence.kinds:
            for example in sentence.examples:
                yield KEYWORDS[kind], example


def closest(kind: str, text: str, n: int = 3) -> list[str]:
    """The `n` example sentences (with keyword) closest to `text`, its own kind first."""
    lowered = text.lower()
    scored: list[tuple[float, int, str]] = []
    seen: set[str] = set()
    for keyword, example in all_written():
        written = f"{keyword} {example}"
        if written in seen:
            continue
        seen.add(written)
        ratio = difflib.SequenceMatcher(None, lowered, example.lower()).ratio()
        same = 1 if keyword == KEYWORDS.get(kind) else 0
        scored.append((ratio + 0.05 * same, same, written))
    scored.sort(key=lambda item: (-item[0], -item[1], item[2]))
    return [written for _, _, written in scored[:n]]


def other_kind(kind: str, text: str) -> str | None:
    """The keyword `text` belongs after, when it is a sentence of another kind, else None."""
    for other in ("given", "when", "then"):
        if other != kind and matching(other, text):
            return KEYWORDS[other]
    return None


def render(width: int = 88) -> str:
    """The whole phrasebook as plain text."""
    out: list[str] = ["THE PHRASEBOOK: every sentence a feature file can use", ""]
    out.append("How a scenario is read")
    for line in READING:
        out.extend(textwrap.wrap(line, width, initial_indent="  - ", subsequent_indent="    "))
    for section, title in SECTIONS.items():
        out.extend(["", title])
        for sentence in (s for s in SENTENCES if s.section == section):
            out.append("")
            for example in sentence.examples:
                out.append("  " + sentence.written(example))
            if sentence.table == "required":
                out.append("      | field | value |   (a table is required)")
            elif sentence.table == "optional":
                out.append("      | field | value |   (a table may follow)")
            out.extend(textwrap.wrap(sentence.meaning, width, initial_indent="      ",
                                     subsequent_indent="      "))
        if section == "events":
            out.extend(["", "  The kinds of event:"])
            for phrase, event_type in EVENT_KINDS.items():
                out.append(f"      {phrase:<24} {event_type}")
            out.extend(["", "  Values in a table are read by the field's kind:"])
            for kind, how, example in VALUE_FORMS:
                out.extend(textwrap.wrap(f"{kind}: {how} (e.g. {example})", width,
                                         initial_indent="      - ",
                                         subsequent_indent="        "))
            out.extend(textwrap.wrap(
                "A field the event type does not have, or a value the field does not take, "
                "stops the scenario with a message naming the row.", width,
                initial_indent="      ", subsequent_indent="      "))
    out.extend(["", "Scenario Outlines"])
    out.extend(textwrap.wrap(
        "Every sentence works in a Scenario Outline; <placeholders> are filled from the "
        "Examples table, in steps and in data tables alike. A placeholder that is not a column "
        "of the Examples table is an error.", width, initial_indent="  ",
        subsequent_indent="  "))
    out.extend(["", "Coverage"])
    out.extend(textwrap.wrap(
        "A run of the whole features folder fails when a rule in the rules directory has no "
        "passing scenario in which it is raised (Then X is raised...) or no passing near-miss "
        "scenario in which it is not (Then X is not raised).", width, initial_indent="  ",
        subsequent_indent="  "))
    out.extend(["", *field_reference_text(width).splitlines()])  # what a table may fill
    return "\n".join(out) + "\n"
