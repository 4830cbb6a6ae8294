"""Park webhook changes until Airbyte's table holds the task's base record (issue #4 §4).

With Airbyte on (`AIRBYTE_MODE=on`, or `auto` and `AIRBYTE_TASK_TABLE` exists), a delivery about a
task Airbyte's table does not hold yet is not applied: `gate_for(runtime).check(conn, …)` records it
in `parked_changes` and sets its status to `parked`, in the caller's transaction. The periodic
`release_parked` puts parked deliveries back in the queue (status `received`, `process_delivery`
deferred in the same transaction) once their task is in Airbyte's table (`base_record`), after
`BASE_RECORD_MAX_WAIT` (`max_wait`, flagged `base_record_wait_exceeded`), at once when Airbyte is
off (`airbyte_off`), or when the mirror shows Airbyte will never copy the task (`not_in_airbyte`: a
subtask, an archived task, a task of a folderless or archived list, a closed task unless
AIRBYTE_INCLUDE_CLOSED_TASKS — the connector reads none of them, see `coverage.py`); the gate lets
such tasks' changes through without parking them at all. A released delivery always proceeds when
processed again.

Airbyte's table is read only through the guarded reader (`base_records`): short, lock-timed
transactions on a connection of their own, never the caller's. While it cannot be read (a sync is
swapping it, it is missing) the gate parks and the release waits for its next run: nothing fails,
nothing waits for Airbyte. Locks are taken in one order everywhere: the delivery's row
(`process_delivery` holds it when it calls the gate), then its `parked_changes` row.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from psycopg import AsyncConnection, sql

from clickup_sync.airbyte.base_records import AirbyteTableReader
from clickup_sync.airbyte.coverage import CLOSED_STATUS_TYPES
from clickup_sync.airbyte.guarded_reads import AirbyteTableUnavailable, ReadPolicy
from clickup_sync.airbyte.tables import AirbyteTables

if TYPE_CHECKING:
    from clickup_sync.runtime import ServiceRuntime

log = logging.getLogger(__name__)

Decision = Literal["proceed", "parked"]
ReleaseReason = Literal["base_record", "max_wait", "airbyte_off", "replay", "not_in_airbyte"]

WAIT_EXCEEDED_FLAG = "base_record_wait_exceeded"
ENABLED_CACHE_SECONDS = 60.0  # AIRBYTE_MODE=auto: how long "does the table exist" is believed
PRESENT_CACHE_SIZE = 200_000  # task ids whose base record this process has seen
RELEASE_BATCH = 500  # deliveries released (and re-queued) per transaction
# The gate runs inside process_delivery's transaction: one short try, then park and move on.
GATE_READ_POLICY = ReadPolicy(lock_timeout_seconds=0.5, statement_timeout_seconds=5.0, attempts=1)
# The release runs in the background: it may try a little longer.
RELEASE_READ_POLICY = ReadPolicy(lock_timeout_seconds=1.0, statement_timeout_seconds=30.0, attempts=3)

# ------------------------------------------------------------------------------------------ SQL
OWN_PARK_ROW = "SELECT released_at IS NOT NULL FROM {s}.parked_changes WHERE delivery_id = %s"
# Uses the partial index parked_changes_waiting_idx (task_id) WHERE released_at IS NULL.
OTHERS_WAITING = """
SELECT 1 FROM {s}.parked_changes WHERE task_id = %s AND released_at IS NULL AND delivery_id <> %s LIMIT 1
"""
# Through the deliveries' task index (parked_changes has no index on released rows).
SEEN_BASE_RECORD = """
SELECT 1 FROM {s}.webhook_deliveries d JOIN {s}.parked_changes p ON p.delivery_id = d.id
WHERE d.task_id = %s AND p.task_id = %s AND p.release_reason = 'base_record' LIMIT 1
"""
# The lasting gaps of coverage.py's CLASSIFY: Airbyte's connector never reads these tasks (closed
# ones only when its connection leaves them out, the connector's default).
NEVER_IN_AIRBYTE = """
SELECT t.task_id FROM {s}.tasks t LEFT JOIN {s}.lists l ON l.list_id = t.list_id
WHERE t.task_id = ANY(%(ids)s)
  AND (t.parent_task_id IS NOT NULL OR t.archived OR coalesce(l.archived, false)
       OR (l.list_id IS NOT NULL AND l.folder_id IS NULL)
       OR (NOT %(include_closed)s AND t.status_type = ANY(%(closed)s)))
