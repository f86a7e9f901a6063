"""The exception hierarchy: one base class, and one subclass per kind of failure.

Every message says what was expected, what came, and where (a field path, a file and line,
or a line of an events file), so the person reading it can fix the input without a debugger.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._problems import Problem


class MandateRulesError(Exception):
    """Base class of every error raised on purpose by mandate_rules."""


class EventValidationError(MandateRulesError, ValueError):
    """Raised when an event does not fit the CloudEvents envelope or its type's schema.

    Raised by `Event.from_json` and `Engine.evaluate` for an unknown event type, a missing
    required field, or a value of the wrong kind. `path` names the first offending field
    (``data.provider.kind``, ``time``); `problems` lists every problem found in the event.
    """

    def __init__(self, problems: Sequence[tuple[str, str]], where: str | None = None) -> None:
        self.problems: tuple[tuple[str, str], ...] = tuple(problems)
        self.path: str = self.problems[0][0] if self.problems else ""
        self.where = where
        lines = [f"{path}: {message}" if path else message for path, message in self.problems]
        prefix = f"{where}: " if where else ""
        if len(lines) == 1:
            text = prefix + lines[0]
        else:
            text = prefix + f"{len(lines)} problems in the event:\n  " + "\n  ".join(lines)
        super().__init__(text)


class ProblemsError(MandateRulesError):
    """Base of the errors that carry every problem found in a set of files at once.

    `problems` holds each with its ``file:line``, a stable code and a plain message, so the
    files can be fixed in one pass; a subclass names what the files are in `found_in`.
    """

    found_in = "the files"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        shown = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in {self.found_in}:\n{shown}")


class RulePackError(ProblemsError):
    """Raised when rule packs, the bundle file or context profiles do not load.

    Carries every problem found in every file at once (`problems`), each with its
    ``file:line``, a stable code and a plain message, so a policy officer fixes them all
    in one pass. A bundle that raises this never replaces one that is running.
    """

    found_in = "the rule packs"


class UnknownRuleError(MandateRulesError, KeyError):
    """Raised when a rule id is asked for that no loaded pack defines."""

    def __init__(self, rule_id: str, suggestion: str | None = None) -> None:
        self.rule_id = rule_id
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        super().__init__(f"no rule {rule_id!r} in the loaded packs{hint}")

    def __str__(self) -> str:  # KeyError would quote the whole message again
        return str(self.args[0])


class EngineError(MandateRulesError, RuntimeError):
    """Raised when the matching engine refuses an event it was given.

    This means durable_rules reported an error code (for example more than 255 properties
    in one message); the event is named, the engine's state is left as it was before the
    call, and the call can be retried once the event is fixed.
    """


class SnapshotError(MandateRulesError, ValueError):
    """Raised by `Engine.restore` when a snapshot cannot be loaded into this engine.

    Either it was taken under other rule packs (its bundle hash differs: its windows and
    deadlines name rules of that bundle), or it is not a snapshot of a known format, or part
    of it is malformed (`where` names the part). The engine's state is left as it was; the
    way on is to replay the event log instead.
    """

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)
