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
* `enginepool`: engines reused from one scenario to the next (their state cleared).
* `steps`: the pytest-bdd step definitions, one per phrasebook entry.
* `lint`: mistakes in a feature file that Gherkin or pytest-bdd would accept silently;
  `gherkinerrors`: Gherkin's parser errors in words, and the `Finding` every check returns.
* `lookalikes`: curly quotes, doubled spaces and other characters the sentences do not use.
* `errors`: the plain-words messages for policy staff.
* `coverage`: which rules have a raising and a near-miss scenario, and when that is enforced.
* `results`: the per-scenario results (``--policy-report PATH``, JSON; shape documented there).
* `plugin`: the pytest hooks: failure rewriting, coverage, the results; `collect` collects the
  ``.feature`` files (a refused file is one failing test); `runstate` is what a run learns.
* `runner`: runs the feature files in a subprocess for ``mandate-rules spec``.
* `page`: the living documentation, one HTML page (style in ``page.css``); `pagerules` shows a
  rule on it, `html` escapes and links.
* `settings`: the ini settings, and the rules the scenarios run against.
* `cli`: ``mandate-rules phrasebook`` and ``mandate-rules spec``.
"""
