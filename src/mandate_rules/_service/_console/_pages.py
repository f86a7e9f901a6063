"""The advisory page and its resolution form, and signing in and out."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .._config import token_digest
from .._errors import ApiError
from ._present import DECISION_WORDS, STATUS_WORDS, advisory_page
from ._recordlink import record_addresses
from ._session import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    clear_cookie,
    new_cookie_value,
    set_cookie,
)
from ._web import PREFIX, Console, Visit, read_form, secured

_SIGN_IN_LIFETIME = 3600  # a sign-in form's cookie: an hour to paste a token


async def advisory(console: Console, visit: Visit, *, status: int = 200,
                   problem: str | None = None, entered: dict[str, str] | None = None
                   ) -> Response:
    advisory_id = visit.request.path_params["advisory_id"]
    found, address = await run_in_threadpool(_advisory_and_address, console,
                                             visit.principal.tenant, advisory_id)
    if found is None:  # another tenant's advisory is not found either
        raise ApiError("advisory-not-found", f"There is no advisory {advisory_id!r} for "
                       f"this tenant.", "path.advisory_id")
    return console.render(visit, "advisory.html", status=status,
                          a=advisory_page(found, address),
                          decisions=DECISION_WORDS, status_words=STATUS_WORDS,
                          problem=problem, entered=entered or {},
                          resolved=visit.request.query_params.get("resolved", ""))


def _advisory_and_address(console: Console, tenant: str, advisory_id: str
                          ) -> tuple[dict[str, Any] | None, str | None]:
    """The stored advisory (None: not this tenant's) and its record's web address."""
    store = console.service.store
    found = store.get_advisory(tenant, advisory_id)
    if found is None:
        return None, None
    return found, record_addresses(store._reader(), tenant, [found])[0]


async def resolve(console: Console, visit: Visit) -> Response:
    """The resolution form: the same checks and the same engine-thread job as
    `POST /v1/advisories/{id}/resolution` (`Service.resolve`)."""
    assert visit.form is not None
    advisory_id = visit.request.path_params["advisory_id"]
    entered = {name: str(visit.form.get(name, "")) for name in ("decision", "text", "by")}
    doc: dict[str, Any] = {"decision": entered["decision"], "by": entered["by"].strip()}
    if entered["text"].strip():
        doc["text"] = entered["text"]
    try:
        await console.service.resolve(visit.principal.tenant, advisory_id, doc)
    except ApiError as exc:
        if exc.code != "invalid-resolution":
            raise
        field = {"decision": "Decision", "text": "Reason", "by": "Your name"}.get(
            exc.path or "", exc.path or "the form")
        return await advisory(console, visit, status=422, entered=entered,
                              problem=f"{field}: {exc.message}")
    return RedirectResponse(f"{PREFIX}/advisories/{quote(advisory_id, safe='')}"
                            f"?resolved={quote(entered['decision'])}", status_code=303)


def _next_page(raw: str | None) -> str:
    """Where to go after signing in: a console page of this server, never another site."""
    if raw and raw.startswith(PREFIX + "/") and "//" not in raw and "\\" not in raw:
        return raw
    return PREFIX + "/"


async def sign_in(console: Console, request: Request) -> Response:
    """GET: the sign-in form. POST: a token, checked as the API checks it, for a session."""
    if not console.auth_enabled:  # no tokens: nobody signs in
        return secured(RedirectResponse(PREFIX + "/", status_code=303))
    cookie = request.cookies.get(SIGN_IN_COOKIE, "")
    fresh = not cookie or len(cookie) > 64
    if fresh:
        cookie = new_cookie_value()
    target = _next_page(request.query_params.get("next"))
    problem, status = None, 200
    if request.method == "POST":
        form = await read_form(request)
        target = _next_page(str(form.get("next", "")))
        if fresh or not console.sessions.csrf_holds(cookie, "sign-in", form.get("csrf")):
            problem, status = ("This form's security token is missing or out of date; "
                               "send the token again from this page."), 403
        else:
            token = str(form.get("token", "")).strip()
            try:
                console.service.auth.authenticate(f"Bearer {token}")
            except ApiError:
                problem, status = "This token is not one the server knows. Check it and " \
                                  "try again.", 401
            else:
                signed_in = RedirectResponse(target, status_code=303)
                await run_in_threadpool(console.sessions.end, request)
                set_cookie(signed_in, request, SESSION_COOKIE, await run_in_threadpool(
                    console.sessions.start, token_digest(token)))
                clear_cookie(signed_in, request, SIGN_IN_COOKIE)
                return secured(signed_in)
    response = console.templates.TemplateResponse(
        request, "sign_in.html", status_code=status,
        context={"csrf": console.sessions.csrf(cookie, "sign-in"), "next": target,
                 "problem": problem, "principal": None, "auth_enabled": True,
                 "visit": None, "can_resolve": False, "can_read": False})
    if fresh:
        set_cookie(response, request, SIGN_IN_COOKIE, cookie, max_age=_SIGN_IN_LIFETIME)
    return secured(response)


async def sign_out(console: Console, visit: Visit) -> Response:
    await run_in_threadpool(console.sessions.end, visit.request)
    response = RedirectResponse(PREFIX + "/sign-in" if console.auth_enabled else PREFIX + "/",
                                status_code=303)
    clear_cookie(response, visit.request, SESSION_COOKIE)
    return response
