"""The ClickUp client and its rate budget, against `httpx.MockTransport` and a fake clock.

No test sleeps for real: the client and the budget take their clock and their sleep from a
`FakeClock`, which either jumps forward when slept on or holds sleepers until the test advances it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from clickup_sync.clickup.client import ClickUpClient, RetryPolicy
from clickup_sync.clickup.protocol import RateLimitInfo
from clickup_sync.clickup.ratelimit import (
    BudgetPolicy,
    BudgetState,
    Lane,
    RateBudget,
    merge_observation,
    merge_rate_limited,
    take_from_budget,
)
from clickup_sync.errors import (
    ClickUpAuthError,
    ClickUpTransientError,
    ConfigError,
    PermanentError,
    RateLimited,
    TaskGone,
)
from clickup_sync.settings import load_settings

TOKEN = "pk_81234567_SECRETSECRETSECRETSECRETSECRET12"
BASE_URL = "https://api.clickup.test/api/v2"
START = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)

Handler = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """Aware UTC time that only moves when slept on (`autoadvance`) or when the test says so."""

    def __init__(self, *, autoadvance: bool = True) -> None:
        self.current = START
        self.autoadvance = autoadvance
        self.slept: list[float] = []
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.autoadvance:
            self.current += timedelta(seconds=seconds)
            await asyncio.sleep(0)
            return
        woken = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.current + timedelta(seconds=seconds), woken))
        await woken

    async def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        for deadline, woken in list(self._sleepers):
            if deadline <= self.current and not woken.done():
                woken.set_result(None)
        await settle()


async def settle() -> None:
    """Let every runnable task run until all of them wait again."""
    for _ in range(50):
        await asyncio.sleep(0)


class WindowedClickUp:
    """A MockTransport handler that counts requests in fixed windows on the fake clock, answers 429
    past `limit` like ClickUp (§1.3), and sends the rate-limit headers on every answer."""

    def __init__(self, clock: FakeClock, *, limit: int = 100, window_seconds: int = 60) -> None:
        self.clock = clock
        self.limit = limit
        self.window_seconds = window_seconds
        self.counted: dict[int, int] = {}
        self.sent_at: list[datetime] = []
        self.answer: Handler = lambda request: httpx.Response(200, json={"teams": []})

    def window_of(self, when: datetime) -> int:
        return math.floor(when.timestamp() / self.window_seconds)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = self.clock.now()
        self.sent_at.append(now)
        window = self.window_of(now)
        self.counted[window] = self.counted.get(window, 0) + 1
        used = self.counted[window]
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - used)),
            "X-RateLimit-Reset": str((window + 1) * self.window_seconds),
        }
        if used > self.limit:
            return httpx.Response(
                429, json={"err": "Rate limit reached", "ECODE": "APP_002"}, headers=headers
            )
        answer = self.answer(request)
        answer.headers.update(headers)
        return answer


def make_client(
    handler: Handler,
    clock: FakeClock,
    *,
    token: SecretStr | str = TOKEN,
    policy: BudgetPolicy | None = None,
    retry: RetryPolicy | None = None,
) -> ClickUpClient:
    budget = RateBudget.local(token, policy=policy, clock=clock.now, sleep=clock.sleep)
    return ClickUpClient(
        BASE_URL,
        token,
        budget=budget,
        transport=httpx.MockTransport(handler),
        retry=retry,
        sleep=clock.sleep,
        clock=clock.now,
        jitter=lambda: 1.0,
    )


def error_answer(status: int, err: str, ecode: str) -> Handler:
    return lambda request: httpx.Response(status, json={"err": err, "ECODE": ecode})


# --- authentication and secrets -------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("token", "sent"),
    [(TOKEN, TOKEN), (SecretStr(TOKEN), TOKEN), ("Bearer oauth-token-123", "Bearer oauth-token-123")],
)
async def test_the_token_is_sent_raw_without_a_bearer_prefix(token: SecretStr | str, sent: str) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"user": {"id": 183}})

    async with make_client(answer, FakeClock(), token=token) as client:
        assert await client.get_user() == {"id": 183}
    assert seen[0].headers["Authorization"] == sent
    assert str(seen[0].url) == f"{BASE_URL}/user"


@pytest.mark.anyio
@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_token_is_an_auth_error_that_never_shows_the_token(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with make_client(error_answer(status, "Token invalid", "OAUTH_025"), FakeClock()) as client:
        with pytest.raises(ClickUpAuthError) as raised:
            await client.get_task("9hx")
        shown = [str(raised.value), repr(raised.value), repr(client), repr(client.budget), caplog.text]
    assert raised.value.status == status and raised.value.ecode == "OAUTH_025"
    assert all(TOKEN not in text and "SECRETSECRET" not in text for text in shown)


@pytest.mark.anyio
async def test_transport_failures_never_show_the_token(caplog: pytest.LogCaptureFixture) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    caplog.set_level(logging.DEBUG)
    async with make_client(refuse, FakeClock(), retry=RetryPolicy(attempts=2)) as client:
        with pytest.raises(ClickUpTransientError) as raised:
            await client.get_teams()
    chain = [raised.value, raised.value.__cause__]
    assert all(TOKEN not in f"{error} {error!r}" for error in chain)
    assert TOKEN not in caplog.text


def test_a_client_without_a_token_stops_with_a_config_error() -> None:
    with pytest.raises(ConfigError, match="CLICKUP_API_TOKEN"):
        ClickUpClient.from_settings(load_settings(_env_file=None, CLICKUP_API_TOKEN=None), None)
    with pytest.raises(ConfigError, match="CLICKUP_API_TOKEN"):
        ClickUpClient(BASE_URL, "   ")


def test_a_budget_made_for_another_token_is_refused() -> None:
    with pytest.raises(ConfigError, match="another token"):
        ClickUpClient(BASE_URL, TOKEN, budget=RateBudget.local("pk_other"))


@pytest.mark.anyio
async def test_from_settings_uses_the_configured_url_and_token() -> None:
    settings = load_settings(
        _env_file=None, CLICKUP_API_TOKEN=TOKEN, CLICKUP_API_URL="http://127.0.0.1:9/api/v2/"
    )
    client = ClickUpClient.from_settings(settings, RateBudget.local(SecretStr(TOKEN)))
    async with client:
        assert client.base_url == "http://127.0.0.1:9/api/v2"
        assert TOKEN not in repr(client)


# --- errors and retries ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_deleted_task_raises_task_gone() -> None:
    answer = error_answer(404, "Task not found, deleted", "ITEM_013")
    async with make_client(answer, FakeClock()) as client:
        with pytest.raises(TaskGone) as raised:
            await client.get_task("86d3cc9fu")
    assert raised.value.task_id == "86d3cc9fu"


@pytest.mark.anyio
async def test_a_missing_list_is_a_permanent_error_naming_the_endpoint() -> None:
    async with make_client(error_answer(404, "List not found", "ITEM_015"), FakeClock()) as client:
        with pytest.raises(PermanentError, match=r"GET /list/\{list_id\}.*ITEM_015"):
            await client.get_list("901102682453")
        assert client.total_calls == 1  # not retried


@pytest.mark.anyio
async def test_a_bad_request_is_not_retried_and_carries_the_ecode() -> None:
    clock = FakeClock()
    answer = error_answer(400, "Webhook configuration already exists", "OAUTH_171")
    async with make_client(answer, clock) as client:
        with pytest.raises(PermanentError, match="OAUTH_171"):
            await client.create_webhook("108", "https://example.test/hook", ["*"])
        assert client.total_calls == 1
    assert clock.slept == []


@pytest.mark.anyio
async def test_server_errors_are_retried_with_growing_backoff_then_raised_as_transient() -> None:
    clock = FakeClock()
    async with make_client(lambda request: httpx.Response(503), clock) as client:
        with pytest.raises(ClickUpTransientError, match="5 attempts") as raised:
            await client.get_teams()
        assert client.calls[("GET /team", "503")] == 5
    assert raised.value.status == 503
    assert clock.slept == [0.5, 1.0, 2.0, 4.0]  # jitter pinned to its top


@pytest.mark.anyio
async def test_a_server_error_that_passes_is_invisible_to_the_caller() -> None:
    answers = iter(
        [httpx.Response(500), httpx.Response(502), httpx.Response(200, json={"teams": [{"id": "1"}]})]
    )
    async with make_client(lambda request: next(answers), FakeClock()) as client:
        assert await client.get_teams() == [{"id": "1"}]
        assert client.calls == {("GET /team", "500"): 1, ("GET /team", "502"): 1, ("GET /team", "200"): 1}
        assert client.total_calls == 3


def test_backoff_jitter_stays_between_half_and_all_of_the_doubled_delay() -> None:
    policy = RetryPolicy(first_delay_seconds=1.0, longest_delay_seconds=5.0)
    assert [policy.delay(n, lambda: 0.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 2.5, 2.5]
    assert [policy.delay(n, lambda: 1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]


@pytest.mark.anyio
async def test_timeouts_are_retried_for_reads_but_a_create_is_not_sent_twice() -> None:
    attempts: list[str] = []

    def time_out(request: httpx.Request) -> httpx.Response:
        attempts.append(request.method)
        if len(attempts) == 1:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, json={"webhooks": []})

    async with make_client(time_out, FakeClock()) as client:
        assert await client.list_webhooks("108") == []
        assert client.calls[("GET /team/{team_id}/webhook", "timeout")] == 1

    attempts.clear()
    async with make_client(time_out, FakeClock()) as client:
        with pytest.raises(ClickUpTransientError, match="timeout"):
            await client.create_webhook("108", "https://example.test/hook", ["taskUpdated"])
    assert attempts == ["POST"]


@pytest.mark.anyio
async def test_a_429_waits_for_the_reset_then_the_request_succeeds() -> None:
    clock = FakeClock()
    reset = START + timedelta(seconds=20)
    limited = {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(reset.timestamp())),
    }
    sent_at: list[datetime] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock.now())
        if len(sent_at) == 1:
            return httpx.Response(
                429, json={"err": "Rate limit reached", "ECODE": "APP_002"}, headers=limited
            )
        return httpx.Response(200, json={"id": "9hx"})

    async with make_client(answer, clock) as client:
        assert await client.get_task("9hx") == {"id": "9hx"}
        snapshot_after = await client.budget.snapshot()
    assert len(sent_at) == 2  # one retry, not a loop
    assert sent_at[1] >= reset + timedelta(seconds=1)  # the reset plus the default margin
    assert snapshot_after.limit == 100


@pytest.mark.anyio
async def test_repeated_429s_end_in_rate_limited_instead_of_looping() -> None:
    clock = FakeClock()

    def always_limited(request: httpx.Request) -> httpx.Response:
        reset = int(clock.now().timestamp()) + 5
        headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
        return httpx.Response(429, json={"err": "Rate limit reached", "ECODE": "APP_002"}, headers=headers)

    async with make_client(always_limited, clock, retry=RetryPolicy(rate_limit_retries=2)) as client:
        with pytest.raises(RateLimited) as raised:
            await client.get_teams()
        assert client.calls[("GET /team", "429")] == 3
    assert raised.value.reset_at is not None and raised.value.reset_at > START.timestamp()
    assert all(pause > 0 for pause in clock.slept)  # every retry waited for a reset


# --- the budget through the client ----------------------------------------------------------------


@pytest.mark.anyio
async def test_by_default_a_window_is_used_to_90_percent_and_never_429s() -> None:
    clock = FakeClock()
    clickup = WindowedClickUp(clock, limit=100, window_seconds=60)
    async with make_client(clickup, clock) as client:
        for _ in range(200):
            await client.get_teams()
        snapshot = await client.budget.snapshot()
    assert client.calls == {("GET /team", "200"): 200}
    assert max(clickup.counted.values()) == 90
    first_window = clickup.window_of(clickup.sent_at[0])
    assert clickup.counted[first_window] == 90  # the opening window, before any reset was known
    assert (snapshot.limit, snapshot.webhook_share, snapshot.backfill_share) == (100, 90, 72)


@pytest.mark.anyio
async def test_the_usable_share_is_configurable() -> None:
    clock = FakeClock()
    clickup = WindowedClickUp(clock, limit=100, window_seconds=60)
    async with make_client(clickup, clock, policy=BudgetPolicy(usable_fraction=0.5)) as client:
        for _ in range(120):
            await client.get_teams()
    assert max(clickup.counted.values()) == 50


@pytest.mark.anyio
async def test_the_window_length_comes_from_the_reset_header() -> None:
    clock = FakeClock()
    clickup = WindowedClickUp(clock, limit=60, window_seconds=2)
    policy = BudgetPolicy(reset_margin_seconds=0.1)
    async with make_client(clickup, clock, policy=policy) as client:
        for _ in range(54 * 3):
            await client.get_teams()
    elapsed = (clock.now() - START).total_seconds()
    assert elapsed < 8  # three windows of 2 s, not three of the assumed 60 s
    assert max(clickup.counted.values()) <= 54


@pytest.mark.anyio
async def test_backfill_leaves_a_reserve_that_only_webhook_refreshes_may_use() -> None:
    clock = FakeClock()
    clickup = WindowedClickUp(clock, limit=100, window_seconds=60)
    async with make_client(clickup, clock) as client:
        for _ in range(72):
            await client.get_teams(lane=Lane.BACKFILL)
        opening = clickup.window_of(clock.now())
        for _ in range(18):
            await client.get_task("9hx", lane=Lane.WEBHOOK)
        assert clickup.window_of(clock.now()) == opening  # the reserve was there, no wait
        await client.get_teams(lane=Lane.BACKFILL)
        assert clickup.window_of(clock.now()) == opening + 1  # backfill had to wait for the reset
    assert clickup.counted[opening] == 90


# --- lanes ------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_webhook_refresh_is_served_before_backfill_pages_queued_earlier() -> None:
    clock = FakeClock(autoadvance=False)
    policy = BudgetPolicy(reset_margin_seconds=0.5)
    budget = RateBudget.local(TOKEN, policy=policy, clock=clock.now, sleep=clock.sleep)
    await budget.observe(RateLimitInfo(limit=10, remaining=2, resets_at=START + timedelta(seconds=30)))
    assert (await budget.acquire(Lane.WEBHOOK)).granted_at == START  # the window's last request
    served: list[str] = []

    async def request(name: str, lane: Lane) -> None:
        await budget.acquire(lane)
        served.append(name)

    tasks = []
    for name in ("backfill-1", "backfill-2", "backfill-3"):
        tasks.append(asyncio.create_task(request(name, Lane.BACKFILL)))
        await settle()
    tasks.append(asyncio.create_task(request("webhook", Lane.WEBHOOK)))
    await settle()
    assert served == []  # everyone waits for the reset

    await clock.advance(30.5)
    await asyncio.gather(*tasks)
    assert served == ["webhook", "backfill-1", "backfill-2", "backfill-3"]


@pytest.mark.anyio
async def test_a_cancelled_waiter_does_not_block_the_ones_behind_it() -> None:
    clock = FakeClock(autoadvance=False)
    budget = RateBudget.local(TOKEN, clock=clock.now, sleep=clock.sleep)
    await budget.observe(RateLimitInfo(limit=10, remaining=0, resets_at=START + timedelta(seconds=10)))
    first = asyncio.create_task(budget.acquire(Lane.WEBHOOK))
    await settle()
    second = asyncio.create_task(budget.acquire(Lane.BACKFILL))
    await settle()
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await clock.advance(11)
    grant = await second
    assert grant.lane is Lane.BACKFILL and grant.granted_at >= START + timedelta(seconds=11)


# --- the budget's arithmetic ------------------------------------------------------------------------


def state(limit: int, remaining: int, resets_in: float) -> BudgetState:
    return BudgetState(limit=limit, remaining=remaining, resets_at=START + timedelta(seconds=resets_in))


@pytest.mark.parametrize(
    ("before", "lane", "granted", "remaining_after", "retry_in"),
    [
        (state(100, 100, 60), Lane.BACKFILL, True, 99, None),
        (state(100, 11, 60), Lane.WEBHOOK, True, 10, None),  # 89 used: the 90th is allowed
        (state(100, 10, 60), Lane.WEBHOOK, False, 10, 61.0),  # 90 used: wait for reset + margin
        (state(100, 29, 60), Lane.BACKFILL, True, 28, None),  # 71 used: backfill's 72nd
        (state(100, 28, 60), Lane.BACKFILL, False, 28, 61.0),  # the rest is the webhook reserve
        (state(100, 28, 60), Lane.WEBHOOK, True, 27, None),
        (state(60, 7, 2), Lane.WEBHOOK, True, 6, None),  # 53 of 54
        (state(60, 6, 2), Lane.WEBHOOK, False, 6, 3.0),
        (state(100, 0, -0.5), Lane.WEBHOOK, False, 0, 0.5),  # reset passed, margin not yet
        (state(100, 0, -1.0), Lane.BACKFILL, True, 99, None),  # a fresh window
    ],
)
def test_taking_from_the_budget(
    before: BudgetState, lane: Lane, granted: bool, remaining_after: int, retry_in: float | None
) -> None:
    taken = take_from_budget(before, lane, START, BudgetPolicy())
    assert taken.granted is granted
    assert taken.state.remaining == remaining_after
    assert taken.retry_at == (None if retry_in is None else START + timedelta(seconds=retry_in))


@pytest.mark.parametrize(
    ("before", "observed", "after"),
    [
        # Same window: the lower remaining wins either way.
        (state(100, 50, 30), RateLimitInfo(100, 60, START + timedelta(seconds=30)), state(100, 50, 30)),
        (state(100, 50, 30), RateLimitInfo(100, 40, START + timedelta(seconds=30)), state(100, 40, 30)),
        # The assumed 60 s window is cut to what ClickUp says.
        (state(100, 97, 60), RateLimitInfo(60, 58, START + timedelta(seconds=2)), state(60, 58, 2)),
        # A later window replaces the row; so does any answer once the row's window is over.
        (state(100, 3, 10), RateLimitInfo(100, 95, START + timedelta(seconds=70)), state(100, 95, 70)),
        (state(100, 3, -1), RateLimitInfo(100, 95, START + timedelta(seconds=59)), state(100, 95, 59)),
        # A slow answer about a window that is over changes nothing.
        (state(100, 80, 60), RateLimitInfo(100, 2, START - timedelta(seconds=1)), state(100, 80, 60)),
    ],
)
def test_answers_fold_into_the_budget(
    before: BudgetState, observed: RateLimitInfo, after: BudgetState
) -> None:
    assert merge_observation(before, observed, START) == after


def test_a_429_empties_the_window_and_always_pauses() -> None:
    assert merge_rate_limited(state(100, 40, 30), START + timedelta(seconds=12), 100, START) == state(
        100, 0, 12
    )
    assert merge_rate_limited(state(100, 40, 30), None, None, START) == state(100, 0, 30)
    # A reset already past by our clock (skew) still pauses for a second.
    assert merge_rate_limited(state(100, 40, 30), START - timedelta(seconds=5), None, START) == state(
        100, 0, 1
    )


def test_the_policy_refuses_nonsense() -> None:
    for bad in (
        {"usable_fraction": 0},
        {"usable_fraction": 1.1},
        {"webhook_reserve_fraction": 1},
        {"reset_margin_seconds": -1},
    ):
        with pytest.raises(ValueError):
            BudgetPolicy(**bad)


# --- pagination -------------------------------------------------------------------------------------


def task_pages(*sizes: int, last_page: bool | None = None) -> tuple[Handler, list[dict[str, Any]]]:
    """A handler serving pages of the given sizes, and the list of queries it received."""
    queries: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        queries.append({"path": request.url.path, **query})
        page = int(query["page"])
        size = sizes[page] if page < len(sizes) else 0
        body: dict[str, Any] = {"tasks": [{"id": f"t{page}-{n}"} for n in range(size)]}
        if last_page is not None:
            body["last_page"] = page == len(sizes) - 1 if last_page else False
        return httpx.Response(200, json=body)

    return answer, queries


@pytest.mark.anyio
async def test_team_task_pages_start_at_zero_and_stop_on_a_short_page() -> None:
    answer, queries = task_pages(100, 100, 37)
    async with make_client(answer, FakeClock()) as client:
        pages = [
            (page, len(tasks)) async for page, tasks in client.iter_team_task_pages("1234567", archived=False)
        ]
    assert pages == [(0, 100), (1, 100), (2, 37)]
    assert [query["page"] for query in queries] == ["0", "1", "2"]
    assert queries[0] == {
        "path": "/api/v2/team/1234567/task",
        "page": "0",
        "archived": "false",
        "include_closed": "true",
        "subtasks": "true",
        "order_by": "created",
        "reverse": "false",
    }


@pytest.mark.anyio
async def test_a_walk_stops_on_last_page_even_when_the_page_is_full() -> None:
    answer, queries = task_pages(100, 100, 100, 100, last_page=True)
    async with make_client(answer, FakeClock()) as client:
        pages = [page async for page, _ in client.iter_list_task_pages("15505202", archived=True)]
    assert pages == [0, 1, 2, 3]
    assert queries[-1]["path"] == "/api/v2/list/15505202/task" and queries[-1]["archived"] == "true"


@pytest.mark.anyio
async def test_a_walk_does_not_trust_a_false_last_page_on_a_short_page() -> None:
    answer, queries = task_pages(100, 0, last_page=False)
    async with make_client(answer, FakeClock()) as client:
        pages = [(page, len(tasks)) async for page, tasks in client.iter_team_task_pages("1", archived=True)]
    assert pages == [(0, 100), (1, 0)]
    assert len(queries) == 2


@pytest.mark.anyio
async def test_a_walk_resumes_from_a_page_and_filters_by_update_time_and_space() -> None:
    answer, queries = task_pages(100, 100, 100, 5)
    sent: list[httpx.URL] = []

    def recording(request: httpx.Request) -> httpx.Response:
        sent.append(request.url)
        return answer(request)

    async with make_client(recording, FakeClock()) as client:
        pages = [
            page
            async for page, _ in client.iter_team_task_pages(
                "1", archived=False, date_updated_gt=1567780450202, start_page=2, space_ids=["790", "791"]
            )
        ]
    assert pages == [2, 3]
    assert queries[0]["page"] == "2" and queries[0]["date_updated_gt"] == "1567780450202"
    assert sent[0].params.get_list("space_ids[]") == ["790", "791"]


# --- thin endpoint methods --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_hierarchy_and_field_methods_unwrap_clickups_answers() -> None:
    bodies = {
        "/api/v2/team": {"teams": [{"id": "1"}]},
        "/api/v2/team/1/space": {"spaces": [{"id": "790"}]},
        "/api/v2/space/790/folder": {"folders": [{"id": "457"}]},
        "/api/v2/folder/457/list": {"lists": [{"id": "124"}]},
        "/api/v2/space/790/list": {"lists": [{"id": "125"}]},
        "/api/v2/list/124": {"id": "124", "statuses": []},
        "/api/v2/list/124/field": {"fields": [{"id": "f1"}]},
        "/api/v2/team/1/field": {"fields": [{"id": "f2"}]},
        "/api/v2/task/9hx": {"id": "9hx", "subtasks": []},
    }
    seen: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json=bodies[request.url.path])

    async with make_client(answer, FakeClock()) as client:
        assert await client.get_teams() == [{"id": "1"}]
        assert await client.get_spaces("1", archived=False) == [{"id": "790"}]
        assert await client.get_folders("790", archived=True) == [{"id": "457"}]
        assert await client.get_folder_lists("457", archived=False) == [{"id": "124"}]
        assert await client.get_folderless_lists("790", archived=False) == [{"id": "125"}]
        assert await client.get_list("124") == {"id": "124", "statuses": []}
        assert await client.get_list_fields("124") == [{"id": "f1"}]
        assert await client.get_team_fields("1") == [{"id": "f2"}]
        assert await client.get_task("9hx", include_subtasks=True) == {"id": "9hx", "subtasks": []}
        assert client.calls[("GET /task/{task_id}", "200")] == 1
        assert client.total_calls == 9
    assert seen[2].params["archived"] == "true"
    assert seen[-1].params["include_subtasks"] == "true"


@pytest.mark.anyio
async def test_path_parts_are_escaped() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"id": "x"})

    async with make_client(answer, FakeClock()) as client:
        await client.get_task("../team?x=1")
    assert seen == ["/api/v2/task/..%2Fteam%3Fx%3D1?include_subtasks=false"]


@pytest.mark.anyio
async def test_webhook_crud_sends_the_documented_bodies() -> None:
    sent: list[tuple[str, str, Any]] = []
    webhook = {"id": "4b67ac88", "endpoint": "https://example.test/hook", "secret": "S3CR3T"}

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        sent.append((request.method, request.url.path, body))
        if request.method == "GET":
            return httpx.Response(200, json={"webhooks": [webhook]})
        if request.method == "DELETE":
            return httpx.Response(200, json={})
        return httpx.Response(200, json={"id": "4b67ac88", "webhook": webhook})

    async with make_client(answer, FakeClock()) as client:
        assert (
            await client.create_webhook("108", "https://example.test/hook", ["taskUpdated"], "1234")
            == webhook
        )
        assert await client.list_webhooks("108") == [webhook]
        assert await client.update_webhook("4b67ac88", "https://example.test/hook", "*", "active") == webhook
        await client.delete_webhook("4b67ac88")
    assert sent == [
        (
            "POST",
            "/api/v2/team/108/webhook",
            {"endpoint": "https://example.test/hook", "events": ["taskUpdated"], "space_id": 1234},
        ),
        ("GET", "/api/v2/team/108/webhook", None),
        (
            "PUT",
            "/api/v2/webhook/4b67ac88",
            {"endpoint": "https://example.test/hook", "events": "*", "status": "active"},
        ),
        ("DELETE", "/api/v2/webhook/4b67ac88", None),
    ]


@pytest.mark.anyio
async def test_an_answer_of_the_wrong_shape_is_a_clear_error() -> None:
    async with make_client(
        lambda request: httpx.Response(200, text="<html>login</html>"), FakeClock()
    ) as client:
        with pytest.raises(PermanentError, match="not JSON"):
            await client.get_teams()
    async with make_client(lambda request: httpx.Response(200, json={"teams": None}), FakeClock()) as client:
        with pytest.raises(PermanentError, match="`teams`"):
            await client.get_teams()
