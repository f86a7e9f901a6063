"""Headless Chromium (Debian's `chromium`) driven by Playwright, for the console's browser
tests and its screenshots; Playwright never downloads a browser of its own here.

`watch` records every request a page makes, and any Content-Security-Policy violation the
browser reports, so a test can say that nothing left the server's host and nothing was
blocked. `axe` runs the vendored axe-core in the page.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE = Path(__file__).with_name("vendor") / "axe.min.js"


@contextmanager
def chromium() -> Iterator[Any]:
    """A Playwright browser on /usr/bin/chromium (the caller skips when there is none)."""
    assert CHROMIUM is not None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """What one browser context asked for, and what its pages complained of."""

    def __init__(self, context: Any) -> None:
        self.requests: list[str] = []
        self.problems: list[str] = []
        context.on("request", lambda request: self.requests.append(request.url))
        context.on("page", self.page)

    def page(self, page: Any) -> None:
        page.on("console", lambda msg: self.problems.append(msg.text)
                if msg.type in ("error", "warning") and "404" not in msg.text else None)
        page.on("pageerror", lambda exc: self.problems.append(str(exc)))

    def elsewhere(self, base: str) -> list[str]:
        """The requests that went anywhere but `base` (the server's own origin)."""
        return [url for url in self.requests if not url.startswith(base + "/")]


def axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now.

    Evaluated through the DevTools protocol, which the page's CSP (no inline script) does
    not govern; the page itself could not load it."""
    if page.evaluate("typeof window.axe") == "undefined":
        page.evaluate(AXE.read_text("utf-8"))
    result: dict[str, Any] = page.evaluate(
        "async () => await window.axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]
