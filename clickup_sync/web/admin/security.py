"""Who may use /admin, and the signed values that prove it later.

- Credentials: `ADMIN_PASSWORD` as HTTP basic auth (user `ADMIN_USER`), `ADMIN_TOKEN` as
  `Authorization: Bearer`, or either of them through the login form.
- The session cookie the login form sets is `v1.<expires>.<nonce>.<HMAC>`: it proves a past login
  without holding the password or the token, and expires. Its key is derived from the configured
  secrets, so changing ADMIN_PASSWORD or ADMIN_TOKEN ends every session.
- CSRF: each browser gets a random seed in a cookie; forms carry HMAC(key, seed). A page on
  another site can neither read the seed (HttpOnly) nor compute the HMAC (the key is ours).

Every comparison of a secret or a MAC goes through `hmac.compare_digest` over fixed-length
digests, so neither its length nor its content leaks through timing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from typing import Final

from clickup_sync.settings import Settings

SESSION_COOKIE: Final = "clickup_sync_admin"
CSRF_COOKIE: Final = "clickup_sync_admin_csrf"
CSRF_FIELD: Final = "csrf_token"
SESSION_SECONDS: Final = 12 * 3600
NOT_CONFIGURED: Final = (
    "The admin interface is off: set ADMIN_PASSWORD (basic auth as ADMIN_USER, default admin) "
    "or ADMIN_TOKEN (bearer token or login form) to enable it.\n"
)
_KEY_LABEL: Final = b"clickup-sync admin v1"


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def same_secret(given: str, expected: str | None) -> bool:
    """Constant time, whatever the lengths; never true when nothing is configured."""
    matches = hmac.compare_digest(_digest(given), _digest(expected or ""))
    return matches and expected is not None


class AdminSecrets:
    """The configured admin credentials and the key that signs sessions and CSRF tokens."""

    def __init__(self, settings: Settings) -> None:
        self.user = settings.admin_user
        self._password = settings.admin_password.get_secret_value() if settings.admin_password else None
        self._token = settings.admin_token.get_secret_value() if settings.admin_token else None
        material = "\0".join((self.user, self._password or "", self._token or ""))
        self._key = hmac.new(_KEY_LABEL, material.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def __repr__(self) -> str:
        return f"AdminSecrets(user={self.user!r}, password={'set' if self._password else 'unset'})"

    @property
    def configured(self) -> bool:
        return bool(self._password) or bool(self._token)

    # --- credentials ------------------------------------------------------------------------
    def check_authorization(self, header: str) -> bool:
        """An `Authorization` header: `Basic` with ADMIN_USER + ADMIN_PASSWORD, or `Bearer` ADMIN_TOKEN."""
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            return same_secret(value.strip(), self._token)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, _, password = decoded.partition(":")
            return self.check_login(user, password, allow_token=False)
        return False

    def check_login(self, user: str, password: str, *, allow_token: bool = True) -> bool:
        """The login form takes ADMIN_USER + ADMIN_PASSWORD, or ADMIN_TOKEN as the password."""
        # Both checks always run: how long this takes says nothing about which one matched.
        user_ok = same_secret(user, self.user)
        password_ok = same_secret(password, self._password)
        token_ok = same_secret(password, self._token)
        return (user_ok and password_ok) or (allow_token and token_ok)

    # --- sessions ---------------------------------------------------------------------------
    def new_session(self, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + SESSION_SECONDS)
        payload = f"v1.{expires}.{secrets.token_hex(16)}"
        return f"{payload}.{self._sign('session', payload)}"

    def session_valid(self, cookie: str | None, now: float | None = None) -> bool:
        if not cookie or cookie.count(".") != 3:
            return False
        payload, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(_digest(signature), _digest(self._sign("session", payload))):
            return False
        expires = payload.split(".")[1]
        return expires.isdigit() and int(expires) > (time.time() if now is None else now)

    # --- CSRF -------------------------------------------------------------------------------
    @staticmethod
    def new_csrf_seed() -> str:
        return secrets.token_hex(16)

    @staticmethod
    def csrf_seed_looks_valid(seed: str | None) -> bool:
        return seed is not None and len(seed) == 32 and all(c in "0123456789abcdef" for c in seed)

    def csrf_token(self, seed: str) -> str:
        return self._sign("csrf", seed)

    def csrf_valid(self, seed: str | None, token: str | None) -> bool:
        if not self.csrf_seed_looks_valid(seed) or not token:
            return False
        assert seed is not None
        return hmac.compare_digest(_digest(token), _digest(self.csrf_token(seed)))

    def _sign(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
