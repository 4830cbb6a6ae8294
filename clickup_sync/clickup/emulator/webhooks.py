"""The emulator's webhook delivery engine, faithful to ClickUp's documented behaviour (clickup-api.md §7).

    publish() ──(any thread)──▶ inbox ──run()──▶ admit: suspended? chaos draws (drop, duplicate,
    reorder, delay) ──▶ one lane per subscription (sequential, publish order) ──▶ POST, up to
    `webhook_max_attempts` tries ──▶ health: active / failing / suspended

Lanes of different subscriptions run concurrently, at most `MAX_IN_FLIGHT` requests at once, so one
slow receiver does not stall the others. Every random choice comes from one `random.Random(seed)`,
drawn in publish order, so a run is repeatable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from clickup_sync.clickup.emulator.config import ChaosConfig, EmulatorConfig
from clickup_sync.clickup.signature import serialize_webhook_body, sign_clickup_body

logger = logging.getLogger(__name__)

MAX_IN_FLIGHT = 16  # requests in flight across all subscriptions
DELIVERY_LOG_LIMIT = 10_000  # `deliveries` keeps the newest records, so a long emulator run stays small

STATUS_ACTIVE = "active"
STATUS_FAILING = "failing"
STATUS_SUSPENDED = "suspended"
# §7.7: "410 ⇒ suspended immediately; 401 ⇒ suspended immediately; any other error increments fail_count".
_SUSPENDING_STATUS_CODES = frozenset({401, 410})

_STAT_NAMES = (
    "published",
    "delivered",
    "failed_attempts",
    "events_given_up",
    "dropped",
    "duplicated",
    "reordered",
    "delayed",
    "suspended_skips",
)


@dataclass
class WebhookSubscription:
    """A registered webhook, shaped like ClickUp's webhook object (§7.1). Its health changes in place."""

    id: str
    userid: int
    team_id: int
    endpoint: str
    events: list[str]
    secret: str
    space_id: str | None = None
    folder_id: str | None = None
    list_id: str | None = None
    task_id: str | None = None
    client_id: str = "QVOQP06ZXC6CMGVFKB0ZT7J9Y7APOYGO"
    status: str = STATUS_ACTIVE
    fail_count: int = 0

    def health(self) -> dict[str, Any]:
        return {"status": self.status, "fail_count": self.fail_count}


@dataclass
class DeliveryRecord:
    """One delivery attempt, or one event that was never attempted (dropped, suspended).

    `outcome` is "delivered", "duplicate" (a successful second copy sent by chaos), "failed"
    (non-2xx or connection error), "timeout", "dropped" (chaos) or "suspended" (not sent).
    `at` is the epoch second the attempt started.
    """

    webhook_id: str
    event: str
    history_item_ids: list[str]
    task_id: str | None
    attempt: int
    status_code: int | None
    outcome: str
    at: float
    body: bytes


@dataclass
class _Delivery:
    """One event on its way to one subscription, serialised and signed once at publish time."""

    subscription: WebhookSubscription
    event: str
    history_item_ids: list[str]
    task_id: str | None
    body: bytes
    signature: str
    hold_back: bool = False  # chaos: let the next event of this subscription overtake it
    is_duplicate: bool = False


@dataclass
class _Lane:
    """The deliveries of one subscription, sent one after another."""

    pending: deque[_Delivery] = field(default_factory=deque)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    held: _Delivery | None = None
    held_until: float = 0.0
    worker: asyncio.Task[None] | None = None


