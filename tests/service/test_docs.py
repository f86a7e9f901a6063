"""The README's sidecar commands work as written, against a real server."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable

from mandate_rules import Event

from .server import ROOT, RULES_DIR, Server


def sidecar_section() -> str:
    return (ROOT / "README.md").read_text().split("## The HTTP sidecar", 1)[1]


def test_the_readme_starts_the_sidecar_and_posts_with_one_curl_line(
        start_server: Callable[..., Server]) -> None:
    blocks = re.findall(r"```\n(.+?)\n```", sidecar_section(), flags=re.S)
    assert blocks[0] == ".venv/bin/mandate-rules serve"
    (curl,) = [b for b in blocks if b.startswith("curl ")]
    assert "\n" not in curl
    words = shlex.split(curl)
    url = words[2]
    headers = dict(h.split(": ", 1) for h in words[words.index("-H") + 1:][:1])
    body = json.loads(words[words.index("-d") + 1])
    assert url == "http://127.0.0.1:8765/v1/events"  # the default port
    server = start_server(rules=RULES_DIR)
    response = server.client().session.post(server.url + "/v1/events", data=json.dumps(body),
                                             headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    assert "ESC-001" in [a["rule_id"] for a in response.json()["advisories"]]


def test_the_curl_example_sends_a_valid_event() -> None:
    script = (ROOT / "docs" / "examples" / "curl.sh").read_text()
    payload = re.search(r"/v1/events\" -H '[^']+' -d '(\{.+?\})'\n", script, flags=re.S)
    assert payload is not None
    event = Event.from_json(json.loads(payload.group(1)))
    assert event.type == "escort.request"
