"""The async ClickUp API v2 client: budgeted, retried, and thin.

Every request first takes permission from the `RateBudget` (shared by all processes that use the
token), and every answer's rate-limit headers are folded back into it. 5xx answers, timeouts and
connection errors are retried with exponential backoff and jitter; a 429 waits for the window's
reset and is then retried. Everything else becomes one exception of `clickup_sync.errors`
(mapping in `protocol.error_for_answer`). Methods return ClickUp's JSON, unwrapped one level.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
import orjson
from pydantic import SecretStr

from clickup_sync.clickup.protocol import (
    RateLimitInfo,
    authorization_header_value,
    error_for_answer,
    is_last_task_page,
    parse_error_body,
    parse_rate_limit_headers,
    parse_retry_after,
)
from clickup_sync.clickup.ratelimit import Clock, Lane, RateBudget, Sleep, fingerprint_token, utc_now
from clickup_sync.errors import ClickUpTransientError, ConfigError, PermanentError, RateLimited
from clickup_sync.settings import Settings

log = logging.getLogger(__name__)

JsonObject = dict[str, Any]
Query = dict[str, str | list[str]]
_Shape = TypeVar("_Shape", dict[str, Any], list[Any])

# Only requests that change nothing are retried after a timeout or a 5xx: a POST may have been
# carried out (creating a webhook twice fails with OAUTH_171, §7.1). Any request is retried when
# the connection could not be made, because then nothing was sent.
_IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of transient failures: exponential backoff with jitter, then `ClickUpTransientError`."""

    attempts: int = 5
    first_delay_seconds: float = 0.5
    longest_delay_seconds: float = 30.0
    rate_limit_retries: int = 3  # 429s in a row for one request before `RateLimited` is raised

    def delay(self, failed_attempts: int, draw: Callable[[], float]) -> float:
        """Seconds to wait after `failed_attempts` failures: doubling, capped, scaled into [50%, 100%]."""
        ceiling = min(self.longest_delay_seconds, self.first_delay_seconds * 2.0 ** (failed_attempts - 1))
        return ceiling * (0.5 + draw() / 2)


