"""`HttpClient(transport=...)` and the test kit's `MockTransport`: an adapter's logic tested
without a socket (issue 12, point 7); and what `SourceAdapter` holds for every adapter: the
common settings, the source, the write-back guard. The loopback fakes stay the test of the
boundary itself (test_http.py, test_writeback.py, test_overlap.py)."""

from __future__ import annotations

import pytest
import requests

from mandate_rules._adapters import (
    EgressRefusedError,
    HttpClient,
    SourceUnavailableError,
)
from mandate_rules.adapters.testing import (
    MockTransport,
    Reply,
    Seen,
    kobo_submission,
)

# Nothing listens here, and nothing is sent here: the transport answers.
NOWHERE = "http://127.0.0.1:9/"
SUBMISSIONS = [kobo_submission(3001), kobo_submission(3002), kobo_submission(3005)]


def _kobo_list(seen: Seen) -> Reply:
    return Reply.json(200, {"count": len(SUBMISSIONS), "next": None, "previous": None,
                            "results": SUBMISSIONS})


def test_the_transport_answers_in_place_of_the_network() -> None:
    answers = iter([Reply.json(503, {"detail": "busy"}), Reply.json(200, {"ok": True})])
    transport = MockTransport(lambda seen: next(answers))
    client = HttpClient(NOWHERE, retries=2, sleep=lambda s: None, transport=transport)
    assert client.get_json("api/things", params={"page": "2"}) == {"ok": True}
    assert [(s.method, s.path, s.query) for s in transport.requests] == [
        ("GET", "/api/things", {"page": "2"})] * 2


def test_a_network_failure_the_transport_raises_is_translated() -> None:
    def refuse(seen: Seen) -> Reply:
        raise requests.ConnectionError("refused")

    client = HttpClient(NOWHERE, retries=1, sleep=lambda s: None,
                        transport=MockTransport(refuse))
    with pytest.raises(SourceUnavailableError, match="no answer from the source"):
        client.request_json("POST", "flags", body={"a": 1})


def test_the_loopback_guard_still_comes_first() -> None:
    transport = MockTransport(_kobo_list)
    client = HttpClient("http://example.org/", guard=True, transport=transport)
    with pytest.raises(EgressRefusedError):
        client.get_json("x")
    assert transport.requests == []