"""
PARK = """
INSERT INTO {s}.parked_changes (delivery_id, task_id) VALUES (%s, %s)
ON CONFLICT (delivery_id) DO NOTHING
"""
SET_PARKED = "UPDATE {s}.webhook_deliveries SET status = 'parked' WHERE id = %s"
RELEASE_OWN = (
    "UPDATE {s}.parked_changes SET released_at = now(), release_reason = %s"
    " WHERE delivery_id = %s AND released_at IS NULL"
)
WAITING = """
SELECT delivery_id, task_id, parked_at FROM {s}.parked_changes
WHERE released_at IS NULL ORDER BY parked_at, delivery_id
"""
TASKS_SEEN_BEFORE = """
SELECT DISTINCT task_id FROM {s}.parked_changes WHERE task_id = ANY(%s) AND release_reason = 'base_record'
"""
# Deliveries being processed right now are skipped: the next run releases them.
LOCK_DELIVERIES = (
    "SELECT id FROM {s}.webhook_deliveries WHERE id = ANY(%s) ORDER BY id FOR UPDATE SKIP LOCKED"
)
RELEASE = """
UPDATE {s}.parked_changes SET released_at = now(), release_reason = %s
WHERE delivery_id = ANY(%s) AND released_at IS NULL RETURNING delivery_id
"""
REQUEUE = """
UPDATE {s}.webhook_deliveries SET status = 'received',
    flags = CASE WHEN %(flag)s::text IS NULL OR %(flag)s::text = ANY(flags) THEN flags
                 ELSE array_append(flags, %(flag)s::text) END
WHERE id = ANY(%(ids)s) AND status = 'parked' RETURNING id, task_id
"""
SUMMARY = """
SELECT count(*) FILTER (WHERE released_at IS NULL),
       count(DISTINCT task_id) FILTER (WHERE released_at IS NULL),
       min(parked_at) FILTER (WHERE released_at IS NULL),
       count(*) FILTER (WHERE release_reason = 'base_record'),
       count(*) FILTER (WHERE release_reason = 'max_wait'),
       count(*) FILTER (WHERE release_reason = 'airbyte_off'),
       count(*) FILTER (WHERE release_reason = 'replay'),
       count(*) FILTER (WHERE release_reason = 'not_in_airbyte')
FROM {s}.parked_changes
"""


# ------------------------------------------------------------------------------ per-runtime state
class _AirbyteMode:
    """AIRBYTE_MODE, `auto` resolved by looking for the table (believed for a minute)."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.mode = runtime.settings.airbyte_mode
        self.table = runtime.settings.airbyte_task_table
        self._reader = _reader(runtime, GATE_READ_POLICY)
        self._enabled: bool | None = None
        self._checked_at = 0.0

    async def enabled(self, monotonic: Callable[[], float]) -> bool:
        if self.mode != "auto":
            return self.mode == "on"
        now = monotonic()
        if self._enabled is not None and now - self._checked_at < ENABLED_CACHE_SECONDS:
            return self._enabled
        try:
            exists = await self._reader.exists()
        except AirbyteTableUnavailable:
            if self._enabled is None:
                raise
            return self._enabled  # keep the last answer; ask again next time
        if exists != self._enabled:
            state = "exists: parking is on" if exists else "does not exist: parking is off"
            log.info("AIRBYTE_MODE=auto: Airbyte's table %s %s", self.table, state)
        self._enabled, self._checked_at = exists, now
        return exists


@dataclass
class _RuntimeState:
    mode: _AirbyteMode
    gate: BaseRecordGate | None = None


_STATES: dict[int, _RuntimeState] = {}


def _state_of(runtime: ServiceRuntime) -> _RuntimeState:
    """Held by id and dropped with the runtime (before its id can be reused); holds no reference to it."""
    key = id(runtime)
    state = _STATES.get(key)
    if state is None:
        state = _STATES[key] = _RuntimeState(_AirbyteMode(runtime))
        weakref.finalize(runtime, _STATES.pop, key, None)
    return state


def _reader(runtime: ServiceRuntime, policy: ReadPolicy) -> AirbyteTableReader:
    table = AirbyteTables.from_qualified_name(runtime.settings.airbyte_task_table).final
    return AirbyteTableReader(runtime.pool, table, policy=policy)  # pooled: nothing of its own to close


