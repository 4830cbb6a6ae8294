"""ClickUp's wire protocol without I/O: the auth header, rate-limit headers, error bodies, pagination,
and which exception an answer means.

Pure functions over status codes, header mappings and body bytes, tested against the documented
payloads of clickup-api.md §1; `client.py` wraps them around httpx.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from clickup_sync.errors import (
    ClickUpAuthError,
    ClickUpSyncError,
    ClickUpTransientError,
    PermanentError,
    RateLimited,
    TaskGone,
)

# §3.3/§3.4: "Responses are limited to 100 tasks per page."
TASK_PAGE_SIZE = 100

# §1.4: the 404 answer for a deleted (or never existing) task.
TASK_GONE_ECODE = "ITEM_013"
TASK_GONE_MESSAGE = "Task not found, deleted"

# Epoch seconds below this are before 2001: such a reset can only be a number of seconds from now.
_SMALLEST_EPOCH_SECONDS = 1_000_000_000
# Epoch values above this are milliseconds (the seconds value would be in the year 5138).
_LARGEST_EPOCH_SECONDS = 100_000_000_000


def authorization_header_value(token: str) -> str:
    """The `Authorization` value for `token` (§1.2).

    Personal tokens (`pk_…`) are sent raw, without a `Bearer` prefix; an OAuth token configured
    with its `Bearer ` prefix is sent as it is.
    """
    return token.strip()


@dataclass(frozen=True)
class RateLimitInfo:
    """What ClickUp says about the token's current window (§1.3)."""

    limit: int
    remaining: int
    resets_at: datetime

    def __post_init__(self) -> None:
        if self.resets_at.tzinfo is None:
            raise ValueError("resets_at must be an aware datetime")


def parse_rate_limit_headers(headers: Mapping[str, str], *, now: datetime) -> RateLimitInfo | None:
    """`X-RateLimit-Limit`, `-Remaining` and `-Reset` as one value, or None if any is missing or garbage.

    §1.3: the three headers come on every response, 429 or not; `Reset` is a Unix timestamp in
    seconds. A value that can only be milliseconds, or a small number of seconds from now, is read
    as such rather than trusted to mean 1970.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    limit = _parse_int(lowered.get("x-ratelimit-limit"))
    remaining = _parse_int(lowered.get("x-ratelimit-remaining"))
    reset = _parse_number(lowered.get("x-ratelimit-reset"))
    if limit is None or remaining is None or reset is None or limit <= 0 or reset < 0:
        return None
    if reset >= _LARGEST_EPOCH_SECONDS:
        resets_at = datetime.fromtimestamp(reset / 1000, UTC)
    elif reset < _SMALLEST_EPOCH_SECONDS:
        resets_at = now + timedelta(seconds=reset)
    else:
        resets_at = datetime.fromtimestamp(reset, UTC)
    return RateLimitInfo(limit=limit, remaining=min(max(remaining, 0), limit), resets_at=resets_at)


def parse_retry_after(headers: Mapping[str, str], *, now: datetime) -> datetime | None:
    """When a `Retry-After` header (seconds or an HTTP date) allows the next try; None if absent.

    ClickUp does not document it (§1.3, UNCONFIRMED); it is only a fallback for a 429 that lacks
    the rate-limit headers.
    """
    value = {name.lower(): value for name, value in headers.items()}.get("retry-after")
    if value is None:
        return None
    seconds = _parse_number(value)
    if seconds is not None:
        return now + timedelta(seconds=max(seconds, 0.0))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else None


@dataclass(frozen=True)
class ClickUpErrorBody:
    """ClickUp's error body `{"err": "...", "ECODE": "..."}` (§1.4); both None if the body is not that."""

    err: str | None
    ecode: str | None

    def describe(self) -> str:
        if self.err is None and self.ecode is None:
            return "no ClickUp error body"
        return f"{self.ecode or 'no ECODE'}: {self.err or 'no message'}"


def parse_error_body(content: bytes) -> ClickUpErrorBody:
    """Read `{"err", "ECODE"}` from an error answer; anything else (HTML from a proxy…) gives Nones."""
    try:
        payload = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return ClickUpErrorBody(err=None, ecode=None)
    if not isinstance(payload, dict):
        return ClickUpErrorBody(err=None, ecode=None)
    err, ecode = payload.get("err"), payload.get("ECODE")
    return ClickUpErrorBody(
        err=err if isinstance(err, str) else None, ecode=ecode if isinstance(ecode, str) else None
    )


def error_for_answer(
    status: int,
    body: ClickUpErrorBody,
    *,
    endpoint: str,
    task_id: str | None = None,
    resets_at: datetime | None = None,
) -> ClickUpSyncError | None:
    """The exception an answer means, or None for success.

    `endpoint` is the request's method and path template (never the token, never query values);
    `task_id` is set when the path names a task, so a deleted task can be told from other 404s.
    """
    if 200 <= status < 300:
        return None
    described = body.describe()
    if status in (401, 403):
        # §1.2: OAUTH_* codes mean the token or the workspace authorization is wrong, not "deleted".
        return ClickUpAuthError(
            f"ClickUp refused the API token on {endpoint} ({status} {described}); "
            "check CLICKUP_API_TOKEN and that it can access the workspace",
            status=status,
            ecode=body.ecode,
        )
    if status == 404:
        if task_id is not None and (body.ecode == TASK_GONE_ECODE or body.err == TASK_GONE_MESSAGE):
            return TaskGone(task_id)
        return PermanentError(
            f"ClickUp answered 404 on {endpoint} ({described}): it does not exist or the token cannot see it",
            status=status,
            ecode=body.ecode,
        )
    if status == 429:
        reset_epoch = resets_at.timestamp() if resets_at is not None else None
        return RateLimited(f"ClickUp rate limit reached on {endpoint} ({described})", reset_at=reset_epoch)
    if status >= 500 or status == 408:
        return ClickUpTransientError(f"ClickUp answered {status} on {endpoint} ({described})", status=status)
    return PermanentError(
        f"ClickUp rejected {endpoint} with {status} ({described})", status=status, ecode=body.ecode
    )


def is_last_task_page(task_count: int, last_page: object) -> bool:
    """True when no page follows: a short page, or `last_page: true`.

    §3.4: the team endpoint does not document `last_page`, so a page with fewer than 100 tasks
    ends the walk even when the flag is missing or false.
    """
    return task_count < TASK_PAGE_SIZE or last_page is True


def _parse_int(value: str | None) -> int | None:
    number = _parse_number(value)
    return int(number) if number is not None and number.is_integer() else None


def _parse_number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None
