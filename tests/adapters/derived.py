"""Where the tests find the real payloads: the repository's verbatim copy and the shared
original it copies (test_fixtures_contract checks the copy is still verbatim). The builders of
derived payloads live in the test kit, `mandate_rules.adapters.testing`."""

from __future__ import annotations

from ..helpers import ROOT

# The real payloads of ../shared/fixtures/external, copied verbatim into the repository so that
# the tests run on a clean clone.
FIXTURES = ROOT / "tests" / "fixtures" / "external"
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures" / "external"
