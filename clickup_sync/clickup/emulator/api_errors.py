"""The errors the emulated API answers with, as ClickUp spells them (reference §1.2, §1.4).

Codes marked UNCONFIRMED are not in any source; they keep ClickUp's `{"err", "ECODE"}` shape so a
client can treat them like real ones.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An HTTP error answer: status code plus ClickUp's `{"err": ..., "ECODE": ...}` body."""

    def __init__(self, status: int, err: str, ecode: str) -> None:
        super().__init__(f"{status} {ecode}: {err}")
        self.status = status
        self.err = err
        self.ecode = ecode

    def body(self) -> dict[str, Any]:
        return {"err": self.err, "ECODE": self.ecode}


def authorization_header_required() -> ApiError:
    return ApiError(401, "Authorization header required", "OAUTH_017")


def token_invalid() -> ApiError:
    return ApiError(401, "Token invalid", "OAUTH_025")


def team_not_authorized() -> ApiError:
    return ApiError(401, "Team not authorized", "OAUTH_027")


def rate_limit_reached() -> ApiError:
    # Reference §1.3: body seen in public clients, UNCONFIRMED in official docs.
    return ApiError(429, "Rate limit reached", "APP_002")


def task_not_found() -> ApiError:
    # Reference §1.4: the same answer for deleted and never-existing tasks.
    return ApiError(404, "Task not found, deleted", "ITEM_013")


def not_found(kind: str) -> ApiError:
    # UNCONFIRMED code: ClickUp's answer for unknown list/folder/space ids is not documented.
    return ApiError(404, f"{kind} not found", "ITEM_015")


def route_not_found() -> ApiError:
    return ApiError(404, "Route not found", "APP_001")  # UNCONFIRMED code


def malformed_body() -> ApiError:
    return ApiError(400, "Body is not valid JSON", "APP_004")  # UNCONFIRMED code


def bad_request(err: str, ecode: str = "INPUT_001") -> ApiError:
    # UNCONFIRMED default code for body validation failures that have no documented ECODE.
    return ApiError(400, err, ecode)


def webhook_exists() -> ApiError:
    return ApiError(400, "Webhook configuration already exists", "OAUTH_171")


def server_fault(status: int) -> ApiError:
    # Injected faults (EmulatorConfig.fault_5xx_rate); ClickUp's 5xx bodies are not documented.
    return ApiError(status, "Internal Server Error", "APP_500")
