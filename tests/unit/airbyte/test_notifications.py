"""Airbyte's sync notifications parsed from the documented payloads (reference airbyte.md §4.3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from clickup_sync.airbyte.notifications import AirbyteNotification, parse_airbyte_notification

# §4.3, verbatim structure (ids shortened in the reference are completed here).
SUCCESS_DATA: dict[str, Any] = {
    "workspace": {"id": "b510e39b-e9e2-4833-9a3a-963e51d35fb4", "name": "Workspace1", "url": "https://link/to/ws"},
    "connection": {"id": "64d901a1-2520-4d91-93c8-9df438668ff0", "name": "Connection", "url": "https://link/to/connection"},
    "source": {"id": "c0655b08-1511-4e72-b7bd-b81a48b21c3c", "name": "Source", "url": "https://link/to/source"},
    "destination": {"id": "5621c38f-8048-4abb-85ca-b34ff8d9a298", "name": "Destination", "url": "https://link/to/destination"},
    "jobId": 9988,
    "startedAt": "2024-01-01T00:00:00Z",
    "finishedAt": "2024-01-01T01:00:00Z",
    "bytesEmitted": 1000,
    "bytesCommitted": 1000,
    "recordsEmitted": 89,
    "recordsCommitted": 89,
    "bytesEmittedFormatted": "1000 B",
    "bytesCommittedFormatted": "90 B",
    "success": True,
    "durationInSeconds": 3600,
    "durationFormatted": "1 hours 0 min",
}  # fmt: skip
FAILURE_DATA: dict[str, Any] = {
    **SUCCESS_DATA,
    "success": False,
    "recordsCommitted": 0,
    "errorMessage": "Something went wrong",
    "errorType": "config_error",
    "errorOrigin": "source",
}


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


def test_a_successful_sync_notification_gives_the_job_its_times_and_records() -> None:
    # "Airbyte passes both the data payload along with text blocks intended for Slack usage."
    notification = parse_airbyte_notification(
        body({"text": "Sync completed", "blocks": [], "data": SUCCESS_DATA})
    )

    assert notification == AirbyteNotification(
        job_id="9988",
        success=True,
        connection_id="64d901a1-2520-4d91-93c8-9df438668ff0",
        connection_name="Connection",
        workspace_id="b510e39b-e9e2-4833-9a3a-963e51d35fb4",
        started_at=datetime(2024, 1, 1, 0, 0, tzinfo=UTC),
        finished_at=datetime(2024, 1, 1, 1, 0, tzinfo=UTC),
        records_committed=89,
        records_emitted=89,
    )
    assert notification.outcome == "succeeded"


def test_a_failed_sync_notification_carries_the_error() -> None:
    notification = parse_airbyte_notification(body({"data": FAILURE_DATA}))

    assert notification is not None
    assert (notification.outcome, notification.records_committed) == ("failed", 0)
    assert (notification.error_message, notification.error_type, notification.error_origin) == (
        "Something went wrong",
        "config_error",
        "source",
    )
    assert notification.summary()["error_type"] == "config_error"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        body(["data"]),
        body({"text": "Connection updated"}),  # other notification types carry no payload (§4.3)
        body({"data": {**SUCCESS_DATA, "jobId": None}}),
        body({"data": {**SUCCESS_DATA, "success": "true"}}),
        body({"data": "9988"}),
    ],
    ids=[
        "empty",
        "not-json",
        "not-utf8",
        "array",
        "no-data",
        "no-job",
        "success-not-bool",
        "data-not-object",
    ],
)
def test_bodies_that_are_not_sync_notifications_are_recognised_as_such(raw: bytes) -> None:
    assert parse_airbyte_notification(raw) is None


def test_missing_or_malformed_optional_fields_are_left_unknown() -> None:
    data = {
        "jobId": "9989",
        "success": True,
        "startedAt": "yesterday",
        "recordsCommitted": -1,
        "connection": "x",
    }

    notification = parse_airbyte_notification(body({"data": data}))

    assert notification is not None
    assert notification.job_id == "9989"
    assert (notification.started_at, notification.finished_at, notification.records_committed) == (
        None,
        None,
        None,
    )
    assert notification.connection_id is None