class ClickUpClient:
    """`async with ClickUpClient(base_url, token) as client: await client.get_task("9hx")`."""

    def __init__(
        self,
        base_url: str,
        token: SecretStr | str,
        *,
        budget: RateBudget | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_seconds: float = 60.0,  # §4.5: big team-task pages have taken ~14 s
        connect_timeout_seconds: float = 10.0,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = utc_now,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        secret = token if isinstance(token, SecretStr) else SecretStr(token)
        if not secret.get_secret_value().strip():
            raise ConfigError("CLICKUP_API_TOKEN: is empty")
        if budget is not None and budget.token_fingerprint != fingerprint_token(secret):
            raise ConfigError("the rate budget given to the ClickUp client was made for another token")
        self.base_url = base_url.rstrip("/")
        self.budget = budget or RateBudget.local(secret, clock=clock, sleep=sleep)
        self.retry = retry or RetryPolicy()
        self.calls: Counter[tuple[str, str]] = Counter()  # (endpoint template, status or failure) → count
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            # §1.2: personal tokens go raw, no "Bearer". httpx masks this header in its reprs.
            headers={
                "Authorization": authorization_header_value(secret.get_secret_value()),
                "User-Agent": "clickup-sync",
            },
            transport=transport,
            timeout=httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds),
        )

    @classmethod
    def from_settings(cls, settings: Settings, budget: RateBudget | None) -> ClickUpClient:
        if settings.clickup_api_token is None:
            raise ConfigError("CLICKUP_API_TOKEN: is required to call the ClickUp API")
        return cls(settings.clickup_api_url, settings.clickup_api_token, budget=budget)

    def __repr__(self) -> str:
        return f"ClickUpClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections. The budget belongs to whoever made it."""
        await self._http.aclose()

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    # --- workspace and hierarchy (§8) ---------------------------------------------------------------
    # Walking the hierarchy and reading field definitions is backfill work by default: many calls
    # that must not eat the reserve webhook refreshes rely on. A caller reacting to a webhook passes
    # `lane=Lane.WEBHOOK`.

    async def get_user(self, *, lane: Lane = Lane.WEBHOOK) -> JsonObject:
        return _field(await self._get("/user", lane=lane), "user", dict)

    async def get_teams(self, *, lane: Lane = Lane.WEBHOOK) -> list[JsonObject]:
        return _field(await self._get("/team", lane=lane), "teams", list)

    async def get_spaces(
        self, team_id: str, archived: bool, *, lane: Lane = Lane.BACKFILL
    ) -> list[JsonObject]:
        payload = await self._get(
            "/team/{team_id}/space", {"team_id": team_id}, _flags(archived=archived), lane
        )
        return _field(payload, "spaces", list)

    async def get_folders(
        self, space_id: str, archived: bool, *, lane: Lane = Lane.BACKFILL
    ) -> list[JsonObject]:
        payload = await self._get(
            "/space/{space_id}/folder", {"space_id": space_id}, _flags(archived=archived), lane
        )
        return _field(payload, "folders", list)

    async def get_folder_lists(
        self, folder_id: str, archived: bool, *, lane: Lane = Lane.BACKFILL
    ) -> list[JsonObject]:
        payload = await self._get(
            "/folder/{folder_id}/list", {"folder_id": folder_id}, _flags(archived=archived), lane
        )
        return _field(payload, "lists", list)

    async def get_folderless_lists(
        self, space_id: str, archived: bool, *, lane: Lane = Lane.BACKFILL
    ) -> list[JsonObject]:
        payload = await self._get(
            "/space/{space_id}/list", {"space_id": space_id}, _flags(archived=archived), lane
        )
        return _field(payload, "lists", list)

    async def get_list(self, list_id: str, *, lane: Lane = Lane.WEBHOOK) -> JsonObject:
        return await self._get("/list/{list_id}", {"list_id": list_id}, lane=lane)

    async def get_list_fields(self, list_id: str, *, lane: Lane = Lane.BACKFILL) -> list[JsonObject]:
        # §5.1: the list's accessible fields, Workspace-scoped ones included.
        return _field(
            await self._get("/list/{list_id}/field", {"list_id": list_id}, lane=lane), "fields", list
        )

    async def get_team_fields(self, team_id: str, *, lane: Lane = Lane.BACKFILL) -> list[JsonObject]:
        return _field(
            await self._get("/team/{team_id}/field", {"team_id": team_id}, lane=lane), "fields", list
        )

    # --- tasks (§3) ---------------------------------------------------------------------------------

    async def get_task(
        self, task_id: str, *, include_subtasks: bool = False, lane: Lane = Lane.WEBHOOK
    ) -> JsonObject:
        """The task; raises `TaskGone` when ClickUp says it is deleted (404 ITEM_013, §1.4)."""
        query = _flags(include_subtasks=include_subtasks)
        return await self._get("/task/{task_id}", {"task_id": task_id}, query, lane)

    def iter_team_task_pages(
        self,
        team_id: str,
        *,
        archived: bool,
        date_updated_gt: int | None = None,
        start_page: int = 0,
        space_ids: Sequence[str] | None = None,
        lane: Lane = Lane.BACKFILL,
    ) -> AsyncIterator[tuple[int, list[JsonObject]]]:
        """`(page number, tasks)` of the workspace's tasks, closed tasks and subtasks included (§3.4).

        Ordered by creation, oldest first (`order_by=created`, not reversed): updating a task does not
        move it and new tasks are appended at the end, so page N read after a restart holds the same
        tasks as before, and `start_page` resumes a walk. (Ordered by `updated`, every edit during a
        walk moves a task to the other end and shifts the pages under the reader.) A task deleted
        meanwhile can still shift later tasks back by one; reconciliation covers that. With
        `date_updated_gt` (Unix ms, possibly inclusive, §4.2) only tasks updated after it are listed;
        with `space_ids` only tasks of those spaces.
        """
        query: Query = _flags(archived=archived)
        if date_updated_gt is not None:
            query["date_updated_gt"] = str(date_updated_gt)
        if space_ids:
            query["space_ids[]"] = list(space_ids)  # §3.4: array parameters carry `[]` in their name
        return self._task_pages("/team/{team_id}/task", {"team_id": team_id}, query, start_page, lane)

    def iter_list_task_pages(
        self,
        list_id: str,
        *,
        archived: bool,
        date_updated_gt: int | None = None,
        start_page: int = 0,
        lane: Lane = Lane.BACKFILL,
    ) -> AsyncIterator[tuple[int, list[JsonObject]]]:
        """`(page number, tasks)` of the tasks whose home list is `list_id` (§3.3), ordered as
        `iter_team_task_pages`. Used for lists the team endpoint misses, such as archived ones (§4.1)."""
        query = _flags(archived=archived)
        if date_updated_gt is not None:
            query["date_updated_gt"] = str(date_updated_gt)
        return self._task_pages("/list/{list_id}/task", {"list_id": list_id}, query, start_page, lane)

    async def _task_pages(
        self, template: str, path: dict[str, str], query: Query, start_page: int, lane: Lane
    ) -> AsyncIterator[tuple[int, list[JsonObject]]]:
        query = {
            **query,
            **_flags(include_closed=True, subtasks=True, reverse=False),
            "order_by": "created",
        }
        page = start_page
        while True:
            payload = await self._get(template, path, {**query, "page": str(page)}, lane)
            tasks = _field(payload, "tasks", list)
            yield page, tasks
            # §3.4: `last_page` is undocumented on the team endpoint; a short page also ends the walk.
            if is_last_task_page(len(tasks), payload.get("last_page")):
                return
            page += 1

    # --- webhooks (§7.1) ----------------------------------------------------------------------------

    async def create_webhook(
        self, team_id: str, endpoint: str, events: Sequence[str], space_id: str | None = None
    ) -> JsonObject:
        """The created webhook object, `secret` included. OAUTH_171 (a 400) means it already exists."""
        body: JsonObject = {"endpoint": endpoint, "events": list(events)}
        if space_id is not None:  # the §7.1 example sends the location id as a number
            body["space_id"] = int(space_id) if space_id.isdigit() else space_id
        payload = await self._request("POST", "/team/{team_id}/webhook", {"team_id": team_id}, json=body)
        return _field(payload, "webhook", dict)

    async def list_webhooks(self, team_id: str) -> list[JsonObject]:
        """The webhooks this token's user created in the workspace (§7.1)."""
        return _field(await self._get("/team/{team_id}/webhook", {"team_id": team_id}), "webhooks", list)

    async def update_webhook(
        self, webhook_id: str, endpoint: str, events: Sequence[str] | str, status: str
    ) -> JsonObject:
        """Change a webhook; `status="active"` reactivates a suspended one (§7.7)."""
        body = {
            "endpoint": endpoint,
            "events": events if isinstance(events, str) else list(events),
            "status": status,
        }
        payload = await self._request("PUT", "/webhook/{webhook_id}", {"webhook_id": webhook_id}, json=body)
        return _field(payload, "webhook", dict)

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._request("DELETE", "/webhook/{webhook_id}", {"webhook_id": webhook_id})

    # --- the request loop ---------------------------------------------------------------------------

    async def _get(
        self,
        template: str,
        path: dict[str, str] | None = None,
        query: Query | None = None,
        lane: Lane = Lane.WEBHOOK,
    ) -> JsonObject:
        return await self._request("GET", template, path, query=query, lane=lane)

    async def _request(
        self,
        method: str,
        template: str,
        path: dict[str, str] | None = None,
        *,
        query: Query | None = None,
        json: JsonObject | None = None,
        lane: Lane = Lane.WEBHOOK,
    ) -> JsonObject:
        endpoint = f"{method} {template}"
        url = template.format(**{name: quote(str(value), safe="") for name, value in (path or {}).items()})
        failures = rate_limited = 0
        while True:
            await self.budget.acquire(lane)
            try:
                response = await self._http.request(method, url, params=query, json=json)
            except httpx.RequestError as exc:
                failures += 1
                await self._after_request_error(exc, method, endpoint, failures)
                continue
            self.calls[(endpoint, str(response.status_code))] += 1
            now = self._clock()
            rate_limit = parse_rate_limit_headers(response.headers, now=now)
            if rate_limit is not None:
                await self.budget.observe(rate_limit)
            if response.status_code == 429:
                rate_limited += 1
                await self._after_rate_limited(response, rate_limit, endpoint, rate_limited)
                continue
            if response.is_success:
                return _json_object(response, endpoint)
            body = parse_error_body(response.content)  # parsed only for errors: pages are large
            error = error_for_answer(
                response.status_code, body, endpoint=endpoint, task_id=(path or {}).get("task_id")
            )
            if error is None:
                return _json_object(response, endpoint)
            if not isinstance(error, ClickUpTransientError) or method not in _IDEMPOTENT_METHODS:
                raise error
            failures += 1
            if failures >= self.retry.attempts:
                raise ClickUpTransientError(
                    f"{error}; gave up after {failures} attempts", status=response.status_code
                ) from error
            await self._back_off(endpoint, str(response.status_code), failures)

    async def _after_request_error(
        self, error: httpx.RequestError, method: str, endpoint: str, failures: int
    ) -> None:
        """Back off before a retry, or raise `ClickUpTransientError` when retrying is over or unsafe."""
        kind = "timeout" if isinstance(error, httpx.TimeoutException) else "connection_error"
        self.calls[(endpoint, kind)] += 1
        unsent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
        if failures >= self.retry.attempts or not (unsent or method in _IDEMPOTENT_METHODS):
            message = f"{kind.replace('_', ' ')} calling ClickUp {endpoint} (attempt {failures})"
            raise ClickUpTransientError(message) from error
        await self._back_off(endpoint, kind, failures)

    async def _after_rate_limited(
        self, response: httpx.Response, rate_limit: RateLimitInfo | None, endpoint: str, times: int
    ) -> None:
        """§1.3: nothing is left until the reset. Tell the budget, whose next `acquire` waits for it;
        raise `RateLimited` when the same request was refused too often (never loop blindly)."""
        now = self._clock()
        resets_at = rate_limit.resets_at if rate_limit else parse_retry_after(response.headers, now=now)
        await self.budget.observe_rate_limited(resets_at, limit=rate_limit.limit if rate_limit else None)
        if times > self.retry.rate_limit_retries:
            raise RateLimited(
                f"ClickUp rate limit reached on {endpoint} "
                f"({parse_error_body(response.content).describe()}) {times} times in a row",
                reset_at=resets_at.timestamp() if resets_at else None,
            )
        log.warning("ClickUp rate limit reached on %s; waiting for the window to reset", endpoint)

    async def _back_off(self, endpoint: str, failure: str, failures: int) -> None:
        delay = self.retry.delay(failures, self._jitter)
        log.warning(
            "ClickUp %s failed (%s), attempt %d; retrying in %.1fs", endpoint, failure, failures, delay
        )
        await self._sleep(delay)


def _flags(**flags: bool) -> Query:
    # ClickUp reads booleans in the query as the words true/false.
    return {name: "true" if value else "false" for name, value in flags.items()}


def _json_object(response: httpx.Response, endpoint: str) -> JsonObject:
    try:
        payload = orjson.loads(response.content)  # a 100-task page is ~1 MB; orjson parses it ~3× faster
    except orjson.JSONDecodeError:
        raise PermanentError(f"ClickUp answered {endpoint} with a body that is not JSON") from None
    if not isinstance(payload, dict):
        raise PermanentError(f"ClickUp answered {endpoint} with JSON that is not an object")
    return payload


def _field(payload: JsonObject, name: str, kind: type[_Shape]) -> _Shape:
    value = payload.get(name)
    if not isinstance(value, kind):
        raise PermanentError(f"ClickUp's answer has no {kind.__name__} `{name}`")
    return value
