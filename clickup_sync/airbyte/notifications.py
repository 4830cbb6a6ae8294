"""Airbyte's sync notifications (webhooks), parsed without I/O.

Reference airbyte.md §4.3: a workspace can send a webhook on "Successful syncs" and "Failed syncs";
the body holds a `data` object (workspace, connection, source, destination, `jobId`, `startedAt`,
`finishedAt`, record and byte counts, `success`) next to text blocks meant for Slack. Failures add
`errorMessage`, `errorType` and `errorOrigin`. Other notification types carry no `data` payload, and
there is no "sync started" notification: starts come from the API or the database.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clickup_sync.airbyte.airbyte_api import parse_timestamp


@dataclass(frozen=True)
class AirbyteNotification:
    """One sync's end, as Airbyte reported it."""

    job_id: str
    success: bool
    connection_id: str | None
    connection_name: str | None
    workspace_id: str | None
    started_at: datetime | None
    finished_at: datetime | None
    records_committed: int | None
    records_emitted: int | None
    error_message: str | None = None
    error_type: str | None = None  # config_error | transient_error | …
    error_origin: str | None = None  # source | destination

    @property
    def outcome(self) -> str:
        return "succeeded" if self.success else "failed"

    def summary(self) -> dict[str, Any]:
        """What is kept in `airbyte_syncs.details`: everything but names and ids already in columns."""
        return {
            "connection_id": self.connection_id,
            "connection_name": self.connection_name,
            "workspace_id": self.workspace_id,
            "success": self.success,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "records_committed": self.records_committed,
            "records_emitted": self.records_emitted,
            "error_message": self.error_message,
            "error_type": self.error_type,
            "error_origin": self.error_origin,
        }


def parse_airbyte_notification(body: bytes) -> AirbyteNotification | None:
    """The sync outcome in a webhook body, or None when the body is not a sync notification
    (not JSON, another notification type, no `jobId` or no boolean `success`)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    data = document.get("data") if isinstance(document, Mapping) else None
    if not isinstance(data, Mapping):
        return None
    job_id, success = data.get("jobId"), data.get("success")
    if job_id is None or isinstance(job_id, bool) or not isinstance(success, bool):
        return None
    connection = _object(data.get("connection"))
    workspace = _object(data.get("workspace"))
    return AirbyteNotification(
        job_id=str(job_id),
        success=success,
        connection_id=_text(connection.get("id")),
        connection_name=_text(connection.get("name")),
        workspace_id=_text(workspace.get("id")),
        started_at=parse_timestamp(data.get("startedAt")),
        finished_at=parse_timestamp(data.get("finishedAt")),
        records_committed=_count(data.get("recordsCommitted")),
        records_emitted=_count(data.get("recordsEmitted")),
        error_message=_text(data.get("errorMessage")),
        error_type=_text(data.get("errorType")),
        error_origin=_text(data.get("errorOrigin")),
    )


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
