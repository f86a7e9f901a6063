"""What goes wrong in a spec, in words for policy staff.

Two kinds of failure come from the steps themselves:

* `SpecError`: the feature file asks for something that cannot be done as written (a field the
  event type does not have, a value the field does not take, a rule id that does not exist, a
  context sentence after the first event). The scenario is wrong, not the rules.
* `ExpectationNotMet`: a Then sentence did not hold. The rules did something other than the
  scenario expects; the message says what was expected and lists what was raised.

`failure_text` puts either (or an unknown sentence, or an unexpected error) under a header that
names the file, line, scenario and sentence. pytest prints that text instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from .._errors import MandateRulesError


class SpecError(MandateRulesError):
    """Raised by a step when the feature file asks for something that cannot be done as
    written (a field the event type does not have, a country that is not a code, time moving
    backwards); the plugin shows it as a message for policy staff at the step's line."""


class ExpectationNotMet(MandateRulesError, AssertionError):
    """Raised by a Then step whose sentence did not hold; an AssertionError, so pytest counts
    the scenario as failed rather than broken."""


@attrs.frozen
class Where:
    """The step a message is about."""

    file: str
    line: int
    scenario: str
    keyword: str
    text: str


def header(where: Where) -> str:
    return (f"{where.file}:{where.line}: in scenario \"{where.scenario}\"\n"
            f"    {where.keyword} {where.text}")


def failure_text(where: Where, message: str) -> str:
    """The header, then the message indented under it."""
    body = "\n".join(("  " + line) if line else "" for line in message.splitlines())
    return f"{header(where)}\n\n{body}\n"


def unknown_sentence_text(where: Where, closest: Sequence[str], other_kind: str | None,
                          differences: Sequence[str] = ()) -> str:
    """The message for a step that matches no sentence of the phrasebook.

    `differences` names the characters of the line that the sentences do not use (curly
    quotes, doubled spaces; see `lookalikes`), each with its column.
    """
    lines = ["This sentence is not in the phrasebook, so it cannot be run."]
    if differences:
        lines.append("Some of its characters are not those the sentences use:")
        lines.extend(f"    {difference}" for difference in differences)
    if other_kind is not None:
        lines.append(f"It is a sentence for {other_kind}: write it after {other_kind} "
                     f"(or after And or But following a {other_kind} step).")
    if closest:
        lines.append("The closest known sentences:")
        lines.extend(f"    {sentence}" for sentence in closest)
    lines.append("`mandate-rules phrasebook` prints every sentence.")
    return failure_text(where, "\n".join(lines))


def internal_error_text(where: Where, error: BaseException) -> str:
    """The message for an error that is not about the feature file."""
    return failure_text(where, (
        f"mandate-rules failed while running this step: {type(error).__name__}: {error}\n"
        "This is not a mistake in the feature file; please report it to the developers.\n"
        "(`pytest --policy-raw-errors` shows the Python traceback.)"))
