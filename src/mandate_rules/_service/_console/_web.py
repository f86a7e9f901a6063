"""The console's plumbing: who is asking, the templates, the headers every answer carries,
and errors as pages rather than JSON.

Every page goes through `Console.page`, which finds the signed-in principal (or, with no
tokens configured, the one open tenant), checks its role, checks the CSRF token of a post,
renders, and adds the security headers: a Content-Security-Policy that allows scripts,
styles, images and connections from this server only and no inline script or style.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

import attrs
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from ..._database import DB_ERRORS
from ..._errors import MandateRulesError
from .._auth import Principal
from .._errors import ApiError, internal_error
from ._session import SESSION_COOKIE, Sessions, new_cookie_value, set_cookie

if TYPE_CHECKING:
    from .._app import Service

log = logging.getLogger("mandate_rules.service")

HERE = Path(__file__).parent
PREFIX = "/ui"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS: Mapping[str, str] = MappingProxyType({
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
})
#: The largest form the console reads (a justification is at most 10,000 characters).
MAX_FORM_BYTES = 64 * 1024

Handler = Callable[["Console", "Visit"], Awaitable[Response]]


class PageError(MandateRulesError):
    """A request the console cannot serve, said as a page: its status, title and message."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


@attrs.frozen
class Visit:
    """One request to the console: who makes it, and the cookie its forms' tokens bind to."""

    request: Request
    principal: Principal
    cookie: str
    form: FormData | None = None

    def may(self, role: str) -> bool:
        """Whether the principal holds `role` (a tenant's admin holds submit and read)."""
        try:
            self.principal.require(role)
        except ApiError:
            return False
        return True


class Console:
    """The console's routes over one running `Service`."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.sessions = Sessions(service.store, service.auth)
        self.sessions.load_key()  # at start, off any request: the forms' key, from the store
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.globals["PREFIX"] = PREFIX
        self.templates.env.filters["q"] = lambda value: quote(str(value), safe="")

    @property
    def auth_enabled(self) -> bool:
        return self.service.auth.enabled

    def render(self, visit: Visit, template: str, status: int = 200,
               **context: Any) -> Response:
        """A page: `template` with the visit's principal, its forms' token and `context`."""
        return self.templates.TemplateResponse(
            visit.request, template, status_code=status,
            context={"visit": visit, "principal": visit.principal,
                     "auth_enabled": self.auth_enabled,
                     "csrf": self.sessions.csrf(visit.cookie, "form"),
                     "can_resolve": visit.may("submit"), "can_read": visit.may("read"),
                     **context})

    def error_page(self, request: Request, status: int, title: str, message: str,
                   principal: Principal | None = None) -> Response:
        response = self.templates.TemplateResponse(
            request, "error.html", status_code=status,
            context={"title": title, "message": message, "principal": principal,
                     "auth_enabled": self.auth_enabled, "visit": None, "csrf": "",
                     "can_resolve": False, "can_read": False})
        return secured(response)

    def page(self, path: str, handler: Handler, methods: list[str],
             roles: tuple[str, ...]) -> Route:
        """A console route: signed in (else to the sign-in page), holding one of `roles`
        (none: any signed-in principal), a post with a valid CSRF token."""
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            response = await self._answer(request, handler, roles)
            self.service.metrics.requests.inc(request.method, PREFIX + path,
                                              str(response.status_code))
            self.service.metrics.latency.observe(time.perf_counter() - started,
                                                 request.method, PREFIX + path)
            return secured(response)

        return Route(path, endpoint, methods=methods)

    async def _answer(self, request: Request, handler: Handler,
                      roles: tuple[str, ...]) -> Response:
        principal: Principal | None = None
        try:
            principal, cookie, fresh = await run_in_threadpool(self._who, request)
            if principal is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query
                                             else "")
                return RedirectResponse(f"{PREFIX}/sign-in?next={quote(target, safe='')}",
                                        status_code=303)
            if roles:
                principal.require(*roles)
            form = None
            if request.method == "POST":
                form = await read_form(request)
                if not self.sessions.csrf_holds(request.cookies.get(SESSION_COOKIE), "form",
                                                form.get("csrf")):
                    return self.error_page(request, 403, "Form refused",
                                           "This form's security token is missing or out of "
                                           "date. Go back, reload the page and send it again.",
                                           principal)
            response = await handler(self, Visit(request, principal, cookie, form))
            if fresh:
                set_cookie(response, request, SESSION_COOKIE, cookie)
            return response
        except ApiError as exc:
            return self.error_page(request, exc.status, _TITLES.get(exc.status, "Error"),
                                   exc.message, principal)
        except PageError as exc:
            return self.error_page(request, exc.status, exc.title, exc.message, principal)
        except ClientDisconnect:
            return Response(status_code=400)
        except DB_ERRORS as exc:
            log.error("reading the store failed on %s %s: %s", request.method,
                      request.url.path, exc)
            return self.error_page(request, 503, "Store unavailable", "The database could not "
                                   "be read just now; try again in a few seconds.", principal)
        except Exception as exc:
            error = internal_error(log, f"unexpected error on {request.method} "
                                        f"{request.url.path}", exc)
            return self.error_page(request, 500, "Something went wrong", error.message,
                                   principal)

    def _who(self, request: Request) -> tuple[Principal | None, str, bool]:
        """The principal, the cookie its forms bind to, and whether that cookie is new (reads
        the store: off the event loop)."""
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if self.auth_enabled:
            return self.sessions.find(request), cookie, False
        # No tokens: loopback only (serve refuses anything else), one open tenant.
        principal = self.service.auth.authenticate(None)
        if cookie and len(cookie) <= 64:
            return principal, cookie, False
        return principal, new_cookie_value(), True


_TITLES = MappingProxyType({
    400: "Bad request", 401: "Sign in", 403: "Not allowed", 404: "Not found", 409: "Conflict",
    413: "Too large", 415: "Bad request", 422: "Not accepted", 503: "Unavailable"})


def secured(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def read_form(request: Request) -> FormData:
    """A url-encoded form of at most `MAX_FORM_BYTES`; anything else is a bad request."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise PageError(415, "Form refused", f"the console reads forms sent as "
                        f"application/x-www-form-urlencoded, not {kind or 'no Content-Type'}")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        raise PageError(413, "Form refused", f"a console form is at most {MAX_FORM_BYTES} "
                        f"bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PageError(413, "Form refused", f"a console form is at most "
                            f"{MAX_FORM_BYTES} bytes")
    try:
        pairs: list[tuple[str, str | UploadFile]] = list(parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=50))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PageError(400, "Form refused", f"the form could not be read: {exc}") from exc
    return FormData(pairs)
