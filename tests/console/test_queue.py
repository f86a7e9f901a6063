"""The queue and the advisory page over a real `mandate-rules serve` holding the demo
timeline, auth off (loopback): order, filters, paging, and what each row and page says."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..service.server import Server
from .pages import Visitor, demo_batch, parse, severities

RANK = {"critical": 4, "warning": 3, "advice": 2, "info": 1}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for this module's read-only checks: the demo stream, nothing resolved."""
    workdir: Path = tmp_path_factory.mktemp("console-queue")
    server = Server(workdir).start()
    try:
        response = server.client().events(demo_batch())
        assert response.status_code == 200, response.text
        yield server
    finally:
        server.stop()


def test_the_queue_shows_the_open_advisories_most_severe_and_newest_first(
        demo: Server) -> None:
    visitor = Visitor(demo)
    api = demo.client().all_advisories(status="open")
    first = parse(visitor.get("/ui/").text)
    second = parse(visitor.get("/ui/", params={"page": "2"}).text)
    rows = first.rows + second.rows
    assert len(first.rows) == 50
    assert len(rows) == len(api) == 68
    keys = [(RANK[s], row["time"]) for s, row in zip(severities(rows), rows, strict=True)]
    assert keys == sorted(keys, reverse=True)
    # Each row: the rule, the record, when, the severity with its reason, a link to the page.
    by_id = {a["id"]: a for a in api}
    for row in rows:
        advisory = by_id[row["href"].rsplit("/", 1)[1]]
        assert row["Rule"].startswith(f"{advisory['rule_id']} {advisory['title']}")
        assert row["Record"].startswith(advisory["subject"])
        assert row["time"] == advisory["raised_at"]
        reason = ("; ".join(advisory["severity_reasons"])
                  if advisory["severity"] != advisory["base_severity"]
                  else "the rule's own severity")
        assert row["Severity"] == f"{advisory['severity']} {reason}"


@pytest.mark.parametrize(("filters", "api_filters"), [
    ({"country": "PHL"}, {"country": "PHL"}),
    ({"severity": "critical"}, {"severity": "critical"}),
    ({"rule": "ESC-001"}, {"rule": "ESC-001"}),
    ({"since": "2026-11-16", "until": "2026-11-22"},
     {"since": "2026-11-16T00:00:00Z", "until": "2026-11-23T00:00:00Z"}),
])
def test_each_filter_keeps_what_the_api_keeps(demo: Server, filters: dict[str, str],
                                              api_filters: dict[str, str]) -> None:
    wanted = {a["id"] for a in demo.client().all_advisories(status="open", **api_filters)}
    rows = Visitor(demo).queue(**filters)
    assert wanted
    assert {row["href"].rsplit("/", 1)[1] for row in rows} == wanted


def test_the_area_filter_reads_the_advisory_s_area(demo: Server) -> None:
    rows = Visitor(demo).queue(area="SO-SA")
    everything = demo.client().all_advisories()
    assert rows
    assert len(rows) == sum(a.get("area") == "SO-SA" for a in everything)
    assert all(row["Record"].endswith("SO-SA") for row in rows)


def test_a_bad_filter_is_a_page_naming_the_field(demo: Server) -> None:
    visitor = Visitor(demo)
    for params, words in (({"severity": "urgent"}, "severity: expected one of critical"),
                          ({"since": "20 Nov"}, "since: expected a date such as 2026-11-20"),
                          ({"rule": "ESC-999"}, "rule: no rule 'ESC-999'"),
                          ({"page": "0"}, "page: expected a whole number")):
        response = visitor.get("/ui/", params=params)
        assert response.status_code == 400
        assert words in html.unescape(response.text)
        assert response.headers["content-type"].startswith("text/html")


def test_the_advisory_page_says_everything_behind_an_advisory(demo: Server) -> None:
    api = demo.client()
    advisory = next(a for a in api.all_advisories(rule="ESC-001")
                    if a["severity"] != a["base_severity"])
    page = html.unescape(Visitor(demo).get(f"/ui/advisories/{advisory['id']}").text)
    for text in (advisory["advice"], *advisory["actions"],
                 *(item["condition"] for item in advisory["explanation"]),
                 *(e["id"] for e in advisory["evidence"]),
                 *advisory["severity_reasons"]):
        assert text in page
    # The check marks in words, not letters.
    for words in ("verified in the source", "secondary summary", "heading only",
                  "unverified recall"):
        assert words in page
    assert "escort.requested</code> = yes" in page
    form = [f for f in parse(page).forms if f["action"].endswith("/resolution")]
    assert form
    assert set(form[0]["fields"]) == {"csrf", "decision", "text", "by"}


def test_another_advisory_id_is_a_not_found_page(demo: Server) -> None:
    response = Visitor(demo).get("/ui/advisories/adv-nope")
    assert response.status_code == 404
    assert "no advisory 'adv-nope'" in html.unescape(response.text)
