"""Reading the console's pages as a browser with JavaScript off would: links, forms, rows.

A `Visitor` is a cookie-keeping `requests` session on one server (never a proxy); its pages
are parsed with the standard library's HTML parser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from typing import Any

import requests

from ..service.server import DEMO, Server


def demo_batch() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DEMO.read_text().splitlines() if line.strip()]


class _Page(HTMLParser):
    """The parts of a console page the tests read."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self.rows: list[dict[str, str]] = []
        self.loads: list[str] = []  # what the page makes a browser fetch by itself
        self.links: list[str] = []
        self._cell: str | None = None
        self._row: dict[str, str] | None = None
        self._in_queue = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get"),
                               "fields": {}})
        elif tag in ("input", "textarea", "select") and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        if tag == "script" and a.get("src"):
            self.loads.append(a["src"])
        if tag in ("link", "img", "iframe", "source") and (a.get("href") or a.get("src")):
            self.loads.append(a.get("href") or a.get("src", ""))
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
            if self._row is not None and "href" not in self._row:
                self._row["href"] = a["href"]
            if self._row is not None and self._cell:  # e.g. "Record link", "Record rel"
                self._row.setdefault(f"{self._cell} link", a["href"])
                self._row.setdefault(f"{self._cell} rel", a.get("rel", ""))
        if tag == "table" and "queue" in a.get("class", "").split():
            self._in_queue = True
        if self._in_queue and tag == "tr":
            self._row = {}
        if self._row is not None and tag == "td":
            self._cell = a.get("data-label", "")
            self._text = []
        if self._row is not None and tag == "time":
            self._row["time"] = a.get("datetime", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_queue = False
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row[self._cell] = " ".join(" ".join(self._text).split())
            self._cell = None
        if tag == "tr" and self._row is not None:
            if self._row.get("Severity"):
                self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


class Visitor:
    """A browser without JavaScript on one server: keeps cookies, follows redirects."""

    def __init__(self, server: Server) -> None:
        self.base = server.url
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only, never a proxy

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base + path, timeout=60, **kwargs)

    def post(self, path: str, fields: Mapping[str, str], **kwargs: Any) -> requests.Response:
        return self.session.post(self.base + path, data=dict(fields), timeout=60, **kwargs)

    def form(self, path: str, action_part: str) -> dict[str, Any]:
        """The form of the page at `path` whose action contains `action_part`."""
        response = self.get(path)
        assert response.status_code == 200, response.text
        found = [f for f in parse(response.text).forms if action_part in f["action"]]
        assert found, f"no form posting to {action_part} on {path}"
        return found[0]

    def sign_in(self, token: str) -> requests.Response:
        form = self.form("/ui/sign-in", "/ui/sign-in")
        return self.post(form["action"], {**form["fields"], "token": token})

    def queue(self, **filters: str) -> list[dict[str, str]]:
        response = self.get("/ui/", params=filters)
        assert response.status_code == 200, response.text
        return parse(response.text).rows


def severities(rows: Sequence[Mapping[str, str]]) -> list[str]:
    return [row["Severity"].split()[0].lower() for row in rows]
