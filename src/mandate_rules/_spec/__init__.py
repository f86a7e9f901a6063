"""Policy specs: rule behaviour written by policy staff as Gherkin, run by pytest.

Every ``.feature`` file under ``features/`` runs with plain ``pytest``: the step library is a
pytest plugin (entry point ``pytest11``, `plugin`), and the sentences it understands are listed
once, in `phrasebook`. ``docs/writing-specs.md`` is the guide for policy staff;
``mandate-rules phrasebook`` prints every sentence.

Modules:

* `phrasebook`: every sentence (pattern, examples, meaning); pure data, no pytest.
* `tables`: field/value tables into event data and context values, by field kind.
* `story`: one scenario's state (clock, operation, events, what the When steps raised) and
  the checks of the Then sentences.
* `steps`: the pytest-bdd step definitions, one per phrasebook entry.
* `lint`: mistakes in a feature file that Gherkin or pytest-bdd would accept silently.
* `lookalikes`: curly quotes, doubled spaces and other characters the sentences do not use.
* `errors`: the plain-words messages for policy staff.
* `coverage`: which rules have a raising and a near-miss scenario, and when that is enforced.
* `reporting`: the per-scenario results (``--policy-report PATH``, JSON; shape documented there).
* `plugin`: collection of ``.feature`` files, failure rewriting, coverage, the report.
* `cli`: ``mandate-rules phrasebook``.
"""
