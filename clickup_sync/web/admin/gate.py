"""The door of /admin, in front of every admin URL (pages, actions, static files):

1. neither ADMIN_PASSWORD nor ADMIN_TOKEN set → 403 with one line saying how to enable it;
2. every browser gets a CSRF seed cookie (see `security.py`); POST handlers check the token;
3. `/login` and `/static/…` are open; anything else needs a valid `Authorization` header or
   session cookie. Wrong credentials → 401 without detail, after a short pause, and the client's
   next attempts wait longer and longer (`throttle.py`): 429 with Retry-After until then.
   No credentials at all: a browser GET is sent to the login page, anything else gets 401.

Every response carries headers that keep the pages out of caches and frames and allow only our
own scripts and styles.
"""

from __future__ import annotations

import asyncio
import math
from typing import Final
from urllib.parse import quote

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clickup_sync.web.admin.security import CSRF_COOKIE, NOT_CONFIGURED, SESSION_COOKIE, AdminSecrets
from clickup_sync.web.admin.throttle import LoginThrottle

FAILURE_PAUSE_SECONDS: Final = 0.5  # every wrong guess costs this much on top of the throttle
OPEN_PATHS: Final = ("/login", "/static/")
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def admin_root(scope: Scope) -> str:
    """Where /admin is mounted (its root_path), so links work under any prefix."""
    return str(scope.get("root_path", "")).rstrip("/")


def route_path(scope: Scope) -> str:
    path, root = str(scope["path"]), admin_root(scope)
    return path[len(root) :] or "/" if root and path.startswith(root) else path


def client_address(request: Request) -> str:
    """The peer address (uvicorn resolves X-Forwarded-For from trusted proxies only)."""
    return request.client.host if request.client else "unknown"


def set_admin_cookie(
    response: Response, scope: Scope, name: str, value: str, *, max_age: int | None = None
) -> None:
    """Cookies of /admin: Secure, HttpOnly, SameSite=Strict, sent to admin URLs only."""
    response.set_cookie(
        name, value, max_age=max_age, path=admin_root(scope) or "/", secure=True, httponly=True,
        samesite="strict",
    )  # fmt: skip


class AdminGate:
    def __init__(self, app: ASGIApp, secrets: AdminSecrets, throttle: LoginThrottle) -> None:
        self.app = app
        self.secrets = secrets
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_headers(scope, send)
        if not self.secrets.configured:
            await PlainTextResponse(NOT_CONFIGURED, status_code=403)(scope, receive, send)
            return
        request = Request(scope)
        path = route_path(scope)
        denied = None if path.startswith(OPEN_PATHS) else await self._authenticate(request, path)
        if denied is not None:
            await denied(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _authenticate(self, request: Request, path: str) -> Response | None:
        """None when the request may pass, else the answer to send."""
        header = request.headers.get("authorization")
        if header is None:
            if self.secrets.session_valid(request.cookies.get(SESSION_COOKIE)):
                request.scope.setdefault("state", {})["admin_auth"] = "session"
                return None
            if request.method in ("GET", "HEAD"):
                target = path + (f"?{request.url.query}" if request.url.query else "")
                login = f"{admin_root(request.scope)}/login?next={quote(target, safe='')}"
                return RedirectResponse(login, status_code=303)
            return PlainTextResponse("Unauthorized\n", status_code=401)
        client = client_address(request)
        wait = self.throttle.retry_after(client)
        if wait > 0:
            return too_many_attempts(wait)
        if self.secrets.check_authorization(header):
            self.throttle.succeeded(client)
            request.scope.setdefault("state", {})["admin_auth"] = header.split(" ", 1)[0].lower()
            return None
        await self.record_failure(client)
        return PlainTextResponse(
            "Unauthorized\n",
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="clickup-sync admin"'},
        )

    async def record_failure(self, client: str) -> None:
        self.throttle.failed(client)
        await asyncio.sleep(FAILURE_PAUSE_SECONDS)

    def _with_headers(self, scope: Scope, send: Send) -> Send:
        """Add the security headers, and a CSRF seed cookie when the browser has none yet (the seed
        is put in the scope so the page being rendered can sign its forms with it)."""
        state = scope.setdefault("state", {})
        seed = Request(scope).cookies.get(CSRF_COOKIE)
        new_seed = None
        if not AdminSecrets.csrf_seed_looks_valid(seed):
            seed = new_seed = AdminSecrets.new_csrf_seed()
        state["csrf_seed"] = seed

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if new_seed is not None:
                    cookie = Response()
                    set_admin_cookie(cookie, scope, CSRF_COOKIE, new_seed)
                    headers.append("set-cookie", cookie.headers["set-cookie"])
            await send(message)

        return send_with_headers


def too_many_attempts(wait: float) -> Response:
    return PlainTextResponse(
        "Too many attempts; try again later.\n",
        status_code=429,
        headers={"Retry-After": str(math.ceil(wait))},
    )
