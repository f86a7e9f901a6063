"""Who is signed in to the console, and the token each form carries against cross-site posts.

A session is kept on the server, in the store's database (`console_sessions`), so that
every replica of one database knows it: the browser holds only a random id in a cookie
(HttpOnly, SameSite=Strict, Secure when the request came over TLS, for at most `LIFETIME`),
and the table only a hash of that id and the digest of the token signed in with. A session
acts for what its token is configured as now: a token taken out of the settings signs its
sessions out. Every form post carries a CSRF token: an HMAC of the cookie it belongs to
under a key drawn once for the database (`console_secret`), so a page of another site can
neither read nor forge it, and a form one replica rendered is taken by any other.
Without tokens (auth off, loopback only) the console signs nobody in, but each browser still
gets a cookie of its own for its forms' tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

from starlette.requests import Request
from starlette.responses import Response

from .._auth import Authenticator, Principal
from .._dbfile import connect_target
from .._reads import StoreReads

#: How long a sign-in lasts, from the moment the token was given (a working day).
LIFETIME = 8 * 3600
SESSION_COOKIE = "mr_console"
#: A cookie of its own for the sign-in form, so that even signing in needs a token of ours.
SIGN_IN_COOKIE = "mr_console_sign_in"
COOKIE_PATH = "/ui"


def over_tls(request: Request) -> bool:
    """The browser reached us over TLS: directly, or through a proxy that says so."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _hashed(sid: str) -> str:
    # Only a hash of the cookie is stored: whoever reads the table cannot sign in with it.
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


class Sessions:
    """The console's sessions and CSRF tokens, in the store's database. Every method but
    `csrf` and `csrf_holds` reads or writes it: call them off the event loop."""

    def __init__(self, store: StoreReads, auth: Authenticator) -> None:
        self._store = store  # its reading connections look sessions up
        self._target = store.target
        self._auth = auth
        self._key_lock = threading.Lock()
        self._key: bytes | None = None

    def _write(self, *statements: tuple[str, tuple[object, ...]]) -> None:
        # Signing in and out is rare: a connection of its own for each, rather than one kept
        # open beside the engine thread's writer.
        conn = connect_target(self._target, reader=False, role="console")
        try:
            for sql, args in statements:
                conn.execute(sql, args)
        finally:
            conn.close()

    # ---------------------------------------------------------------- sessions

    def start(self, token_digest: str) -> str:
        """A new session for the token of `token_digest`; its id goes into the cookie. The
        sessions that ran out are deleted meanwhile."""
        sid = secrets.token_urlsafe(32)
        now = time.time()
        self._write(("DELETE FROM console_sessions WHERE expires_ts <= ?", (now,)),
                    ("INSERT INTO console_sessions (id, token_digest, expires_ts) "
                     "VALUES (?, ?, ?)", (_hashed(sid), token_digest, now + LIFETIME)))
        return sid

    def find(self, request: Request) -> Principal | None:
        """Who the request's session cookie signs in, if it is a live session of a token
        still configured."""
        sid = request.cookies.get(SESSION_COOKIE)
        if not sid or len(sid) > 64:
            return None
        row = self._store._reader().execute(
            "SELECT token_digest FROM console_sessions WHERE id = ? AND expires_ts > ?",
            (_hashed(sid), time.time())).fetchone()
        return None if row is None else self._auth.by_digest(row[0])

    def end(self, request: Request) -> None:
        sid = request.cookies.get(SESSION_COOKIE)
        if sid and len(sid) <= 64:
            self._write(("DELETE FROM console_sessions WHERE id = ?", (_hashed(sid),)))

    # ---------------------------------------------------------------- CSRF

    def load_key(self) -> None:
        """Read the forms' key (drawn by the first process to ask); before `csrf`."""
        with self._key_lock:
            if self._key is not None:
                return
            self._write(("INSERT INTO console_secret (id, secret) VALUES (1, ?) "
                         "ON CONFLICT DO NOTHING", (secrets.token_hex(32),)))
            row = self._store._reader().execute(
                "SELECT secret FROM console_secret WHERE id = 1").fetchone()
            self._key = bytes.fromhex(row[0])

    def csrf(self, cookie: str, purpose: str) -> str:
        """The form token bound to this cookie's value and to what the form is for."""
        if self._key is None:
            raise RuntimeError("Sessions.load_key() has not run")
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
