"""One exception tree for the package, branched by what the caller does next.

ClickUpSyncError
├── ConfigError              fail: a setting is missing or invalid (start-up stops, exit 2)
├── TransientError           retry: the same call may succeed later
│   ├── DatabaseUnavailable
│   └── ClickUpTransientError    5xx, timeouts, connection errors
│       └── RateLimited           429; carries when the window resets
├── PermanentError           fail: retrying will not help
│   ├── ClickUpAuthError          401/403 — configuration, never "deleted"
│   └── MigrationError
└── SkipError                skip: this item is unusable, go on with the rest
    └── TaskGone                  404 ITEM_013 — the task is deleted
"""

from __future__ import annotations


class ClickUpSyncError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(ClickUpSyncError):
    """A setting is missing or invalid. The message names the variable and never holds its value
    when the variable is a secret."""


class TransientError(ClickUpSyncError):
    """Retry later: the failure is expected to pass."""


class DatabaseUnavailable(TransientError):
    """PostgreSQL cannot be reached right now."""


class ClickUpTransientError(TransientError):
    """ClickUp answered 5xx, timed out, or the connection failed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(ClickUpTransientError):
    """ClickUp answered 429. `reset_at` is the epoch second when the window resets."""

    def __init__(self, message: str, *, reset_at: float | None) -> None:
        super().__init__(message, status=429)
        self.reset_at = reset_at


class PermanentError(ClickUpSyncError):
    """Fail: retrying the same thing cannot succeed. `status` and `ecode` are ClickUp's HTTP status and
    error code (`ECODE`) when the error is ClickUp's answer."""

    def __init__(self, message: str, *, status: int | None = None, ecode: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.ecode = ecode


class ClickUpAuthError(PermanentError):
    """401/403 from ClickUp: the token or the workspace access is wrong. Never means "deleted"."""

    def __init__(self, message: str, *, status: int, ecode: str | None = None) -> None:
        super().__init__(message, status=status, ecode=ecode)
        self.status: int = status


class MigrationError(PermanentError):
    """The database schema cannot be brought to the version this code expects."""


class SkipError(ClickUpSyncError):
    """This one item cannot be used; carry on with the others."""


class TaskGone(SkipError):
    """ClickUp answered 404 ITEM_013: the task is deleted."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id} is deleted in ClickUp (404 ITEM_013)")
        self.task_id = task_id
