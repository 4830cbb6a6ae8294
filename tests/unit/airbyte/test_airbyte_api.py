"""Airbyte's public API as the detector asks it, replayed with httpx.MockTransport from the documented
shapes (reference airbyte.md §4.1: `GET /v1/jobs`, `GET /v1/jobs/{jobId}`, `POST /applications/token`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from clickup_sync.airbyte.airbyte_api import (
    AirbyteApiClient,
    AirbyteApiConfig,
    AirbyteApiError,
    AirbyteApiRejected,
    AirbyteJob,
    parse_jobs_page,
)

BASE_URL = "http://airbyte.local:8000/api/public/v1"
CONNECTION_ID = "64d901a1-2520-4d91-93c8-9df438668ff0"


def job_response(job_id: int = 9988, status: str = "running", **changes: Any) -> dict[str, Any]:
    """A `JobResponse` as §4.1 shows it."""
    return {
        "jobId": job_id,
        "status": status,
        "jobType": "sync",
        "startTime": "2024-01-01T00:00:00Z",
        "connectionId": CONNECTION_ID,
        "lastUpdatedAt": "2024-01-01T00:05:00Z",
        "duration": "PT5M",
        "bytesSynced": 1000,
        "rowsSynced": 89,
        **changes,
    }


def jobs_page(*jobs: dict[str, Any]) -> dict[str, Any]:
    """A `JobsResponse` page (§4.1)."""
    return {"next": f"{BASE_URL}/jobs?limit=1&offset=1", "previous": None, "data": list(jobs)}


Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler, **config: Any) -> AirbyteApiClient:
    settings: dict[str, Any] = {"bearer_token": SecretStr("static-token")} | config
    return AirbyteApiClient(
        AirbyteApiConfig(base_url=BASE_URL, connection_id=CONNECTION_ID, **settings),
        transport=httpx.MockTransport(handler),
    )


@pytest.mark.anyio
async def test_a_running_sync_job_of_the_connection_is_found_with_the_documented_query() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=jobs_page(job_response()))

    api = client(handler)
    job = await api.running_job()
    await api.aclose()

    assert job == AirbyteJob(
        job_id="9988",
        status="running",
        job_type="sync",
        connection_id=CONNECTION_ID,
        started_at=datetime(2024, 1, 1, tzinfo=UTC),
        last_updated_at=datetime(2024, 1, 1, 0, 5, tzinfo=UTC),
        rows_synced=89,
    )
    assert seen[0].url.path == "/api/public/v1/jobs"
    assert dict(seen[0].url.params) == {"connectionId": CONNECTION_ID, "status": "running", "limit": "1"}
    assert seen[0].headers["Authorization"] == "Bearer static-token"


@pytest.mark.anyio
async def test_no_running_job_means_no_sync_even_if_the_server_ignores_the_filters() -> None:
    other_connection = job_response(1, connectionId="another-connection")
    finished = job_response(2, status="succeeded")
    api = client(lambda request: httpx.Response(200, json=jobs_page(other_connection, finished)))

    assert await api.running_job() is None
    await api.aclose()


@pytest.mark.anyio
async def test_a_job_read_by_id_tells_whether_and_how_it_ended() -> None:
    answers = {"/api/public/v1/jobs/9988": job_response(status="succeeded"), "/api/public/v1/jobs/9989": {}}
    api = client(lambda request: httpx.Response(200, json=answers[request.url.path]))

    ended = await api.get_job("9988")
    assert ended is not None and ended.ended and not ended.running and ended.status == "succeeded"
    assert await api.get_job("9989") is None
    await api.aclose()


@pytest.mark.anyio
async def test_client_credentials_are_exchanged_for_a_token_which_is_renewed_after_a_401() -> None:
    tokens = iter(["token-1", "token-2"])
    token_requests: list[dict[str, Any]] = []
    job_authorizations: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/applications/token"):
            token_requests.append(json.loads(request.content))
            # PublicAccessTokenResponse: access_token, token_type, expires_in.
            return httpx.Response(
                200, json={"access_token": next(tokens), "token_type": "Bearer", "expires_in": 180}
            )
        job_authorizations.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer token-1" and len(job_authorizations) > 1:
            return httpx.Response(401, json={"message": "token expired"})
        return httpx.Response(200, json=jobs_page())

    api = client(handler, bearer_token=None, client_id="app-id", client_secret=SecretStr("app-secret"))
    assert await api.running_job() is None
    assert await api.running_job() is None  # token-1 refused: a new token, then the same request again
    await api.aclose()

    assert token_requests == [{"client_id": "app-id", "client_secret": "app-secret"}] * 2
    assert job_authorizations == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]
    assert "app-secret" not in repr(api)


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(503), AirbyteApiError),
        (httpx.Response(429), AirbyteApiError),
        (httpx.Response(200, content=b"<html>"), AirbyteApiError),
        (httpx.Response(403), AirbyteApiRejected),
        (httpx.Response(404), AirbyteApiRejected),
    ],
    ids=["5xx", "429", "not-json", "403", "404"],
)
@pytest.mark.anyio
async def test_failures_say_whether_to_try_again_later(
    response: httpx.Response, error: type[Exception]
) -> None:
    api = client(lambda request: response)
    with pytest.raises(error):
        await api.running_job()
    await api.aclose()


@pytest.mark.anyio
async def test_an_unreachable_api_is_a_transient_failure() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    api = client(handler)
    with pytest.raises(AirbyteApiError, match="ConnectError"):
        await api.running_job()
    await api.aclose()


def test_configuration_needs_a_token_or_client_credentials() -> None:
    with pytest.raises(ValueError, match="bearer token, or a client id"):
        AirbyteApiConfig(base_url=BASE_URL, connection_id=CONNECTION_ID, client_id="app-id")


def test_pages_that_are_not_job_lists_hold_no_jobs() -> None:
    assert parse_jobs_page({"data": [{"status": "running"}, "x", job_response()]})[0].job_id == "9988"
    assert parse_jobs_page({"data": None}) == parse_jobs_page([]) == []
