"""The emulator delivers webhooks the way ClickUp documents it (clickup-api.md §7.2, §7.5, §7.7).

Every test posts to a real HTTP receiver on 127.0.0.1 with short timeouts and retry delays.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from clickup_sync.clickup.emulator.config import ChaosConfig, EmulatorConfig
from clickup_sync.clickup.emulator.webhooks import WebhookDispatcher, WebhookSubscription
from clickup_sync.clickup.signature import serialize_webhook_body, verify_clickup_signature

SECRET = "O94IM25S7PXBPYTMNXLLET230SRP0S89COR7B1YOJ2ZIE8WQNK5UUKEF26W0Z5GA"
FAST = EmulatorConfig(webhook_timeout_seconds=0.3, webhook_retry_delays=(0.01, 0.01, 0.01, 0.01))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when the request arrived

    @property
    def task_id(self) -> str:
        return str(json.loads(self.body)["task_id"])


class Receiver:
    """A minimal HTTP/1.1 server that records requests and answers from a script.

    Each answer is (status, seconds to wait before answering); once the script is used up every
    request gets `default`.
    """

    def __init__(self, script: Iterable[tuple[int, float]] = (), default: tuple[int, float] = (200, 0.0)):
        self._script = deque(script)
        self._default = default
        self.requests: list[Received] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self.url = ""

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/clickup/webhook"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for handler in self._handlers:
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def task_ids(self) -> list[str]:
        return [request.task_id for request in self.requests]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            while await reader.readline():  # request line; b"" once the client hangs up
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(Received(headers=headers, body=body, at=time.monotonic()))
                status, wait = self._script.popleft() if self._script else self._default
                await asyncio.sleep(wait)
                writer.write(f"HTTP/1.1 {status} Whatever\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client hung up, or the test is over
        finally:
            writer.close()
            self._handlers.discard(handler)


def subscription(
    endpoint: str, webhook_id: str = "4b67ac88-e506-4a29-9d42-26e504e3435e"
) -> WebhookSubscription:
    return WebhookSubscription(
        id=webhook_id, userid=183, team_id=108, endpoint=endpoint, events=["*"], secret=SECRET
    )


def task_event(number: int, webhook_id: str = "4b67ac88-e506-4a29-9d42-26e504e3435e") -> dict[str, Any]:
    return {
        "event": "taskUpdated",
        "history_items": [
            {"id": str(2800787326392370170 + number), "field": "name", "after": f"Tâche {number} 🚀"}
        ],
        "task_id": f"t{number}",
        "webhook_id": webhook_id,
    }


@asynccontextmanager
async def running(dispatcher: WebhookDispatcher) -> AsyncIterator[WebhookDispatcher]:
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(dispatcher.run)
        try:
            yield dispatcher
        finally:
            await dispatcher.aclose()


async def settle(dispatcher: WebhookDispatcher, within: float = 5.0) -> None:
    assert await anyio.to_thread.run_sync(dispatcher.wait_idle, within), "deliveries did not finish"


def chaos_counts(dispatcher: WebhookDispatcher) -> dict[str, int]:
    names = ("dropped", "duplicated", "reordered", "delayed")
    return {name: count for name, count in dispatcher.stats().items() if name in names}


# -- delivery format ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_delivery_is_compact_json_signed_with_the_webhook_secret() -> None:
    payload = task_event(1)
    async with Receiver() as receiver, running(WebhookDispatcher(FAST, seed=1)) as dispatcher:
        dispatcher.publish(subscription(receiver.url), payload)
        await settle(dispatcher)

    [request] = receiver.requests
    assert request.body == serialize_webhook_body(payload)
    assert request.headers["content-type"] == "application/json"
    assert verify_clickup_signature(request.body, request.headers["x-signature"], [SECRET])
    assert not verify_clickup_signature(request.body, request.headers["x-signature"], ["another secret"])
    [record] = dispatcher.deliveries
    assert (record.outcome, record.status_code, record.attempt) == ("delivered", 200, 1)
    assert record.history_item_ids == ["2800787326392370171"]
    assert record.task_id == "t1"
    assert dispatcher.stats()["delivered"] == 1


@pytest.mark.anyio
async def test_any_2xx_answer_counts_as_delivered() -> None:
    async with (
        Receiver(default=(204, 0.0)) as receiver,
        running(WebhookDispatcher(FAST, seed=1)) as dispatcher,
    ):
        dispatcher.publish(subscription(receiver.url), task_event(1))
        await settle(dispatcher)

    assert len(receiver.requests) == 1
    assert dispatcher.stats()["delivered"] == 1


# -- retries and health (§7.7) --------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_event_is_tried_five_times_then_given_up() -> None:
    webhook = subscription("")
    async with (
        Receiver(default=(500, 0.0)) as receiver,
        running(WebhookDispatcher(FAST, seed=1)) as dispatcher,
    ):
        webhook.endpoint = receiver.url
        dispatcher.publish(webhook, task_event(1))
        await settle(dispatcher)

    assert len(receiver.requests) == 5
    assert len({(r.body, r.headers["x-signature"]) for r in receiver.requests}) == 1  # identical retries
    assert [r.attempt for r in dispatcher.deliveries] == [1, 2, 3, 4, 5]
    assert {(r.outcome, r.status_code) for r in dispatcher.deliveries} == {("failed", 500)}
    assert webhook.health() == {"status": "failing", "fail_count": 1}
    stats = dispatcher.stats()
    assert (stats["failed_attempts"], stats["events_given_up"], stats["delivered"]) == (5, 1, 0)


@pytest.mark.anyio
async def test_an_unreachable_endpoint_counts_as_failed_attempts() -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    webhook = subscription(f"http://127.0.0.1:{port}/hook")
    async with running(WebhookDispatcher(FAST, seed=1)) as dispatcher:
        dispatcher.publish(webhook, task_event(1))
        await settle(dispatcher)

    assert [(r.outcome, r.status_code) for r in dispatcher.deliveries] == [("failed", None)] * 5
    assert webhook.health() == {"status": "failing", "fail_count": 1}


@pytest.mark.anyio
async def test_a_success_makes_a_failing_webhook_active_again() -> None:
    webhook = subscription("")
    async with (
        Receiver(script=[(500, 0.0)] * 5) as receiver,
        running(WebhookDispatcher(FAST, seed=1)) as dispatcher,
    ):
        webhook.endpoint = receiver.url
        dispatcher.publish(webhook, task_event(1))
        await settle(dispatcher)
        assert webhook.health() == {"status": "failing", "fail_count": 1}

        dispatcher.publish(webhook, task_event(2))
        await settle(dispatcher)

    assert webhook.health() == {"status": "active", "fail_count": 0}
    assert receiver.task_ids == ["t1"] * 5 + ["t2"]


@pytest.mark.anyio
async def test_a_slow_answer_is_a_failed_attempt_and_is_retried() -> None:
    async with (
        Receiver(script=[(200, 0.6)]) as receiver,
        running(WebhookDispatcher(FAST, seed=1)) as dispatcher,
    ):
        webhook = subscription(receiver.url)
        dispatcher.publish(webhook, task_event(1))
        await settle(dispatcher)

    assert [(r.outcome, r.status_code) for r in dispatcher.deliveries] == [
        ("timeout", None),
        ("delivered", 200),
    ]
    assert len(receiver.requests) == 2
    assert webhook.health() == {"status": "active", "fail_count": 0}


@pytest.mark.anyio
async def test_an_event_that_only_times_out_is_given_up() -> None:
    config = replace(FAST, webhook_max_attempts=1)
    async with (
        Receiver(default=(200, 0.6)) as receiver,
        running(WebhookDispatcher(config, seed=1)) as dispatcher,
    ):
        webhook = subscription(receiver.url)
        dispatcher.publish(webhook, task_event(1))
        await settle(dispatcher)

    assert [r.outcome for r in dispatcher.deliveries] == ["timeout"]
    assert webhook.health() == {"status": "failing", "fail_count": 1}


@pytest.mark.anyio
async def test_a_webhook_is_suspended_when_fail_count_reaches_the_threshold() -> None:
    config = replace(FAST, webhook_suspend_after=3)
    webhook = subscription("")
    async with (
        Receiver(default=(503, 0.0)) as receiver,
        running(WebhookDispatcher(config, seed=1)) as dispatcher,
    ):
        webhook.endpoint = receiver.url
        for number in range(1, 5):
            dispatcher.publish(webhook, task_event(number))
        await settle(dispatcher)

    assert webhook.health() == {"status": "suspended", "fail_count": 3}
    assert receiver.task_ids == ["t1"] * 5 + ["t2"] * 5 + ["t3"] * 5  # t4 is never sent
    assert dispatcher.deliveries[-1].outcome == "suspended"
    assert dispatcher.stats()["suspended_skips"] == 1
    assert dispatcher.stats()["events_given_up"] == 3


@pytest.mark.anyio
@pytest.mark.parametrize("status", [401, 410])
async def test_a_401_or_410_answer_suspends_the_webhook_at_once(status: int) -> None:
    webhook = subscription("")
    async with (
        Receiver(script=[(status, 0.0)]) as receiver,
        running(WebhookDispatcher(FAST, seed=1)) as dispatcher,
    ):
        webhook.endpoint = receiver.url
        dispatcher.publish(webhook, task_event(1))
        dispatcher.publish(webhook, task_event(2))
        await settle(dispatcher)
        assert receiver.task_ids == ["t1"]  # no retry, and t2 is not sent
        assert webhook.health() == {"status": "suspended", "fail_count": 0}
        assert dispatcher.stats()["suspended_skips"] == 1

        webhook.status = "active"  # what PUT /webhook/{id} {"status": "active"} does
        dispatcher.publish(webhook, task_event(3))
        await settle(dispatcher)

    assert receiver.task_ids == ["t1", "t3"]


# -- order and concurrency ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_without_chaos_events_arrive_once_each_in_publish_order() -> None:
    async with Receiver() as receiver, running(WebhookDispatcher(FAST, seed=1)) as dispatcher:
        webhook = subscription(receiver.url)
        for number in range(100):
            dispatcher.publish(webhook, task_event(number))
        await settle(dispatcher)

    assert receiver.task_ids == [f"t{number}" for number in range(100)]
    assert chaos_counts(dispatcher) == {"dropped": 0, "duplicated": 0, "reordered": 0, "delayed": 0}
    assert dispatcher.stats()["published"] == dispatcher.stats()["delivered"] == 100


@pytest.mark.anyio
async def test_a_fast_receiver_is_not_slowed_down_between_deliveries() -> None:
    # One lane sends one request at a time; with this receiver in the same process it measures
    # ~180/s here (~300-400/s with an instant answer). The bound is loose for a busy 2-core machine.
    async with (
        Receiver(default=(200, 0.002)) as receiver,
        running(WebhookDispatcher(FAST, seed=1)) as dispatcher,
    ):
        webhook = subscription(receiver.url)
        started = time.monotonic()
        for number in range(200):
            dispatcher.publish(webhook, task_event(number))
        await settle(dispatcher)
        elapsed = time.monotonic() - started

    assert len(receiver.requests) == 200
    assert elapsed < 2.5, f"200 deliveries took {elapsed:.2f} s"


@pytest.mark.anyio
async def test_a_slow_receiver_does_not_hold_up_other_webhooks() -> None:
    async with (
        Receiver(default=(200, 0.25)) as slow,
        Receiver() as fast,
        running(WebhookDispatcher(FAST, seed=1)) as dispatcher,
    ):
        dispatcher.publish(subscription(slow.url, "slow"), task_event(1, "slow"))
        dispatcher.publish(subscription(slow.url, "slow"), task_event(2, "slow"))
        for number in range(3, 8):
            dispatcher.publish(subscription(fast.url, "fast"), task_event(number, "fast"))
        await settle(dispatcher)

    assert fast.task_ids == ["t3", "t4", "t5", "t6", "t7"]
    assert slow.task_ids == ["t1", "t2"]
    assert fast.requests[-1].at < slow.requests[1].at  # the fast webhook did not wait for t1's answer


@pytest.mark.anyio
async def test_publish_is_safe_from_other_threads_and_buffers_until_run() -> None:
    async with Receiver() as receiver:
        dispatcher = WebhookDispatcher(FAST, seed=1)
        webhooks = [subscription(receiver.url, f"wh-{index}") for index in range(4)]
        dispatcher.publish(webhooks[0], task_event(-1, "wh-0"))  # before run(): buffered

        def publish_many(index: int) -> None:
            for number in range(50):
                dispatcher.publish(webhooks[index], task_event(index * 100 + number, f"wh-{index}"))

        async with running(dispatcher):
            publishers = [threading.Thread(target=publish_many, args=(index,)) for index in range(4)]
            for publisher in publishers:
                publisher.start()
            for publisher in publishers:
                await anyio.to_thread.run_sync(publisher.join)
            await settle(dispatcher)

    by_webhook: dict[str, list[str]] = {}
    for request in receiver.requests:
        by_webhook.setdefault(json.loads(request.body)["webhook_id"], []).append(request.task_id)
    assert by_webhook["wh-0"] == ["t-1"] + [f"t{number}" for number in range(50)]
    for index in range(1, 4):
        assert by_webhook[f"wh-{index}"] == [f"t{index * 100 + number}" for number in range(50)]
    assert dispatcher.stats()["published"] == dispatcher.stats()["delivered"] == 201


@pytest.mark.anyio
async def test_wait_idle_refuses_to_block_the_dispatchers_own_loop() -> None:
    async with running(WebhookDispatcher(FAST, seed=1)) as dispatcher:
        await anyio.lowlevel.checkpoint()  # let run() start
        with pytest.raises(RuntimeError, match="another thread"):
            dispatcher.wait_idle(0.1)


# -- chaos ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_chaos_duplicate_sends_the_identical_request_twice() -> None:
    config = replace(FAST, chaos=ChaosConfig(duplicate_rate=1.0))
    async with Receiver() as receiver, running(WebhookDispatcher(config, seed=1)) as dispatcher:
        webhook = subscription(receiver.url)
        for number in range(3):
            dispatcher.publish(webhook, task_event(number))
        await settle(dispatcher)

    assert sorted(receiver.task_ids) == ["t0", "t0", "t1", "t1", "t2", "t2"]
    for number in range(3):
        copies = {(r.body, r.headers["x-signature"]) for r in receiver.requests if r.task_id == f"t{number}"}
        assert len(copies) == 1
    assert sorted(r.outcome for r in dispatcher.deliveries) == ["delivered"] * 3 + ["duplicate"] * 3
    assert chaos_counts(dispatcher) == {"dropped": 0, "duplicated": 3, "reordered": 0, "delayed": 0}


@pytest.mark.anyio
async def test_chaos_reorder_lets_the_next_event_overtake() -> None:
    config = replace(FAST, chaos=ChaosConfig(reorder_rate=1.0, delay_seconds=0.05))
    async with Receiver() as receiver:
        dispatcher = WebhookDispatcher(config, seed=1)
        webhook = subscription(receiver.url)
        for number in range(1, 6):
            dispatcher.publish(webhook, task_event(number))
        async with running(dispatcher):
            await settle(dispatcher)

    # The last one has nothing to overtake it; it goes out once `delay_seconds` have passed.
    assert receiver.task_ids == ["t2", "t1", "t4", "t3", "t5"]
    assert chaos_counts(dispatcher) == {"dropped": 0, "duplicated": 0, "reordered": 2, "delayed": 0}


@pytest.mark.anyio
async def test_chaos_drop_never_sends_the_event() -> None:
    config = replace(FAST, chaos=ChaosConfig(drop_rate=1.0))
    async with Receiver() as receiver, running(WebhookDispatcher(config, seed=1)) as dispatcher:
        webhook = subscription(receiver.url)
        for number in range(3):
            dispatcher.publish(webhook, task_event(number))
        await settle(dispatcher)

    assert receiver.requests == []
    assert [(r.outcome, r.task_id) for r in dispatcher.deliveries] == [("dropped", f"t{n}") for n in range(3)]
    assert webhook.health() == {"status": "active", "fail_count": 0}
    assert chaos_counts(dispatcher) == {"dropped": 3, "duplicated": 0, "reordered": 0, "delayed": 0}


@pytest.mark.anyio
async def test_chaos_delay_sends_the_event_late() -> None:
    config = replace(FAST, chaos=ChaosConfig(delay_rate=1.0, delay_seconds=0.3))
    async with Receiver() as receiver, running(WebhookDispatcher(config, seed=1)) as dispatcher:
        published = time.monotonic()
        dispatcher.publish(subscription(receiver.url), task_event(1))
        assert not await anyio.to_thread.run_sync(dispatcher.wait_idle, 0.05)  # still waiting to go
        await settle(dispatcher)

    [request] = receiver.requests
    assert request.at - published >= 0.3
    assert chaos_counts(dispatcher) == {"dropped": 0, "duplicated": 0, "reordered": 0, "delayed": 1}


@pytest.mark.anyio
async def test_chaos_can_be_switched_off_while_running() -> None:
    config = replace(FAST, chaos=ChaosConfig(drop_rate=1.0))
    async with Receiver() as receiver, running(WebhookDispatcher(config, seed=1)) as dispatcher:
        webhook = subscription(receiver.url)
        dispatcher.publish(webhook, task_event(1))
        await settle(dispatcher)
        dispatcher.set_chaos(ChaosConfig())
        dispatcher.publish(webhook, task_event(2))
        await settle(dispatcher)

    assert receiver.task_ids == ["t2"]
    assert dispatcher.stats()["dropped"] == 1


@pytest.mark.anyio
async def test_chaos_choices_repeat_with_the_same_seed() -> None:
    config = replace(FAST, chaos=ChaosConfig(drop_rate=0.5))

    async def dropped_task_ids(seed: int) -> list[str | None]:
        async with Receiver() as receiver, running(WebhookDispatcher(config, seed=seed)) as dispatcher:
            webhook = subscription(receiver.url)
            for number in range(20):
                dispatcher.publish(webhook, task_event(number))
            await settle(dispatcher)
        return [r.task_id for r in dispatcher.deliveries if r.outcome == "dropped"]

    first, again, other_seed = await dropped_task_ids(7), await dropped_task_ids(7), await dropped_task_ids(8)

    assert 0 < len(first) < 20
    assert first == again
    assert first != other_seed
