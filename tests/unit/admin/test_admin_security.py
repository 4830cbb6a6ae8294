"""The pure parts of /admin's door: the guessing throttle (with a fake clock) and the signed values
(session cookie, CSRF token)."""

from __future__ import annotations

import base64

from clickup_sync.settings import load_settings
from clickup_sync.web.admin.security import SESSION_SECONDS, AdminSecrets
from clickup_sync.web.admin.throttle import LoginThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_beyond_the_free_ones_double_the_wait_up_to_the_cap() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(free_failures=3, first_wait=1.0, max_wait=8.0, clock=clock)
    waits = []
    for _ in range(8):
        throttle.failed("10.0.0.1")
        waits.append(throttle.retry_after("10.0.0.1"))
    assert waits == [0.0, 0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 8.0]
    clock.now += 3.0
    assert throttle.retry_after("10.0.0.1") == 5.0
    assert throttle.retry_after("10.0.0.2") == 0.0  # per address
    throttle.succeeded("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 0.0


def test_old_failures_are_forgotten_and_memory_is_bounded() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(free_failures=0, forget_after=60.0, max_clients=100, clock=clock)
    throttle.failed("a")
    clock.now += 61
    assert throttle.retry_after("a") == 0.0 and len(throttle) == 0
    for n in range(1000):
        throttle.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(throttle) == 100
    assert throttle.retry_after("10.0.3.231") > 0  # the most recent are kept
    assert throttle.retry_after("10.0.0.0") == 0.0


def secrets(**overrides: str | None) -> AdminSecrets:
    values: dict[str, str | None] = {"admin_password": "pw", "admin_token": "tok"} | overrides
    return AdminSecrets(load_settings(**values))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_credentials() -> None:
    admin = secrets()
    assert admin.check_authorization(basic("admin", "pw"))
    assert admin.check_authorization("Bearer tok")
    assert not admin.check_authorization(basic("admin", "tok"))  # the token is not a password
    assert not admin.check_authorization("Bearer pw")
    assert not admin.check_authorization("Basic !!!not-base64")
    assert not admin.check_authorization("Digest x")
    assert admin.check_login("", "tok") and admin.check_login("admin", "pw")
    assert not admin.check_login("root", "pw")
    token_only = secrets(admin_password=None)
    assert not token_only.check_login("admin", "")  # nothing configured never matches an empty value
    assert not secrets(admin_password=None, admin_token=None).configured


def test_session_cookie_expires_resists_tampering_and_dies_with_the_password() -> None:
    admin = secrets()
    cookie = admin.new_session(now=10_000.0)
    assert "pw" not in cookie and "tok" not in cookie
    assert admin.session_valid(cookie, now=10_000.0 + SESSION_SECONDS - 1)
    assert not admin.session_valid(cookie, now=10_000.0 + SESSION_SECONDS + 1)
    version, expires, nonce, signature = cookie.split(".")
    longer = f"{version}.{int(expires) + 10**6}.{nonce}.{signature}"
    assert not admin.session_valid(longer, now=10_000.0)
    assert not secrets(admin_password="rotated").session_valid(cookie, now=10_000.0)
    assert not admin.session_valid(None) and not admin.session_valid("a.b.c")


def test_csrf_token_is_bound_to_the_seed_and_the_key() -> None:
    admin = secrets()
    seed = admin.new_csrf_seed()
    token = admin.csrf_token(seed)
    assert admin.csrf_valid(seed, token)
    assert not admin.csrf_valid(admin.new_csrf_seed(), token)
    assert not secrets(admin_token="other").csrf_valid(seed, token)
    assert not admin.csrf_valid("not-a-seed", admin.csrf_token("not-a-seed"))
    assert not admin.csrf_valid(seed, None) and not admin.csrf_valid(None, token)
