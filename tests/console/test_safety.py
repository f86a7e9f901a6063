"""Signing in, sessions, CSRF, roles, tenants and the Content-Security-Policy, with tokens
configured, over a real `mandate-rules serve` and plain HTTP as a browser sends it."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest

from ..service.server import Server, token, tokens_env
from .pages import Visitor, demo_batch, parse

A_SUBMIT, A_READ, B_ADMIN, OPERATOR = token(), token(), token(), token()
TOKENS = tokens_env([
    {"token": A_SUBMIT, "tenant": "ingo-a", "roles": ["submit", "read"]},
    {"token": A_READ, "tenant": "ingo-a", "role": "read"},
    {"token": B_ADMIN, "tenant": "ingo-b", "role": "admin"},
    {"token": OPERATOR, "roles": ["metrics"]},
])


@pytest.fixture
def server(start_server: Callable[..., Server]) -> Server:
    """Tenant ingo-a holds the demo's advisories; ingo-b has sent nothing."""
    server = start_server(env=TOKENS)
    assert server.client(A_SUBMIT).events(demo_batch()).status_code == 200
    return server


def _cookie_attributes(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")]
    return {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else "")
            for p in parts[1:]}


def test_pages_ask_for_sign_in_and_a_token_gives_a_strict_session_cookie(
        server: Server) -> None:
    visitor = Visitor(server)
    asked = visitor.get("/ui/?severity=critical", allow_redirects=False)
    assert asked.status_code == 303
    assert asked.headers["location"] == "/ui/sign-in?next=%2Fui%2F%3Fseverity%3Dcritical"
    wrong = visitor.sign_in("not-a-configured-token-at-all")
    assert wrong.status_code == 401
    assert "not one the server knows" in wrong.text
    form = visitor.form("/ui/sign-in?next=%2Fui%2F%3Fseverity%3Dcritical", "/ui/sign-in")
    signed = visitor.post(form["action"], {**form["fields"], "token": A_SUBMIT},
                          allow_redirects=False)
    assert signed.status_code == 303
    assert signed.headers["location"] == "/ui/?severity=critical"
    cookie = next(c for c in signed.raw.headers.getlist("set-cookie")
                  if c.startswith("mr_console="))
    attributes = _cookie_attributes(cookie)
    assert attributes["httponly"] == ""
    assert attributes["samesite"].lower() == "strict"
    assert attributes["path"] == "/ui"
    assert 0 < int(attributes["max-age"]) <= 8 * 3600
    assert "secure" not in attributes  # plain HTTP on loopback
    assert A_SUBMIT not in cookie
    rows = visitor.queue(severity="critical")
    assert rows
    assert all(r["Severity"].startswith("critical") for r in rows)


def test_behind_a_tls_proxy_the_cookies_are_secure(server: Server) -> None:
    # requests keeps a Secure cookie off plain HTTP, as a browser would: send it by hand.
    visitor = Visitor(server)
    tls = {"X-Forwarded-Proto": "https"}
    page = visitor.get("/ui/sign-in", headers=tls)
    first = page.headers["set-cookie"]
    assert "secure" in _cookie_attributes(first)
    fields = parse(page.text).forms[0]["fields"]
    signed = visitor.post("/ui/sign-in", {**fields, "token": A_READ}, allow_redirects=False,
                          headers={**tls, "Cookie": first.split(";")[0]})
    assert signed.status_code == 303
    cookie = next(c for c in signed.raw.headers.getlist("set-cookie")
                  if c.startswith("mr_console="))
    assert "secure" in _cookie_attributes(cookie)


def test_sign_in_needs_the_form_s_own_token(server: Server) -> None:
    visitor = Visitor(server)
    visitor.get("/ui/sign-in")  # a sign-in cookie, but no form token sent back
    refused = visitor.post("/ui/sign-in", {"token": A_SUBMIT}, allow_redirects=False)
    assert refused.status_code == 403
    assert "mr_console=" not in refused.headers.get("set-cookie", "")


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(server: Server) -> None:
    visitor = Visitor(server)
    visitor.sign_in(A_SUBMIT)
    advisory_id = visitor.queue()[0]["href"].rsplit("/", 1)[1]
    form = visitor.form(f"/ui/advisories/{advisory_id}", "/resolution")
    fields = {"decision": "dismissed", "by": "Someone"}
    good = form["fields"]["csrf"]
    altered = good[:-1] + ("1" if good[-1] == "0" else "0")
    for csrf in (None, "", "0" * 64, altered):
        sent = {**fields, **({"csrf": csrf} if csrf is not None else {})}
        refused = visitor.post(form["action"], sent)
        assert refused.status_code == 403
        assert "security token is missing or out of date" in refused.text
    # Another browser's valid token does not fit this browser's cookie.
    other = Visitor(server)
    other.sign_in(A_SUBMIT)
    theirs = other.form(f"/ui/advisories/{advisory_id}", "/resolution")["fields"]["csrf"]
    assert visitor.post(form["action"], {**fields, "csrf": theirs}).status_code == 403
    assert server.rows("SELECT count(*) FROM resolutions") == [(0,)]
    assert visitor.post(form["action"], {**form["fields"], **fields}).status_code == 200
    assert server.rows("SELECT decision FROM resolutions") == [("dismissed",)]


