"""ClickUp's wire protocol without I/O (clickup-api.md §1): headers, error bodies, status → exception."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clickup_sync.clickup.protocol import (
    ClickUpErrorBody,
    RateLimitInfo,
    authorization_header_value,
    error_for_answer,
    is_last_task_page,
    parse_error_body,
    parse_rate_limit_headers,
    parse_retry_after,
)
from clickup_sync.errors import (
    ClickUpAuthError,
    ClickUpTransientError,
    PermanentError,
    RateLimited,
    SkipError,
    TaskGone,
)

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
NOW_EPOCH = int(NOW.timestamp())


def headers(limit: str, remaining: str, reset: str) -> dict[str, str]:
    return {"X-RateLimit-Limit": limit, "X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": reset}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # §1.3: the documented form, Unix seconds.
        (headers("100", "42", str(NOW_EPOCH + 30)), RateLimitInfo(100, 42, NOW + timedelta(seconds=30))),
        # Header names are case-insensitive on the wire.
        (
            {
                "x-ratelimit-limit": "1000",
                "X-RATELIMIT-REMAINING": "0",
                "x-ratelimit-reset": str(NOW_EPOCH + 5),
            },
            RateLimitInfo(1000, 0, NOW + timedelta(seconds=5)),
        ),
        # Milliseconds are recognised rather than read as a date thousands of years away.
        (
            headers("100", "7", str((NOW_EPOCH + 12) * 1000)),
            RateLimitInfo(100, 7, NOW + timedelta(seconds=12)),
        ),
        # A small number is seconds from now, not a moment in 1970.
        (headers("100", "7", "45"), RateLimitInfo(100, 7, NOW + timedelta(seconds=45))),
        # A negative remaining is clamped; more remaining than the limit is capped.
        (headers("100", "-3", str(NOW_EPOCH + 1)), RateLimitInfo(100, 0, NOW + timedelta(seconds=1))),
        (headers("100", "250", str(NOW_EPOCH + 1)), RateLimitInfo(100, 100, NOW + timedelta(seconds=1))),
        # Missing or garbage headers give nothing to pace by.
        ({}, None),
        ({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "5"}, None),
        (headers("lots", "5", str(NOW_EPOCH)), None),
        (headers("100", "5", "soon"), None),
        (headers("0", "0", str(NOW_EPOCH + 60)), None),
        (headers("100", "4.5", str(NOW_EPOCH + 60)), None),
        (headers("100", "5", "nan"), None),
    ],
)
def test_rate_limit_headers_are_read_into_limit_remaining_and_reset(
    given: dict[str, str], expected: RateLimitInfo | None
) -> None:
    assert parse_rate_limit_headers(given, now=NOW) == expected


def test_retry_after_is_a_fallback_in_seconds_or_as_a_date() -> None:
    assert parse_retry_after({"Retry-After": "3"}, now=NOW) == NOW + timedelta(seconds=3)
    assert parse_retry_after({"retry-after": "Sat, 01 Mar 2025 12:00:09 GMT"}, now=NOW) == NOW + timedelta(
        seconds=9
    )
    assert parse_retry_after({}, now=NOW) is None
    assert parse_retry_after({"Retry-After": "whenever"}, now=NOW) is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"err":"Token invalid","ECODE":"OAUTH_017"}', ClickUpErrorBody("Token invalid", "OAUTH_017")),
        (
            b'{"err":"Task not found, deleted","ECODE":"ITEM_013"}',
            ClickUpErrorBody("Task not found, deleted", "ITEM_013"),
        ),
        (b'{"err":"Rate limit reached"}', ClickUpErrorBody("Rate limit reached", None)),
        (b"<html>502 Bad Gateway</html>", ClickUpErrorBody(None, None)),
        (b'["not", "an", "object"]', ClickUpErrorBody(None, None)),
        (b'{"err": 5, "ECODE": null}', ClickUpErrorBody(None, None)),
        (b"\xff\xfe", ClickUpErrorBody(None, None)),
    ],
)
def test_error_bodies_are_read_as_err_and_ecode(content: bytes, expected: ClickUpErrorBody) -> None:
    assert parse_error_body(content) == expected


def test_success_is_no_error() -> None:
    assert error_for_answer(200, ClickUpErrorBody(None, None), endpoint="GET /team") is None


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_configuration_errors_never_deletions(status: int) -> None:
    error = error_for_answer(
        status,
        parse_error_body(b'{"err":"Token invalid","ECODE":"OAUTH_025"}'),
        endpoint="GET /task/{task_id}",
        task_id="9hx",
    )
    assert isinstance(error, ClickUpAuthError)
    assert not isinstance(error, SkipError)
    assert (error.status, error.ecode) == (status, "OAUTH_025")
    assert "CLICKUP_API_TOKEN" in str(error)


@pytest.mark.parametrize(
    "content",
    [b'{"err":"Task not found, deleted","ECODE":"ITEM_013"}', b'{"err":"Task not found, deleted"}'],
)
def test_a_deleted_task_is_task_gone(content: bytes) -> None:
    error = error_for_answer(
        404, parse_error_body(content), endpoint="GET /task/{task_id}", task_id="86d3cc9fu"
    )
    assert isinstance(error, TaskGone)
    assert error.task_id == "86d3cc9fu"


def test_other_404s_are_permanent_and_say_what_was_missing() -> None:
    on_list = error_for_answer(
        404, parse_error_body(b'{"err":"List not found","ECODE":"ITEM_015"}'), endpoint="GET /list/{list_id}"
    )
    assert type(on_list) is PermanentError
    assert "GET /list/{list_id}" in str(on_list) and "ITEM_015" in str(on_list)
    # A 404 without ITEM_013 on a task path is not proof of deletion.
    unknown_route = error_for_answer(
        404, parse_error_body(b"Not Found"), endpoint="GET /task/{task_id}", task_id="9hx"
    )
    assert type(unknown_route) is PermanentError


def test_bad_requests_carry_clickups_message_and_code() -> None:
    error = error_for_answer(
        400,
        parse_error_body(b'{"err":"Value must be an option index or uuid","ECODE":"FIELD_011"}'),
        endpoint="POST /task/{task_id}/field/{field_id}",
    )
    assert type(error) is PermanentError
    assert "FIELD_011" in str(error) and "Value must be an option index or uuid" in str(error)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_and_timeouts_are_transient(status: int) -> None:
    error = error_for_answer(status, ClickUpErrorBody(None, None), endpoint="GET /team")
    assert isinstance(error, ClickUpTransientError)
    assert error.status == status


def test_rate_limited_carries_when_the_window_resets() -> None:
    resets_at = NOW + timedelta(seconds=20)
    error = error_for_answer(
        429,
        parse_error_body(b'{"err":"Rate limit reached","ECODE":"APP_002"}'),
        endpoint="GET /team",
        resets_at=resets_at,
    )
    assert isinstance(error, RateLimited)
    assert error.reset_at == resets_at.timestamp()


@pytest.mark.parametrize(
    ("task_count", "last_page", "is_last"),
    [
        (100, None, False),  # §3.4: the team endpoint may not send last_page at all
        (100, False, False),
        (100, True, True),
        (99, None, True),  # a short page ends the walk whatever the flag says
        (99, False, True),
        (0, False, True),
        (100, "true", False),  # only a JSON true counts
    ],
)
def test_a_walk_stops_on_a_short_page_or_last_page(task_count: int, last_page: object, is_last: bool) -> None:
    assert is_last_task_page(task_count, last_page) is is_last


@pytest.mark.parametrize(
    ("token", "sent"),
    [
        ("pk_12345_ABCDEF", "pk_12345_ABCDEF"),  # §1.2: personal tokens go raw
        ("Bearer oauth-access-token", "Bearer oauth-access-token"),  # OAuth, configured with its prefix
        ("  pk_12345_ABCDEF\n", "pk_12345_ABCDEF"),  # stray whitespace from a .env file
    ],
)
def test_the_authorization_header_has_no_bearer_prefix_added(token: str, sent: str) -> None:
    assert authorization_header_value(token) == sent
