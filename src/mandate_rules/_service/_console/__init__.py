"""The console: `/ui/` in `mandate-rules serve`, for the people who act on advisories.

Server-rendered pages (Jinja2 through Starlette) over the sidecar's own code paths: the
queue filters through the API's advisory filter, the resolution form takes effect through
`Service.resolve` as `POST /v1/advisories/{id}/resolution` does, and every read carries the
signed-in tenant. No page loads anything from another host; the queue and the resolution
form are plain links and forms, and work with JavaScript off.

| module | does |
| --- | --- |
| `_web` | the plumbing: who asks, roles, CSRF on posts, templates, security headers |
| `_session` | sessions (kept in the store's database), their cookie, and the forms' CSRF tokens |
| `_present` | an advisory in words for the pages |
| `_recordlink` | the link to an advisory's record in its source system (http(s) only) |
| `_queue` | the queue: filters, order (most severe, newest first), pages |
| `_pages` | the advisory page and its resolution form; signing in and out |
| `_operation` | one country's operation page: weekly charts and the context profile |
| `_rulespage` | the rules in plain words and the shadow diff |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from . import _operation, _pages, _queue, _rulespage
from ._web import HERE, PREFIX, Console, PageError

if TYPE_CHECKING:
    from .._app import Service

__all__ = ["console_routes"]


class _Static(StaticFiles):
    """The console's scripts and styles, with the same security headers as its pages."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("Cache-Control", "public, max-age=3600")
        return response


def console_routes(service: Service) -> list[BaseRoute]:
    """The console's routes, mounted under `/ui` of the sidecar's app (`/ui` itself is
    redirected to `/ui/` by Starlette's router, as any path without its slash)."""
    console = Console(service)
    read, submit = ("read",), ("submit",)

    async def sign_in(request: Request) -> Response:
        try:
            return await _pages.sign_in(console, request)
        except PageError as exc:
            return console.error_page(request, exc.status, exc.title, exc.message)

    async def not_found(request: Request) -> Response:
        return console.error_page(request, 404, "Not found",
                                  f"There is no console page {request.url.path}.")

    page = console.page
    return [
        Mount(PREFIX, routes=[
            page("/", _queue.queue, ["GET"], read),
            page("/advisories/{advisory_id}", _pages.advisory, ["GET"], read),
            page("/advisories/{advisory_id}/resolution", _pages.resolve, ["POST"],
                 submit),
            page("/operations", _operation.operations_index, ["GET"], read),
            page("/operations/{country}", _operation.operation, ["GET"], read),
            page("/rules", _rulespage.rules, ["GET"], ()),
            Route("/sign-in", sign_in, methods=["GET", "POST"]),
            page("/sign-out", _pages.sign_out, ["POST"], ()),
            Mount("/static", _Static(directory=str(HERE / "static")), name="console-static"),
            Route("/{rest:path}", not_found, methods=["GET", "POST"]),
        ]),
    ]
