"""Reading ClickUp's webhook object (§7.1) and summing up a health check, without network or database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from clickup_sync.clickup.protocol import ClickUpErrorBody, error_for_answer
from clickup_sync.errors import PermanentError
from clickup_sync.subscriptions.health import HealthReport, Reactivation, WebhookCheck
from clickup_sync.subscriptions.register import (
    find_webhook,
    is_same_subscription,
    is_webhook_exists_error,
    normalize_events,
    webhook_events,
    webhook_health,
    webhook_secret,
)

ENDPOINT = "https://sync.example.com/webhooks/clickup"
# The §7.1 response object, as the documentation shows it.
DOCUMENTED: dict[str, Any] = {
    "id": "4b67ac88-e506-4a29-9d42-26e504e3435e",
    "userid": 183,
    "team_id": 108,
    "endpoint": ENDPOINT,
    "client_id": "QVOQP06ZXC6CMGVFKB0ZT7J9Y7APOYGO",
    "events": ["taskCreated", "taskUpdated", "taskDeleted"],
    "task_id": None,
    "list_id": None,
    "folder_id": None,
    "space_id": None,
    "health": {"status": "active", "fail_count": 0},
    "secret": "O94IM25S7PXBPYTMNXLLET230SRP0S89COR7B1YOJ2ZIE8WQNK5UUKEF26W0Z5GA",
}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], ("*",)),
        (["*"], ("*",)),
        (["taskUpdated", "*"], ("*",)),  # "*" already means every event
        (["taskUpdated", " taskDeleted ", "taskUpdated", ""], ("taskUpdated", "taskDeleted")),
    ],
)
def test_normalize_events(given: list[str], expected: tuple[str, ...]) -> None:
    assert normalize_events(given) == expected


@pytest.mark.parametrize(
    ("changes", "space_id", "same"),
    [
        ({}, None, True),
        ({"space_id": 790}, "790", True),  # [GOCU]: location ids arrive as ints or strings
        ({"space_id": "790"}, "790", True),
        ({"space_id": "790"}, None, False),  # a space-wide webhook is not the workspace-wide one
        ({}, "790", False),
        ({"space_id": "790", "list_id": 124}, "790", False),  # the list is the most specific location
        ({"folder_id": "457"}, None, False),
        ({"endpoint": ENDPOINT + "/"}, None, False),
    ],
)
def test_same_subscription_means_same_endpoint_and_location(
    changes: dict[str, Any], space_id: str | None, same: bool
) -> None:
    assert is_same_subscription({**DOCUMENTED, **changes}, ENDPOINT, space_id) is same


def test_find_webhook_picks_ours_among_others() -> None:
    others = [{**DOCUMENTED, "id": "a", "endpoint": "https://else.example.com"}, {**DOCUMENTED, "id": "b"}]
    assert find_webhook(others, ENDPOINT, None) == others[1]
    assert find_webhook(others, ENDPOINT, "790") is None


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        ({"status": "failing", "fail_count": 5}, ("failing", 5)),  # the [SPEC] GET example
        ({"status": "suspended", "fail_count": 100}, ("suspended", 100)),
        ({"status": "paused", "fail_count": 1}, ("unknown", 1)),
        ({"status": "active", "fail_count": "3"}, ("active", 0)),
        ({"status": "active", "fail_count": True}, ("active", 0)),
        (None, ("unknown", 0)),
    ],
)
def test_webhook_health(health: object, expected: tuple[str, int]) -> None:
    assert webhook_health({**DOCUMENTED, "health": health}) == expected


def test_events_and_secret_readers() -> None:
    assert webhook_events(DOCUMENTED) == ("taskCreated", "taskUpdated", "taskDeleted")
    assert webhook_events({**DOCUMENTED, "events": "*"}) == ("*",)
    assert webhook_secret(DOCUMENTED) == DOCUMENTED["secret"]
    # §9 item 14: a webhook may come back without its secret.
    assert webhook_secret({**DOCUMENTED, "secret": ""}) is None
    assert webhook_secret({k: v for k, v in DOCUMENTED.items() if k != "secret"}) is None


def answered(status: int, ecode: str, message: str) -> PermanentError:
    """The exception the client raises for this answer (the same mapping it uses)."""
    error = error_for_answer(
        status, ClickUpErrorBody(err=message, ecode=ecode), endpoint="POST /team/{team_id}/webhook"
    )
    assert isinstance(error, PermanentError)
    return error


def test_only_oauth_171_means_the_webhook_already_exists() -> None:
    assert is_webhook_exists_error(answered(400, "OAUTH_171", "Webhook configuration already exists"))
    assert not is_webhook_exists_error(answered(400, "OAUTH_172", "Invalid events: taskFoo"))
    assert not is_webhook_exists_error(answered(401, "OAUTH_171", "Token invalid"))


def check(status: str, reactivation: Reactivation | None = None) -> WebhookCheck:
    return WebhookCheck(f"wh-{status}-{reactivation}", ENDPOINT, status, 0, reactivation)


def test_health_report_counts_and_summary() -> None:
    report = HealthReport(
        datetime(2025, 1, 1, tzinfo=UTC),
        (
            check("active"),
            check("failing"),
            check("suspended", Reactivation.REACTIVATED),
            check("suspended", Reactivation.LIMIT_REACHED),
            check("unknown"),
        ),
        reconciled=True,
    )
    assert (report.failing, report.suspended, report.missing) == (1, 2, 1)
    assert report.reactivated == ("wh-suspended-reactivated",)
    assert report.not_reactivated == ("wh-suspended-limit_reached",)
    assert not report.healthy
    assert report.summary() == (
        "5 checked: 1 active, 1 failing, 2 suspended, 1 missing from ClickUp; "
        "reactivated wh-suspended-reactivated; NOT reactivated wh-suspended-limit_reached; reconciled"
    )


def test_a_configuration_error_is_never_healthy() -> None:
    report = HealthReport(
        datetime(2025, 1, 1, tzinfo=UTC), configuration_error="ClickUp refused the API token"
    )
    assert not report.healthy
    assert report.summary() == "configuration error: ClickUp refused the API token"
    assert HealthReport(datetime(2025, 1, 1, tzinfo=UTC)).healthy
