"""The console in headless Chromium (Playwright, Debian's chromium): sign in, filter, open,
resolve; read-only and other tenants; a post without its CSRF token; nothing loaded from
another host and no CSP violation; axe-core finds no serious or critical violation; and the
queue and the form with JavaScript off. Skipped when chromium is not installed."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..service.server import Server, token, tokens_env
from .browser import CHROMIUM, Watched, axe, chromium
from .pages import demo_batch

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

REASON = "Reason (required to justify; optional otherwise)"
WRITER, READER, OTHER = token(), token(), token()
TOKENS = tokens_env([
    {"token": WRITER, "tenant": "ingo-a", "roles": ["submit", "read"]},
    {"token": READER, "tenant": "ingo-a", "role": "read"},
    {"token": OTHER, "tenant": "ingo-b", "role": "admin"},
])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def server(start_server: Callable[..., Server]) -> Server:
    server = start_server(env=TOKENS)
    assert server.client(WRITER).events(demo_batch()).status_code == 200
    return server


def _sign_in(page: Any, server: Server, secret: str) -> None:
    page.goto(server.url + "/ui/")
    assert page.url.startswith(server.url + "/ui/sign-in")
    page.get_by_label("Access token").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url + "/ui/")


def _queue_ids(page: Any) -> list[str]:
    hrefs = page.locator("table.queue tbody a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    return [h.rsplit("/", 1)[1] for h in hrefs]


def test_sign_in_filter_open_resolve_and_it_leaves_the_open_queue(
        browser: Any, server: Server) -> None:
    context = browser.new_context()
    watched = Watched(context)
    page = context.new_page()
    _sign_in(page, server, WRITER)
    assert page.get_by_text("Tenant ingo-a").is_visible()
    assert "68 advisories" in page.locator("#queue-count").inner_text()

    page.get_by_label("Severity").select_option("warning")
    page.get_by_label("Country").fill("SOM")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**severity=warning**")
    badges = page.locator("table.queue .sev").all_inner_texts()
    assert badges
    assert {b.lower() for b in badges} == {"warning"}
    wanted = server.client(WRITER).all_advisories(severity="warning", country="SOM",
                                                  status="open")
    assert len(badges) == len(wanted)

    first = _queue_ids(page)[0]
    page.locator("table.queue tbody a").first.click()
    page.wait_for_url(f"**/ui/advisories/{first}")
    assert page.get_by_role("heading", name="Why it was raised").is_visible()
    page.get_by_label("Dismiss: not applicable to this record").check()
    page.get_by_label(REASON, exact=True).fill("Duplicate of a request already withdrawn.")
    page.get_by_label("Your name").fill("Amina Yusuf")
    page.get_by_role("button", name="Record the decision").click()
    page.wait_for_url("**resolved=dismissed")
    assert "left the open queue" in page.get_by_role("status").inner_text()
    assert "Duplicate of a request already withdrawn." in page.locator(".history").inner_text()

    page.get_by_role("link", name="← Queue").click()
    assert first not in _queue_ids(page)
    stored = server.client(WRITER).get(f"/v1/advisories/{first}").json()
    assert stored["status"] == "dismissed"
    assert stored["resolutions"][0]["by"] == "Amina Yusuf"
    assert watched.elsewhere(server.url) == []
    assert watched.problems == []
    context.close()


def test_a_read_only_token_sees_no_form(browser: Any, server: Server) -> None:
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, server, READER)
    page.locator("table.queue tbody a").first.click()
    page.wait_for_url("**/ui/advisories/**")
    assert page.get_by_role("heading", name="Advice").is_visible()
    assert page.locator("form[action$='/resolution']").count() == 0
    assert page.get_by_role("heading", name="Resolve").count() == 0
    assert "read only" in page.locator(".who").inner_text()
    context.close()


def test_another_tenant_s_token_sees_none_of_it(browser: Any, server: Server) -> None:
    theirs = server.client(WRITER).all_advisories()
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, server, OTHER)
    assert page.locator("#queue-count").inner_text().startswith("0 advisories")
    page.goto(server.url + "/ui/?status=any")
    assert page.locator("table.queue").count() == 0
    answer = page.goto(server.url + f"/ui/advisories/{theirs[0]['id']}")
    assert answer is not None
    assert answer.status == 404
    assert theirs[0]["advice"] not in html.unescape(page.content())
    context.close()


def test_a_post_without_its_csrf_token_is_refused(browser: Any, server: Server) -> None:
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, server, WRITER)
    page.locator("table.queue tbody a").first.click()
    page.wait_for_url("**/ui/advisories/**")
    advisory_id = page.url.rsplit("/", 1)[1]
    page.evaluate("document.querySelector('form.resolve input[name=csrf]').remove()")
    page.get_by_label("Acknowledge: seen, and acted on as advised").check()
    page.get_by_label("Your name").fill("Amina Yusuf")
    with page.expect_navigation():
        page.get_by_role("button", name="Record the decision").click()
    assert page.get_by_role("heading", name="Form refused").is_visible()
    # The browser's own cookie alone, with no form token, is refused too.
    answer = context.request.post(server.url + f"/ui/advisories/{advisory_id}/resolution",
                                  form={"decision": "acknowledged", "by": "Amina Yusuf"})
    assert answer.status == 403
    assert server.client(WRITER).get(f"/v1/advisories/{advisory_id}").json()[
        "resolutions"] == []
    context.close()


def test_every_page_loads_only_from_its_server_and_passes_axe(
        browser: Any, server: Server) -> None:
    context = browser.new_context()
    watched = Watched(context)
    page = context.new_page()
    page.goto(server.url + "/ui/sign-in")
    found = {"sign-in": axe(page)}
    _sign_in(page, server, WRITER)
    advisory_id = _queue_ids(page)[0]
    for name, path in (("queue", "/ui/"), ("advisory", f"/ui/advisories/{advisory_id}"),
                       ("operations", "/ui/operations"), ("operation", "/ui/operations/SOM"),
                       ("rules", "/ui/rules"), ("not found", "/ui/nowhere")):
        page.goto(server.url + path)
        page.wait_for_load_state("networkidle")
        found[name] = axe(page)
    assert {name: v for name, v in found.items() if v} == {}
    # The operation page drew its charts from the sidecar's own copy of Chart.js.
    page.goto(server.url + "/ui/operations/SOM")
    page.wait_for_load_state("networkidle")
    assert page.locator(".chart.drawn canvas").count() == 4
    assert any(url.endswith("/ui/static/vendor/chart.umd.js") for url in watched.requests)
    assert watched.elsewhere(server.url) == []
    assert watched.problems == []  # no CSP violation, no script error
    context.close()


def test_the_queue_and_the_form_work_with_javascript_off(browser: Any,
                                                         server: Server) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _sign_in(page, server, WRITER)
    page.get_by_label("Rule").select_option("ESC-001")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**rule=ESC-001**")
    ids = _queue_ids(page)
    assert ids
    assert len(ids) == len(server.client(WRITER).all_advisories(rule="ESC-001"))
    page.locator("table.queue tbody a").first.click()
    page.get_by_label("Justify: go ahead, for the reason written below").check()
    page.get_by_label(REASON, exact=True).fill("No other road for five weeks; HC approved.")
    page.get_by_label("Your name").fill("Amina Yusuf")
    page.get_by_role("button", name="Record the decision").click()
    page.wait_for_url("**resolved=justified")
    page.goto(server.url + "/ui/?rule=ESC-001")
    assert ids[0] not in _queue_ids(page)
    # Without scripts the operation page's figures are its tables.
    page.goto(server.url + "/ui/operations/SOM")
    assert page.locator("table#t-footprint tbody tr").count() > 0
    assert page.locator(".chart canvas").count() == 0
    context.close()


def test_the_queue_reads_on_a_phone(browser: Any, server: Server) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    _sign_in(page, server, WRITER)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no sideways scrolling
    assert page.locator("table.queue tbody tr").first.is_visible()
    assert axe(page) == []
    context.close()


def test_the_checks_themselves_see_a_violation(browser: Any, server: Server) -> None:
    """The watchers above are not blind: a label taken away is an axe violation, and an
    inline script put in the page is refused by its CSP and reported."""
    context = browser.new_context()
    watched = Watched(context)
    page = context.new_page()
    page.goto(server.url + "/ui/sign-in")
    assert axe(page) == []
    page.evaluate("document.querySelector('label[for=token]').remove()")
    assert "label" in {v["id"] for v in axe(page)}
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.injected = 1'; document.body.append(s); }""")
    assert page.evaluate("typeof window.injected") == "undefined"
    page.wait_for_timeout(200)
    assert any("Content Security Policy" in p for p in watched.problems), watched.problems
    context.close()
