"""The link from an advisory to its record in the source system, over a real `mandate-rules
serve`: read from the `recordurl` the record's stored event carries, only ever an http(s)
link, escaped, and none when the event gives no address."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mandate_rules._service._console._recordlink import web_address

from ..service.server import Server
from .pages import Visitor, demo_batch, parse

LINKED = "esc-hr-0001"  # a KoboToolbox submission of the demo, with an address
HOSTILE = "esc-uf-0301"  # a CommCare case whose events carry a javascript: address
ADDRESS = "https://kf.example.org/api/v2/assets/aDemoSom/data/esc-hr-0001/?a=1&b=%3Cx%3E"
BAD_ADDRESS = "javascript:alert(document.cookie)//<b>"


def _with_addresses(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    addresses = {LINKED: ADDRESS, HOSTILE: BAD_ADDRESS}
    return [{**event, "recordurl": addresses[event["subject"]]}
            if event.get("subject") in addresses else event for event in events]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, module_db: str | None) -> Iterator[Server]:
    workdir: Path = tmp_path_factory.mktemp("console-record-link")
    server = Server(workdir, db=module_db).start()
    try:
        response = server.client().events(_with_addresses(demo_batch()))
        assert response.status_code == 200, response.text
        yield server
    finally:
        server.stop()


def _rows(server: Server) -> list[dict[str, str]]:
    visitor = Visitor(server)
    rows: list[dict[str, str]] = []
    for page in ("1", "2"):
        rows += parse(visitor.get("/ui/", params={"page": page}).text).rows
    return rows


def test_a_row_links_its_record_to_the_address_its_event_gave(server: Server) -> None:
    rows = [r for r in _rows(server) if r["Record"].startswith(LINKED)]
    assert rows
    for row in rows:
        assert row["Record link"] == ADDRESS  # the parser unescapes &amp; in the attribute
        assert row["Record rel"] == "noopener noreferrer"
    # The advisory page links the record too.
    page = Visitor(server).get(rows[0]["href"].removeprefix(server.url))
    assert page.status_code == 200
    assert ADDRESS in parse(page.text).links
    assert f'href="{html.escape(ADDRESS)}" rel="noopener noreferrer"' in page.text
    assert "Content-Security-Policy" in page.headers


def test_a_hostile_address_is_never_a_link(server: Server) -> None:
    visitor = Visitor(server)
    queue = visitor.get("/ui/").text + visitor.get("/ui/", params={"page": "2"}).text
    rows = [r for r in _rows(server) if r["Record"].startswith(HOSTILE)]
    assert rows
    assert all("Record link" not in row for row in rows)
    assert "javascript:" not in queue
    page = visitor.get(rows[0]["href"].removeprefix(server.url)).text
    assert not [link for link in parse(page).links if "javascript" in link]
    # Shown as text, escaped: the address's markup is never markup.
    assert html.escape(BAD_ADDRESS) in page
    assert "<b>" not in page


def test_a_record_without_an_address_has_no_link(server: Server) -> None:
    others = [r for r in _rows(server)
              if not r["Record"].startswith((LINKED, HOSTILE))]
    assert others
    assert all("Record link" not in row for row in others)
    page = Visitor(server).get(others[0]["href"].removeprefix(server.url)).text
    assert "the link opens it in" not in page
    assert "not linked" not in page


def test_a_redelivery_that_adds_the_address_is_the_same_event(server: Server) -> None:
    """An adapter upgraded to send `recordurl` re-reads what it sent before: a duplicate,
    not a conflicting re-delivery."""
    first = next(e for e in demo_batch() if e.get("subject") not in (LINKED, HOSTILE))
    again = server.client().events([{**first, "recordurl": "https://example.org/r/1"}])
    assert again.status_code == 200, again.text
    assert again.json()["results"][0]["duplicate"] is True


@pytest.mark.parametrize(("value", "linked"), [
    ("https://primero.example.org/v2/cases/b3222e84", True),
    ("http://kf.example.org/api/v2/assets/a/data/1/", True),
    ("HTTPS://www.commcarehq.org/a/p/reports/case_data/c/", True),
    ("javascript:alert(1)", False),
    ("JavaScript:alert(1)//https://x.org", False),
    ("data:text/html,<script>alert(1)</script>", False),
    ("/v2/cases/1", False),
    ("//evil.example.org/x", False),
    ("https:///no-host", False),
    ("https://kf.example.org/a b", False),
    ("https://kf.example.org/\nSet-Cookie: x", False),
    ("http://[::1", False),
    (42, False),
    (None, False),
])
def test_only_an_http_or_https_address_with_a_host_is_a_link(value: Any, linked: bool) -> None:
    assert web_address(value) == (value if linked else None)