class WebhookDispatcher:
    """Sends published events to their subscriptions the way ClickUp does, with optional chaos.

    `publish`, `wait_idle`, `stats` and `set_chaos` are safe from any thread; `run` and `aclose` belong
    to the event loop that runs the emulator server.
    """

    def __init__(self, config: EmulatorConfig, *, seed: int, client: httpx.AsyncClient | None = None) -> None:
        self._config = config
        self._chaos = config.chaos
        self._random = random.Random(seed)
        self._owns_client = client is None
        self._client = (
            client
            if client is not None
            else httpx.AsyncClient(
                timeout=config.webhook_timeout_seconds,
                limits=httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT),
                trust_env=False,  # deliveries go where the subscription says, never through an env proxy
            )
        )
        self.deliveries: list[DeliveryRecord] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._inbox: deque[_Delivery] = deque()
        self._unfinished = 0  # guarded by _lock: events queued, delayed, held back or in flight
        self._counts = dict.fromkeys(_STAT_NAMES, 0)  # guarded by _lock
        self._loop: asyncio.AbstractEventLoop | None = None  # guarded by _lock; set while run() runs
        self._wakeup: asyncio.Event | None = None
        self._stopped: asyncio.Event | None = None
        self._closing = False
        self._lanes: dict[str, _Lane] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    # -- any thread -------------------------------------------------------------------------------

    def publish(self, subscription: WebhookSubscription, payload: dict[str, Any]) -> None:
        """Queue `payload` for `subscription`. Never blocks; buffered until `run()` starts."""
        # §7.5: serialise once and sign exactly the bytes that will be sent, retries and copies included.
        body = serialize_webhook_body(payload)
        delivery = _Delivery(
            subscription=subscription,
            event=str(payload.get("event", "")),
            history_item_ids=_history_item_ids(payload),
            task_id=_optional_str(payload.get("task_id")),
            body=body,
            signature=sign_clickup_body(subscription.secret, body),
        )
        with self._lock:
            must_wake = not self._inbox  # a non-empty inbox already has a wake-up on its way
            self._inbox.append(delivery)
            self._unfinished += 1
            self._counts["published"] += 1
            loop = self._loop
        if must_wake and loop is not None:
            # If the loop closed meanwhile, the event simply stays buffered.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake)

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued, delayed, held back or in flight; False if `timeout` passes first.

        Blocks the calling thread, so it must not be called on the loop that runs the dispatcher.
        """
        with self._lock:
            loop = self._loop
        if loop is not None and _running_loop() is loop:
            raise RuntimeError("wait_idle() blocks; call it from another thread than the dispatcher's loop")
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def set_chaos(self, chaos: ChaosConfig) -> None:
        """Use `chaos` for every event admitted from now on."""
        self._chaos = chaos

    # -- event loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver until `aclose()` (or cancellation). Events still pending then are abandoned."""
        with self._lock:
            if self._loop is not None:
                raise RuntimeError("WebhookDispatcher.run() is already running")
            self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._wakeup.set()  # admit whatever was published before run() started
        self._stopped = asyncio.Event()
        try:
            while not self._closing:
                await self._wakeup.wait()
                self._wakeup.clear()
                for delivery in self._take_inbox():
                    self._admit(delivery)
        finally:
            with self._lock:
                self._loop = None
            await self._stop_lanes()
            self._stopped.set()

    async def aclose(self) -> None:
        """Stop `run()`, wait until it has stopped, and close the HTTP client if we created it."""
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self._stopped is not None:
            await self._stopped.wait()
        if self._owns_client:
            await self._client.aclose()

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def _take_inbox(self) -> list[_Delivery]:
        with self._lock:
            taken = list(self._inbox)
            self._inbox.clear()
        return taken

    def _admit(self, delivery: _Delivery) -> None:
        """Apply suspension and chaos to a freshly published event, then queue it on its lane."""
        if delivery.subscription.status == STATUS_SUSPENDED:
            self._skip_suspended(delivery, attempt=1)
            return
        chaos = self._chaos
        # Always draw all four, so one knob's rate does not shift the others' choices.
        drop, duplicate, hold_back, delay = (
            self._random.random() < rate
            for rate in (chaos.drop_rate, chaos.duplicate_rate, chaos.reorder_rate, chaos.delay_rate)
        )
        if drop:
            self._record(delivery, attempt=0, status_code=None, outcome="dropped")
            self._count("dropped")
            self._finish_one()
            return
        delivery.hold_back = hold_back
        copies = [delivery]
        if duplicate:
            copies.append(replace(delivery, hold_back=False, is_duplicate=True))
            with self._lock:
                self._unfinished += 1
                self._counts["duplicated"] += 1
        if delay:
            self._count("delayed")
            for copy in copies:
                self._enqueue_later(chaos.delay_seconds, copy)
        else:
            for copy in copies:
                self._enqueue(copy)

    def _enqueue_later(self, delay: float, delivery: _Delivery) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            self._enqueue(delivery)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def _enqueue(self, delivery: _Delivery) -> None:
        lane = self._lanes.setdefault(delivery.subscription.id, _Lane())
        lane.pending.append(delivery)
        lane.arrived.set()
        if lane.worker is None:
            lane.worker = asyncio.get_running_loop().create_task(self._drain_lane(lane))

    async def _drain_lane(self, lane: _Lane) -> None:
        """Send a lane's deliveries in order; a held-back one goes right after the next one is done."""
        loop = asyncio.get_running_loop()
        while True:
            if not lane.pending:
                if lane.held is None:
                    lane.worker = None  # no await since the check: _enqueue sees a consistent lane
                    return
                # Nothing has overtaken the held event yet: wait for one, but not forever
                # (`delay_seconds` bounds the hold so a quiet subscription still gets it).
                remaining = lane.held_until - loop.time()
                if remaining > 0:
                    lane.arrived.clear()
                    try:
                        async with asyncio.timeout(remaining):
                            await lane.arrived.wait()
                    except TimeoutError:
                        pass
                    continue
                held, lane.held = lane.held, None
                await self._deliver_safely(held)
                continue
            delivery = lane.pending.popleft()
            if delivery.hold_back and lane.held is None:
                lane.held = delivery
                lane.held_until = loop.time() + self._chaos.delay_seconds
                continue
            await self._deliver_safely(delivery)
            if lane.held is not None:
                lane.held.hold_back = False  # overtaken once is enough
                lane.pending.appendleft(lane.held)
                lane.held = None
                self._count("reordered")

    async def _deliver_safely(self, delivery: _Delivery) -> None:
        try:
            await self._deliver(delivery)
        except Exception:  # a bug here must not silence the whole lane
            logger.exception("webhook %s: delivery crashed", delivery.subscription.id)

    async def _deliver(self, delivery: _Delivery) -> None:
        """Up to `webhook_max_attempts` tries, then update the subscription's health (§7.7)."""
        subscription = delivery.subscription
        max_attempts = max(1, self._config.webhook_max_attempts)
        try:
            for attempt in range(1, max_attempts + 1):
                if subscription.status == STATUS_SUSPENDED:
                    self._skip_suspended(delivery, attempt, finish=False)
                    return
                status_code = await self._attempt(delivery, attempt)
                if status_code is not None and 200 <= status_code < 300:
                    # §7.7: a success brings the webhook back to active and resets fail_count.
                    subscription.status = STATUS_ACTIVE
                    subscription.fail_count = 0
                    self._count("delivered")
                    return
                self._count("failed_attempts")
                if status_code in _SUSPENDING_STATUS_CODES:
                    subscription.status = STATUS_SUSPENDED
                    self._count("events_given_up")
                    logger.warning("webhook %s suspended: answered %s", subscription.id, status_code)
                    return
                if attempt < max_attempts:
                    await asyncio.sleep(self._retry_delay(attempt))
            # §7.7: after five failed attempts the event is dropped for good and fail_count grows.
            subscription.fail_count += 1
            if subscription.fail_count >= self._config.webhook_suspend_after:
                subscription.status = STATUS_SUSPENDED
                logger.warning(
                    "webhook %s suspended: %s events failed", subscription.id, subscription.fail_count
                )
            else:
                subscription.status = STATUS_FAILING
            self._count("events_given_up")
        finally:
            self._finish_one()

    async def _attempt(self, delivery: _Delivery, attempt: int) -> int | None:
        """POST once; record the attempt; return the status code (None: no answer)."""
        started = time.time()
        status_code: int | None = None
        try:
            async with self._in_flight:
                # §7.7: an answer slower than 7 s counts as a failure, however far the request got.
                async with asyncio.timeout(self._config.webhook_timeout_seconds):
                    response = await self._client.post(
                        _endpoint_url(delivery.subscription.endpoint),
                        content=delivery.body,
                        headers={"Content-Type": "application/json", "X-Signature": delivery.signature},
                    )
        except (TimeoutError, httpx.TimeoutException):
            outcome = "timeout"
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as error:
            logger.debug("webhook %s: attempt %s failed: %r", delivery.subscription.id, attempt, error)
            outcome = "failed"
        else:
            status_code = response.status_code
            if not 200 <= status_code < 300:
                outcome = "failed"
            else:
                outcome = "duplicate" if delivery.is_duplicate else "delivered"
        self._record(delivery, attempt=attempt, status_code=status_code, outcome=outcome, at=started)
        return status_code

    def _retry_delay(self, failed_attempt: int) -> float:
        delays = self._config.webhook_retry_delays
        if not delays:
            return 0.0
        return delays[min(failed_attempt, len(delays)) - 1]

    def _skip_suspended(self, delivery: _Delivery, attempt: int, *, finish: bool = True) -> None:
        # §7.7: a suspended webhook gets no more events until it is reactivated with PUT.
        self._record(delivery, attempt=attempt, status_code=None, outcome="suspended")
        self._count("suspended_skips")
        if finish:
            self._finish_one()

    def _record(
        self,
        delivery: _Delivery,
        *,
        attempt: int,
        status_code: int | None,
        outcome: str,
        at: float | None = None,
    ) -> None:
        self.deliveries.append(
            DeliveryRecord(
                webhook_id=delivery.subscription.id,
                event=delivery.event,
                history_item_ids=delivery.history_item_ids,
                task_id=delivery.task_id,
                attempt=attempt,
                status_code=status_code,
                outcome=outcome,
                at=time.time() if at is None else at,
                body=delivery.body,
            )
        )
        if len(self.deliveries) > DELIVERY_LOG_LIMIT + DELIVERY_LOG_LIMIT // 10:
            del self.deliveries[: len(self.deliveries) - DELIVERY_LOG_LIMIT]

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _finish_one(self) -> None:
        with self._idle:
            self._unfinished -= 1
            if self._unfinished == 0:
                self._idle.notify_all()

    async def _stop_lanes(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        workers = [lane.worker for lane in self._lanes.values() if lane.worker is not None]
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._lanes.clear()


def _endpoint_url(endpoint: str) -> str:
    # §7.2: an endpoint without a scheme is called over https.
    return endpoint if "://" in endpoint else f"https://{endpoint}"


def _history_item_ids(payload: dict[str, Any]) -> list[str]:
    items = payload.get("history_items")
    if not isinstance(items, list):
        return []
    return [str(item["id"]) for item in items if isinstance(item, dict) and "id" in item]


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
