"""The operation page's weekly figures and context profile, and the rules page with the
shadow diff, over a real `mandate-rules serve`."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..service.packs import at, escort, event, flight, v1_rules, v2_rules
from ..service.server import Server
from .pages import Visitor, demo_batch

pytestmark = pytest.mark.both_backends


def _cells(page: str, table_id: str) -> list[list[str]]:
    """The rows of one table of the page, each as its header cell and data cells' text."""
    body = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], flags=re.S)
    return [[" ".join(re.sub(r"<[^>]+>", " ", c).split())
             for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)]
            for row in rows]


def test_the_footprint_counts_each_record_once_a_week_as_its_last_version_says(
        start_server: Callable[..., Server]) -> None:
    server = start_server()
    # T0 is Sunday 1 November 2026: days 1 to 4 are in the week from Monday 2 November,
    # day 8 in the next.

    def esc(entity: str, version: int, alternatives: list[str], time: str) -> dict[str, Any]:
        return event("escort.request", {"armed": True, "entity_id": entity, "version": version,
                                        "alternatives_considered": alternatives},
                     time=time, id=f"{entity}-v{version}")

    events = [
        esc("esc-1", 1, [], at(1)), esc("esc-1", 2, ["route_change"], at(1, 2)),
        esc("esc-2", 1, [], at(2)),
        flight(time=at(3)), flight(time=at(3, 1)),
        event("asset.request", {"asset": {"owner_kind": "ingo"}}, time=at(3)),
        event("communication.publication", {"type": "press_release",
                                            "logos": [{"owner_kind": "mission_military"}]},
              time=at(4)),
        event("communication.publication", {"type": "report"}, time=at(4)),
        esc("esc-3", 1, ["low_profile"], at(8)),
    ]
    assert server.client().events(events).status_code == 200
    page = Visitor(server).get("/ui/operations/SOM").text
    rows = _cells(page, "t-footprint")
    assert [r[1:] for r in rows] == [["2", "2", "1"], ["1", "0", "0"]]
    assert [r[1:] for r in _cells(page, "t-alternatives")] == [["50", "1", "2"],
                                                              ["100", "1", "1"]]
    # The advisories' tables are every advisory of the operation, week by week.
    stored = server.rows("SELECT count(*) FROM advisories WHERE country = 'SOM'")[0][0]
    severity_rows = _cells(page, "t-severity")
    assert sum(int(n) for r in severity_rows for n in r[1:]) == stored > 0
    assert sum(int(n) for r in _cells(page, "t-groups") for n in r[1:]) == stored
    assert 'data-chart="bar"' in page
    assert "/ui/static/vendor/chart.umd.js" in page


def test_the_operation_page_shows_the_context_profile_and_its_updates(
        start_server: Callable[..., Server]) -> None:
    server = start_server()
    assert server.client().events(demo_batch()).status_code == 200
    page = html.unescape(Visitor(server).get("/ui/operations/SOM").text)
    assert "Profile version 2026-11-01" in page
    assert "mission.party_to_conflict" in page
    assert "perceived" in page
    assert "Area SO-BN" in page
    assert "Context updates received" in page
    index = Visitor(server).get("/ui/operations").text
    assert "/ui/operations/SOM" in index
    assert "/ui/operations/PHL" in index


def test_the_rules_page_says_every_rule_in_words_and_the_shadow_diff_as_a_table(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    server = start_server(rules=v1_rules(tmp_path / "live"),
                          args=["--shadow", str(v2_rules(tmp_path / "candidate"))])
    client = server.client()
    assert client.events([escort(armed=True, id="e-armed"),
                          escort(armed=False, id="e-unarmed")]).status_code == 200
    page = html.unescape(Visitor(server).get("/ui/rules").text)
    for rule in client.get("/v1/rules").json()["rules"]:
        text = client.get(f"/v1/rules/{rule['id']}").json()["text"]
        assert text in page  # as `mandate-rules explain` says it
    assert "Candidate rules running in shadow: version 2.0.0" in page
    summary = {r[0]: r[1:] for r in _cells(page, "t-shadow-summary")}
    diff = client.get("/v1/shadow/diff").json()
    assert summary == {rule: [str(c["raise"]), str(c["drop"]), str(c["severity"])]
                       for rule, c in diff["summary"].items()}
    changes = _cells(page, "t-shadow-changes")
    assert ["e-unarmed escort.request", "STL-002", "would raise", "—", "warning"] in changes \
        or any(c[:3] == ["e-unarmed escort.request", "STL-002", "would raise"]
               for c in changes)
    assert any(c[2] == "would grade differently" and c[3:] == ["warning", "critical"]
               for c in changes)