async def airbyte_enabled(
    runtime: ServiceRuntime, *, monotonic: Callable[[], float] = time.monotonic
) -> bool:
    """`AIRBYTE_MODE` on → True, off → False, auto → whether `AIRBYTE_TASK_TABLE` exists (a catalog
    lookup that takes no lock, believed for a minute). Raises `AirbyteTableUnavailable` only when the
    lookup fails and nothing was known before."""
    return await _state_of(runtime).mode.enabled(monotonic)


def never_in_airbyte_params(include_closed: bool, task_ids: list[str]) -> dict[str, Any]:
    return {"ids": task_ids, "include_closed": include_closed, "closed": CLOSED_STATUS_TYPES}


def gate_for(runtime: ServiceRuntime) -> BaseRecordGate:
    """The process's gate for this runtime (its cache of seen base records is shared by every job)."""
    state = _state_of(runtime)
    if state.gate is None:
        state.gate = BaseRecordGate(runtime)
    return state.gate


# ------------------------------------------------------------------------------------ the gate
class BaseRecordGate:
    """Decides, inside `process_delivery`'s transaction, whether a delivery is applied or parked."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        *,
        policy: ReadPolicy = GATE_READ_POLICY,
        cache_size: int = PRESENT_CACHE_SIZE,
    ) -> None:
        self._mode = _state_of(runtime).mode  # no reference to the runtime: it may be dropped
        self._include_closed = runtime.settings.airbyte_include_closed_tasks
        self._reader = _reader(runtime, policy)
        self._schema = sql.Identifier(runtime.schema)
        self._present: OrderedDict[str, None] = OrderedDict()
        self._cache_size = cache_size

    def __repr__(self) -> str:
        return f"BaseRecordGate(table={str(self._reader.table)!r}, cached={len(self._present)})"

    def _never_params(self, task_ids: list[str]) -> dict[str, Any]:
        return never_in_airbyte_params(self._include_closed, task_ids)

    def remember(self, task_ids: Iterable[str]) -> None:
        """Tasks whose base record was seen: their changes are never parked again by this process."""
        for task_id in task_ids:
            self._present[task_id] = None
            self._present.move_to_end(task_id)
        while len(self._present) > self._cache_size:
            self._present.popitem(last=False)

    async def check(
        self, conn: AsyncConnection[Any], delivery_id: int, task_id: str | None, *, event: str | None = None
    ) -> Decision:
        """Returns "proceed", or "parked" after recording it (a `parked_changes` row, status `parked`)
        on `conn`: the caller's transaction, which holds the delivery's row lock. Never raises for
        Airbyte's sake: an unreadable table (a sync swapping it) parks, and the release retries.

        Proceeds when the delivery was released before (for any reason: it never parks twice), Airbyte
        is off, there is no task, the event is `taskDeleted` (no base record will come), or the task's
        base record was seen (by this process, by an earlier `base_record` release, or in Airbyte's
        table now). Parks behind other waiting deliveries of the same task, so their order holds."""
        if task_id is None or event == "taskDeleted":
            return "proceed"
        s = self._schema
        own = await (await conn.execute(sql.SQL(OWN_PARK_ROW).format(s=s), (delivery_id,))).fetchone()
        if own is not None and own[0]:
            return "proceed"
        try:
            enabled = await self._mode.enabled(time.monotonic)
        except AirbyteTableUnavailable:
            enabled = True  # unknown: park; the release decides again, and releases all when off
        if not enabled:  # a row of its own waits for the release (`airbyte_off`), which finds it processed
            return "proceed"
        waiting = sql.SQL(OTHERS_WAITING).format(s=s)
        if await (await conn.execute(waiting, (task_id, delivery_id))).fetchone() is not None:
            return await self._park(conn, delivery_id, task_id)
        if task_id in self._present:
            self._present.move_to_end(task_id)
            return await self._proceed(conn, delivery_id, parked=own is not None)
        never = sql.SQL(NEVER_IN_AIRBYTE).format(s=s)
        if await (await conn.execute(never, self._never_params([task_id]))).fetchone() is not None:
            return await self._proceed(conn, delivery_id, parked=own is not None, reason="not_in_airbyte")
        seen = sql.SQL(SEEN_BASE_RECORD).format(s=s)
        if await (await conn.execute(seen, (task_id, task_id))).fetchone() is not None:
            self.remember([task_id])
            return await self._proceed(conn, delivery_id, parked=own is not None)
        try:
            present = task_id in await self._reader.task_ids_present([task_id])
        except AirbyteTableUnavailable as exc:
            log.info("delivery %s parked: %s", delivery_id, exc, extra={"delivery_id": delivery_id})
            return await self._park(conn, delivery_id, task_id)
        if present:
            self.remember([task_id])
            return await self._proceed(conn, delivery_id, parked=own is not None)
        return await self._park(conn, delivery_id, task_id)

    async def _park(self, conn: AsyncConnection[Any], delivery_id: int, task_id: str) -> Decision:
        await conn.execute(sql.SQL(PARK).format(s=self._schema), (delivery_id, task_id))
        await conn.execute(sql.SQL(SET_PARKED).format(s=self._schema), (delivery_id,))
        log.debug("delivery %s parked until Airbyte holds task %s", delivery_id, task_id,
                  extra={"delivery_id": delivery_id, "task_id": task_id})  # fmt: skip
        return "parked"

    async def _proceed(
        self,
        conn: AsyncConnection[Any],
        delivery_id: int,
        *,
        parked: bool,
        reason: ReleaseReason = "base_record",
    ) -> Decision:
        if parked:  # parked before and processed again (a replay, a retry): it waits no more
            await conn.execute(sql.SQL(RELEASE_OWN).format(s=self._schema), (reason, delivery_id))
        return "proceed"


# --------------------------------------------------------------------------------- the release
@dataclass(frozen=True)
class ReleaseReport:
    """One release run. `airbyte_unavailable`: the table could not be read, base-record releases
    wait for the next run (max-wait ones happened anyway)."""

    waiting_before: int = 0
    released_base_record: int = 0
    released_max_wait: int = 0
    released_airbyte_off: int = 0
    released_not_in_airbyte: int = 0
    requeued: int = 0  # released deliveries put back in the queue (those still `parked`)
    still_waiting: int = 0
    airbyte_unavailable: bool = False

    @property
    def released(self) -> int:
        return (
            self.released_base_record
            + self.released_max_wait
            + self.released_airbyte_off
            + self.released_not_in_airbyte
        )


async def release_parked(
    runtime: ServiceRuntime,
    *,
    now: datetime | None = None,
    policy: ReadPolicy = RELEASE_READ_POLICY,
    batch_size: int = RELEASE_BATCH,
) -> ReleaseReport:
    """Release what may proceed now and queue its processing again; see the module's docstring.

    Idempotent and safe to run from several processes at once (each row is released once)."""
    now = now or datetime.now(UTC)
    cutoff = now - runtime.settings.base_record_max_wait
    s = sql.Identifier(runtime.schema)
    async with runtime.pool.connection() as conn:
        waiting = await (await conn.execute(sql.SQL(WAITING).format(s=s))).fetchall()
    if not waiting:
        return ReleaseReport()
    try:
        enabled = await airbyte_enabled(runtime)
    except AirbyteTableUnavailable:
        enabled = True
    unavailable = False
    present: set[str] = set()
    never: set[str] = set()
    if enabled:
        task_ids = sorted({str(row[1]) for row in waiting})
        async with runtime.pool.connection() as conn:
            query = sql.SQL(TASKS_SEEN_BEFORE).format(s=s)
            present = {str(row[0]) for row in await (await conn.execute(query, (task_ids,))).fetchall()}
            query = sql.SQL(NEVER_IN_AIRBYTE).format(s=s)
            params = never_in_airbyte_params(runtime.settings.airbyte_include_closed_tasks, task_ids)
            never = {str(row[0]) for row in await (await conn.execute(query, params)).fetchall()}
        try:
            found = await _reader(runtime, policy).task_ids_present(sorted(set(task_ids) - present))
        except AirbyteTableUnavailable as exc:
            log.info("parked changes: %s; base-record releases wait for the next run", exc)
            unavailable, found = True, set()
        present |= found
        gate_for(runtime).remember(found)
    by_reason: dict[ReleaseReason, list[int]] = {
        "base_record": [], "max_wait": [], "airbyte_off": [], "not_in_airbyte": []
    }  # fmt: skip
    for delivery_id, task_id, parked_at in waiting:
        if not enabled:
            by_reason["airbyte_off"].append(int(delivery_id))
        elif task_id in never:
            by_reason["not_in_airbyte"].append(int(delivery_id))
        elif task_id in present:
            by_reason["base_record"].append(int(delivery_id))
        elif parked_at <= cutoff:
            by_reason["max_wait"].append(int(delivery_id))
    released: dict[ReleaseReason, int] = {}
    requeued = 0
    for reason, delivery_ids in by_reason.items():
        flag = WAIT_EXCEEDED_FLAG if reason == "max_wait" else None
        for start in range(0, len(delivery_ids), batch_size):
            count, queued = await _release_batch(
                runtime, s, delivery_ids[start : start + batch_size], reason, flag
            )
            released[reason] = released.get(reason, 0) + count
            requeued += queued
    base, waited, off, never_count = (
        released.get(reason, 0) for reason in ("base_record", "max_wait", "airbyte_off", "not_in_airbyte")
    )
    still = len(waiting) - base - waited - off - never_count
    report = ReleaseReport(len(waiting), base, waited, off, never_count, requeued, still, unavailable)
    if report.released or unavailable:
        log.info(
            "parked changes: %d released (%d base record, %d max wait, %d Airbyte off, %d never in"
            " Airbyte), %d re-queued, %d still waiting", report.released, report.released_base_record,
            report.released_max_wait, report.released_airbyte_off, report.released_not_in_airbyte,
            report.requeued, report.still_waiting,
        )  # fmt: skip
    if report.released_max_wait:
        log.warning(
            "%d parked changes waited longer than BASE_RECORD_MAX_WAIT; processed without Airbyte's base"
            " record (flagged %s)",
            report.released_max_wait,
            WAIT_EXCEEDED_FLAG,
        )
    return report


async def _release_batch(
    runtime: ServiceRuntime,
    s: sql.Identifier,
    delivery_ids: Sequence[int],
    reason: ReleaseReason,
    flag: str | None,
) -> tuple[int, int]:
    """Release one batch and re-queue its parked deliveries, in one transaction: (released, re-queued)."""
    from clickup_sync.queue.deliveries import defer_processing  # the queue imports this module

    async with runtime.pool.connection() as conn, conn.transaction():
        locked = [
            int(row[0])
            for row in await (
                await conn.execute(sql.SQL(LOCK_DELIVERIES).format(s=s), (list(delivery_ids),))
            ).fetchall()
        ]
        if not locked:
            return 0, 0
        released = await (await conn.execute(sql.SQL(RELEASE).format(s=s), (reason, locked))).fetchall()
        ids = [int(row[0]) for row in released]
        requeue = await conn.execute(sql.SQL(REQUEUE).format(s=s), {"flag": flag, "ids": ids})
        queued = sorted((int(row[0]), row[1]) for row in await requeue.fetchall())
        for delivery_id, task_id in queued:  # in the order they were received
            await defer_processing(runtime.queue, conn, delivery_id, task_id)
    return len(ids), len(queued)


async def release_for_replay(conn: AsyncConnection[Any], schema: str, delivery_ids: Sequence[int]) -> int:
    """Mark these deliveries' parked changes released (`replay`) on `conn`, so processing them again
    applies them whether or not Airbyte holds their task. Returns how many were waiting."""
    cursor = await conn.execute(
        sql.SQL(RELEASE).format(s=sql.Identifier(schema)), ("replay", list(delivery_ids))
    )
    return len(await cursor.fetchall())


# ---------------------------------------------------------------------------------- the summary
class ParkedSummary(TypedDict):
    waiting: int  # parked deliveries not released yet
    waiting_tasks: int
    oldest_parked_at: datetime | None  # of those still waiting
    released: dict[str, int]  # by release reason, since the deliveries were kept


async def parked_summary(conn: AsyncConnection[Any], schema: str) -> ParkedSummary:
    """What the admin page and /metrics show about parked changes (one aggregate query)."""
    row = await (await conn.execute(sql.SQL(SUMMARY).format(s=sql.Identifier(schema)))).fetchone()
    assert row is not None  # an aggregate always answers one row
    oldest = row[2].astimezone(UTC) if row[2] is not None else None
    return ParkedSummary(
        waiting=int(row[0]),
        waiting_tasks=int(row[1]),
        oldest_parked_at=oldest,
        released={
            "base_record": int(row[3]),
            "max_wait": int(row[4]),
            "airbyte_off": int(row[5]),
            "replay": int(row[6]),
            "not_in_airbyte": int(row[7]),
        },
    )
