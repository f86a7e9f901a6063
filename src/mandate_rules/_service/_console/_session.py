"""Who is signed in to the console, and the token each form carries against cross-site posts.

A session is kept on the server, in this process's memory: the browser holds only a random
id in a cookie (HttpOnly, SameSite=Strict, Secure when the request came over TLS, for at
most `LIFETIME`). A restart signs everyone out, which is the price of keeping no secret on
disk. Every form post carries a CSRF token: an HMAC, under a key drawn when the process
starts, of the cookie it belongs to, so a page of another site can neither read nor forge it.
Without tokens (auth off, loopback only) the console signs nobody in, but each browser still
gets a cookie of its own for its forms' tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict

import attrs
from starlette.requests import Request
from starlette.responses import Response

from .._auth import Principal

#: How long a sign-in lasts, from the moment the token was given (a working day).
LIFETIME = 8 * 3600
#: Sessions kept at once; past it the oldest is dropped (its holder signs in again).
MAX_SESSIONS = 10_000
SESSION_COOKIE = "mr_console"
#: A cookie of its own for the sign-in form, so that even signing in needs a token of ours.
SIGN_IN_COOKIE = "mr_console_sign_in"
COOKIE_PATH = "/ui"


@attrs.frozen
class Session:
    """A signed-in browser: who it acts as, and until when."""

    principal: Principal
    expires: float


def over_tls(request: Request) -> bool:
    """The browser reached us over TLS: directly, or through a proxy that says so."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


class Sessions:
    """The console's sessions and CSRF tokens, for one process."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- sessions

    def start(self, principal: Principal) -> str:
        """A new session for `principal`; its id goes into the cookie."""
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[sid] = Session(principal, time.monotonic() + LIFETIME)
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return sid

    def find(self, request: Request) -> Principal | None:
        """Who the request's session cookie signs in, if it is a live session."""
        sid = request.cookies.get(SESSION_COOKIE)
        if not sid:
            return None
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if session.expires <= time.monotonic():
                del self._sessions[sid]
                return None
            return session.principal

    def end(self, request: Request) -> None:
        sid = request.cookies.get(SESSION_COOKIE)
        if sid:
            with self._lock:
                self._sessions.pop(sid, None)

    # ---------------------------------------------------------------- CSRF

    def csrf(self, cookie: str, purpose: str) -> str:
        """The form token bound to this cookie's value and to what the form is for."""
        return hmac.new(self._key, f"{purpose}\0{cookie}".encode(), hashlib.sha256).hexdigest()

    def csrf_holds(self, cookie: str | None, purpose: str, sent: object) -> bool:
        if not cookie or not isinstance(sent, str) or not sent:
            return False
        return hmac.compare_digest(self.csrf(cookie, purpose), sent)


def new_cookie_value() -> str:
    return secrets.token_urlsafe(32)


def set_cookie(response: Response, request: Request, name: str, value: str,
               max_age: int = LIFETIME) -> None:
    """A console cookie: never read by scripts, never sent by another site's request."""
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=over_tls(request))


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="strict",
                           secure=over_tls(request))
