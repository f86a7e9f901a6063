"""The resolution form takes effect through the API's own code (`Service.resolve`): the same
record, the same checks and messages, and the advisory leaves the open queue."""

from __future__ import annotations

import html
from collections.abc import Callable

import pytest

from ..service.server import Server
from .pages import Visitor, demo_batch

pytestmark = pytest.mark.both_backends


def _demo(start_server: Callable[..., Server]) -> Server:
    server = start_server()
    assert server.client().events(demo_batch()).status_code == 200
    return server


def test_a_resolution_from_the_form_is_the_api_s_and_leaves_the_open_queue(
        start_server: Callable[..., Server]) -> None:
    server = _demo(start_server)
    api, visitor = server.client(), Visitor(server)
    first = visitor.queue()[0]
    advisory_id = first["href"].rsplit("/", 1)[1]
    path = f"/ui/advisories/{advisory_id}"
    form = visitor.form(path, "/resolution")
    done = visitor.post(form["action"], {**form["fields"], "decision": "justified",
                                         "text": "Only road open;\nescort agreed by the HC.",
                                         "by": "Amina Yusuf"}, allow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == f"{path}?resolved=justified"
    stored = api.get(f"/v1/advisories/{advisory_id}").json()
    assert stored["status"] == "justified"
    assert [(r["decision"], r["text"], r["by"]) for r in stored["resolutions"]] == [
        ("justified", "Only road open;\nescort agreed by the HC.", "Amina Yusuf")]
    assert server.rows("SELECT decision, decided_by FROM resolutions") == [
        ("justified", "Amina Yusuf")]
    page = html.unescape(visitor.get(done.headers["location"]).text)
    assert "Recorded: justified" in page
    assert "Only road open;" in page
    assert advisory_id not in {r["href"].rsplit("/", 1)[1] for r in visitor.queue()}
    assert advisory_id in {r["href"].rsplit("/", 1)[1]
                           for r in visitor.queue(status="justified")}


def test_the_form_refuses_what_the_api_refuses_with_the_same_words(
        start_server: Callable[..., Server]) -> None:
    server = _demo(start_server)
    api, visitor = server.client(), Visitor(server)
    advisory_id = visitor.queue()[0]["href"].rsplit("/", 1)[1]
    path = f"/ui/advisories/{advisory_id}"
    for fields in ({"decision": "justified", "by": "Amina"},  # no justification
                   {"decision": "acknowledged", "by": "Am\x1bina"},  # a control character
                   {"decision": "approved", "by": "Amina"}):  # not a decision
        refused = api.post(f"/v1/advisories/{advisory_id}/resolution", fields)
        assert refused.status_code == 422
        message = refused.json()["error"]["message"]
        form = visitor.form(path, "/resolution")
        answer = visitor.post(form["action"], {**form["fields"], **fields})
        assert answer.status_code == 422
        assert message in html.unescape(answer.text)
        assert 'role="alert"' in answer.text
    assert server.rows("SELECT count(*) FROM resolutions") == [(0,)]