def test_a_read_only_token_sees_no_form_and_cannot_post_one(server: Server) -> None:
    writer, reader = Visitor(server), Visitor(server)
    writer.sign_in(A_SUBMIT)
    reader.sign_in(A_READ)
    advisory_id = reader.queue()[0]["href"].rsplit("/", 1)[1]
    path = f"/ui/advisories/{advisory_id}"
    page = reader.get(path)
    assert page.status_code == 200
    assert [f["action"] for f in parse(page.text).forms] == ["/ui/sign-out"]
    assert "read only" in page.text
    csrf = parse(page.text).forms[0]["fields"]["csrf"]
    refused = reader.post(f"{path}/resolution",
                          {"csrf": csrf, "decision": "dismissed", "by": "Reader"})
    assert refused.status_code == 403
    assert "do not allow this request; it needs submit" in html.unescape(refused.text)
    assert server.rows("SELECT count(*) FROM resolutions") == [(0,)]


def test_another_tenant_sees_none_of_it(server: Server) -> None:
    a, b = Visitor(server), Visitor(server)
    a.sign_in(A_SUBMIT)
    b.sign_in(B_ADMIN)
    ids = [r["href"].rsplit("/", 1)[1] for r in a.queue(status="any")]
    assert len(ids) == 50  # the first page of 68
    assert b.queue(status="any") == []
    assert "68 advisories" not in b.get("/ui/?status=any").text
    for advisory_id in ids[:5]:
        assert b.get(f"/ui/advisories/{advisory_id}").status_code == 404
        form_fields = b.form("/ui/rules", "/ui/sign-out")["fields"]
        refused = b.post(f"/ui/advisories/{advisory_id}/resolution",
                         {**form_fields, "decision": "dismissed", "by": "B"})
        assert refused.status_code == 404
    assert "No event has been received yet" in b.get("/ui/operations").text
    operation = html.unescape(b.get("/ui/operations/SOM").text)
    assert "No advisory yet" in operation
    assert "esc-hr-0001" not in operation
    assert server.rows("SELECT count(*) FROM resolutions") == [(0,)]


def test_an_operator_s_token_reads_the_rules_and_no_tenant_s_advisories(
        server: Server) -> None:
    visitor = Visitor(server)
    visitor.sign_in(OPERATOR)
    assert visitor.get("/ui/").status_code == 403
    rules = visitor.get("/ui/rules")
    assert rules.status_code == 200
    assert "ESC-001" in rules.text


def test_signing_out_ends_the_session(server: Server) -> None:
    visitor = Visitor(server)
    visitor.sign_in(A_READ)
    old = visitor.session.cookies.get("mr_console")
    form = visitor.form("/ui/", "/ui/sign-out")
    out = visitor.post(form["action"], form["fields"], allow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/ui/sign-in"
    again = Visitor(server)
    again.session.cookies.set("mr_console", old or "", path="/ui")
    assert again.get("/ui/", allow_redirects=False).status_code == 303


def test_every_page_forbids_inline_scripts_and_other_hosts(server: Server) -> None:
    visitor = Visitor(server)
    visitor.sign_in(A_SUBMIT)
    advisory_id = visitor.queue()[0]["href"].rsplit("/", 1)[1]
    for path in ("/ui/", f"/ui/advisories/{advisory_id}", "/ui/operations",
                 "/ui/operations/SOM", "/ui/rules", "/ui/sign-in", "/ui/nowhere"):
        response = visitor.get(path)
        policy = response.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["default-src"] == "'self'"
        assert directives["script-src"] == "'self'"
        assert directives["style-src"] == "'self'"
        assert "unsafe" not in policy
        assert "http" not in policy
        assert "*" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        page = parse(response.text)
        assert all(load.startswith("/ui/static/") for load in page.loads), page.loads
        # No inline script and no inline style anywhere.
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text) is None
        assert re.search(r"\sstyle=", response.text) is None
        assert "<style" not in response.text
