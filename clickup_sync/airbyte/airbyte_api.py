"""Airbyte's public API (`/v1`), just enough to know whether a sync of our connection is running.

Reference airbyte.md §4.1: `GET /jobs?connectionId=…&status=running&jobType=sync&limit=1` answers
`{"data": [JobResponse…], "next", "previous"}`; `GET /jobs/{jobId}` answers one `JobResponse`
(`jobId`, `status`, `jobType`, `startTime`, `connectionId`, `lastUpdatedAt`, `duration`,
`bytesSynced`, `rowsSynced`). Authentication is a bearer token, either given or obtained from
`POST /applications/token` with the application's client id and secret; those tokens are
short-lived ("3 min", §4.1), so one is fetched again before it expires and after a 401.
Parsing is pure (`parse_job`, `parse_jobs_page`); `AirbyteApiClient` only does the HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from clickup_sync.errors import PermanentError, TransientError

# §4.1 JobStatusEnum: pending | queued | running | incomplete | failed | succeeded | cancelled.
# `incomplete` is an attempt that failed and will be retried: the job is not over.
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
RUNNING_STATUS = "running"
# The token endpoint's answer carries `expires_in`; when it does not, assume the documented 3 minutes.
DEFAULT_TOKEN_LIFETIME_SECONDS = 180.0
TOKEN_REFRESH_MARGIN_SECONDS = 30.0


class AirbyteApiError(TransientError):
    """Airbyte's API could not answer now (network, timeout, 5xx, 429). Try again later."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AirbyteApiRejected(PermanentError):
    """Airbyte's API refused the request (401/403/404/4xx): the URL, connection id or credentials are
    wrong. Retrying the same request will not help."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class AirbyteApiConfig:
    """Where Airbyte's API is and how to authenticate: a bearer token, or client id and secret.

    `base_url`: Cloud `https://api.airbyte.com/v1`, self-managed `http://<host>:8000/api/public/v1`."""

    base_url: str
    connection_id: str
    bearer_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.bearer_token is None and (self.client_id is None or self.client_secret is None):
            raise ValueError("Airbyte's API needs a bearer token, or a client id and a client secret")


@dataclass(frozen=True)
class AirbyteJob:
    """One `JobResponse` (§4.1)."""

    job_id: str
    status: str
    job_type: str | None
    connection_id: str | None
    started_at: datetime | None
    last_updated_at: datetime | None
    rows_synced: int | None

    @property
    def running(self) -> bool:
        return self.status == RUNNING_STATUS

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL_STATUSES


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO-8601 instant as Airbyte writes them ("2024-01-01T00:00:00Z") → aware UTC; else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_job(body: Mapping[str, Any]) -> AirbyteJob | None:
    """A `JobResponse`; None when it lacks the required `jobId` or `status`."""
    job_id, status = body.get("jobId"), body.get("status")
    if job_id is None or isinstance(job_id, bool) or not isinstance(status, str):
        return None
    job_type = body.get("jobType")
    connection_id = body.get("connectionId")
    return AirbyteJob(
        job_id=str(job_id),
        status=status,
        job_type=job_type if isinstance(job_type, str) else None,
        connection_id=str(connection_id) if connection_id is not None else None,
        started_at=parse_timestamp(body.get("startTime")),
        last_updated_at=parse_timestamp(body.get("lastUpdatedAt")),
        rows_synced=_optional_int(body.get("rowsSynced")),
    )


def parse_jobs_page(body: Any) -> list[AirbyteJob]:
    """The jobs of a `JobsResponse` page (`{"data": [...], "next", "previous"}`)."""
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, list):
        return []
    return [job for item in data if isinstance(item, Mapping) and (job := parse_job(item)) is not None]


class AirbyteApiClient:
    """Asks Airbyte's API about the jobs of one connection. `transport` is for tests."""

    def __init__(
        self, config: AirbyteApiConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self._http = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/") + "/",
            timeout=config.timeout_seconds,
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self._token: str | None = (
            config.bearer_token.get_secret_value() if config.bearer_token is not None else None
        )
        self._token_expires_at = float("inf") if config.bearer_token is not None else 0.0

    def __repr__(self) -> str:  # never the token
        return (
            f"AirbyteApiClient(base_url={self.config.base_url!r}, connection={self.config.connection_id!r})"
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def running_job(self) -> AirbyteJob | None:
        """The connection's running job, if one runs now (§4.1). Any job type: a refresh or a clear
        rewrites the tables as a sync does."""
        params = {"connectionId": self.config.connection_id, "status": RUNNING_STATUS, "limit": 1}
        jobs = parse_jobs_page(await self._get_json("jobs", params))
        # Filtered by the server already; checked again so a server that ignores a filter misleads nobody.
        matching = [
            job for job in jobs if job.running and job.connection_id in (None, self.config.connection_id)
        ]
        return matching[0] if matching else None

    async def get_job(self, job_id: str) -> AirbyteJob | None:
        """One job by id (`GET /jobs/{jobId}`); None when the answer is not a job."""
        body = await self._get_json(f"jobs/{job_id}", None)
        return parse_job(body) if isinstance(body, Mapping) else None

    # ------------------------------------------------------------------------------------ HTTP

    async def _get_json(self, path: str, params: Mapping[str, Any] | None) -> Any:
        response = await self._send("GET", path, params=params)
        if response.status_code == 401 and self.config.client_id is not None:
            self._token = None  # expired early, or revoked: fetch a new one once
            response = await self._send("GET", path, params=params)
        _raise_for_status(response, f"GET {path}")
        try:
            return response.json()
        except ValueError as exc:
            raise AirbyteApiError(f"GET {path}: the answer is not JSON", status=response.status_code) from exc

    async def _send(self, method: str, path: str, *, params: Mapping[str, Any] | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self._bearer_token()}"}
        try:
            return await self._http.request(method, path, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise AirbyteApiError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc

    async def _bearer_token(self) -> str:
        if self._token is not None and time.monotonic() < self._token_expires_at:
            return self._token
        assert self.config.client_id is not None and self.config.client_secret is not None
        # §4.1: POST <base>/applications/token with {"client_id": …, "client_secret": …}.
        body = {
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret.get_secret_value(),
        }
        try:
            response = await self._http.post("applications/token", json=body)
        except httpx.HTTPError as exc:
            raise AirbyteApiError(f"POST applications/token: {type(exc).__name__}: {exc}") from exc
        _raise_for_status(response, "POST applications/token")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        # The answer's shape (`access_token`, `token_type`, `expires_in`) is PublicAccessTokenResponse
        # in Airbyte's API spec; the reference (§4.1) only says "→ Bearer token".
        token = answer.get("access_token") if isinstance(answer, Mapping) else None
        if not isinstance(token, str) or not token:
            raise AirbyteApiError("POST applications/token: the answer holds no access_token")
        lifetime = answer.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) else DEFAULT_TOKEN_LIFETIME_SECONDS
        self._token = token
        self._token_expires_at = time.monotonic() + max(0.0, seconds - TOKEN_REFRESH_MARGIN_SECONDS)
        return token


def _raise_for_status(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    message = f"{what}: Airbyte answered {status}"
    if status in (408, 429) or status >= 500:
        raise AirbyteApiError(message, status=status)
    raise AirbyteApiRejected(message, status=status)
