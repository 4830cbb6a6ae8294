"""Who gets into /admin: off unless configured, basic / bearer / login-form cookie, 401 without
detail on wrong credentials, guessing slowed down, CSRF on every POST."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie

import anyio
import httpx
import pytest

from clickup_sync.web.admin.gate import FAILURE_PAUSE_SECONDS
from clickup_sync.web.admin.security import CSRF_COOKIE, SESSION_COOKIE
from tests.integration.admin.conftest import PASSWORD, TOKEN, AdminService, admin_service, admin_settings

pytestmark = pytest.mark.anyio

POST_ROUTES = ["/admin/login", "/admin/logout", "/admin/dead-letters/replay", "/admin/jobs/1/retry"]


@pytest.fixture
async def anonymous(database_url: str) -> AsyncIterator[AdminService]:
    async with admin_service(admin_settings(database_url), database_url) as running:
        yield running


async def test_without_password_or_token_every_admin_url_is_403_with_how_to_enable(database_url: str) -> None:
    settings = admin_settings(database_url, admin_password=None, admin_token=None)
    async with admin_service(settings, database_url, auth=httpx.BasicAuth("admin", PASSWORD)) as service:
        for method, path in [
            ("GET", "/admin/"), ("GET", "/admin/login"), ("GET", "/admin/static/admin.css"),
            ("GET", "/admin/tasks/t1"), ("POST", "/admin/login"), ("POST", "/admin/dead-letters/replay"),
        ]:  # fmt: skip
            answer = await service.http.request(method, path)
            assert answer.status_code == 403, path
            assert answer.text.count("\n") == 1
            assert "ADMIN_PASSWORD" in answer.text and "ADMIN_TOKEN" in answer.text
        bare = await service.http.get("/admin", follow_redirects=True)  # Starlette adds the slash
        assert bare.status_code == 403 and "ADMIN_TOKEN" in bare.text
        assert (await service.http.get("/healthz")).status_code == 200  # the rest of the service is on


async def test_basic_auth_and_bearer_token_let_in(anonymous: AdminService) -> None:
    http = anonymous.http
    assert (await http.get("/admin/", auth=httpx.BasicAuth("admin", PASSWORD))).status_code == 200
    assert (await http.get("/admin/", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200
    # No credentials: a browser is sent to the login form (keeping where it wanted to go).
    answer = await http.get("/admin/tasks?q=DEF-43")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/login?next=%2Ftasks%3Fq%3DDEF-43"


async def test_wrong_credentials_get_401_without_detail_and_are_slowed(anonymous: AdminService) -> None:
    http = anonymous.http
    wrong = [
        httpx.BasicAuth("admin", "wrong"),
        httpx.BasicAuth("root", PASSWORD),  # right password, wrong user
        {"Authorization": f"Bearer {PASSWORD}"},  # the password is not the token
    ]
    for attempt in wrong:
        started = time.monotonic()
        if isinstance(attempt, dict):
            answer = await http.get("/admin/", headers=attempt)
        else:
            answer = await http.get("/admin/", auth=attempt)
        assert answer.status_code == 401
        assert answer.text == "Unauthorized\n"  # says nothing about which part was wrong
        assert time.monotonic() - started >= FAILURE_PAUSE_SECONDS * 0.9
    # The 4th failure in a row: from now on this client waits before it may try again, and even the
    # right password is refused (429) until then.
    assert (await http.get("/admin/", auth=httpx.BasicAuth("admin", "guess"))).status_code == 401
    locked = await http.get("/admin/", auth=httpx.BasicAuth("admin", PASSWORD))
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) >= 1
    await anyio.sleep(float(locked.headers["retry-after"]) + 0.1)
    assert (await http.get("/admin/", auth=httpx.BasicAuth("admin", PASSWORD))).status_code == 200
    # Success forgot the failures: a typo now costs no wait.
    assert (await http.get("/admin/", auth=httpx.BasicAuth("admin", "typo"))).status_code == 401
    assert (await http.get("/admin/", auth=httpx.BasicAuth("admin", PASSWORD))).status_code == 200


async def test_login_form_sets_a_signed_secure_cookie_that_is_not_the_token(anonymous: AdminService) -> None:
    http = anonymous.http
    csrf = await anonymous.csrf_token("/admin/login")
    form = {"csrf_token": csrf, "username": "", "password": TOKEN, "next": "/tasks?q=x"}
    answer = await http.post("/admin/login", data=form)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/tasks?q=x"
    [set_cookie] = [h for h in answer.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)]
    attributes = set_cookie.lower()
    assert "secure" in attributes and "httponly" in attributes and "samesite=strict" in attributes
    assert "path=/admin" in attributes
    value = SimpleCookie(set_cookie)[SESSION_COOKIE].value
    assert TOKEN not in value and PASSWORD not in value
    assert (await http.get("/admin/")).status_code == 200  # the cookie alone lets in

    # A forged or altered cookie is worth nothing.
    http.cookies.set(SESSION_COOKIE, value[:-1] + ("0" if value[-1] != "0" else "1"), path="/admin")
    assert (await http.get("/admin/")).status_code == 303
    http.cookies.delete(SESSION_COOKIE)

    # User + password work too; the wrong password gets a 401 page saying only that it failed.
    csrf = await anonymous.csrf_token("/admin/login")
    failed = await http.post(
        "/admin/login", data={"csrf_token": csrf, "username": "admin", "password": "nope"}
    )
    assert failed.status_code == 401
    assert "Sign-in failed." in failed.text
    ok = await http.post("/admin/login", data={"csrf_token": csrf, "username": "admin", "password": PASSWORD})
    assert ok.status_code == 303 and ok.headers["location"] == "/admin/"

    # Signing out clears it.
    csrf = await anonymous.csrf_token("/admin/")
    assert (await http.post("/admin/logout", data={"csrf_token": csrf})).status_code == 303
    assert (await http.get("/admin/")).status_code == 303


async def test_login_never_redirects_off_site(anonymous: AdminService) -> None:
    csrf = await anonymous.csrf_token("/admin/login")
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        answer = await anonymous.http.post(
            "/admin/login", data={"csrf_token": csrf, "password": TOKEN, "next": target}
        )
        assert answer.headers["location"] == "/admin/"


async def test_every_post_needs_a_valid_csrf_token(service: AdminService) -> None:
    http = service.http
    valid = await service.csrf_token("/admin/")
    seed = http.cookies.get(CSRF_COOKIE)
    for path in POST_ROUTES:
        assert (await http.post(path, data={})).status_code == 403, path
        assert (await http.post(path, data={"csrf_token": "0" * 64})).status_code == 403, path
    # A token is bound to the browser's seed: with another browser's seed it is refused.
    http.cookies.set(CSRF_COOKIE, "f" * 32, path="/admin")
    assert (
        await http.post("/admin/dead-letters/replay", data={"csrf_token": valid, "all": "1"})
    ).status_code == 403
    http.cookies.set(CSRF_COOKIE, seed or "", path="/admin")
    replayed = await http.post("/admin/dead-letters/replay", data={"csrf_token": valid, "all": "1"})
    assert replayed.status_code == 303


async def test_pages_forbid_framing_and_foreign_scripts(service: AdminService) -> None:
    answer = await service.http.get("/admin/")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    css = await service.http.get("/admin/static/admin.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
