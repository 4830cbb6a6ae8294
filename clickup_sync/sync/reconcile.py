"""`clickup-sync reconcile`: find by polling whatever webhooks did not deliver.

Incremental pass: Get Filtered Team Tasks with `date_updated_gt` = stored cursor minus an overlap
window (ClickUp's comparison may be inclusive or not, and clocks drift — reference/clickup-api.md §4.2),
both archived partitions, every page; plus Get Tasks of each archived list, which the team endpoint
omits (§9.1). Each task is diffed against the mirror and the differences are recorded with
`source = 'poll'`; a task that did not change writes nothing, so the overlap is free.

Deletion sweep: deletions never show up in polling (§4.3). A sweep lists every task id the same
partitions return and re-fetches each mirrored task that is missing from them: only a 404 `ITEM_013`
marks it deleted. A 401/403 raises and marks nothing (it is a configuration error, not a deletion).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from clickup_sync.clickup.timestamps import datetime_to_ms
from clickup_sync.errors import TaskGone
from clickup_sync.sync.store import ApplyResult, MirrorStore
from clickup_sync.sync.task_state import snapshot_from_task_json

DEFAULT_OVERLAP = timedelta(minutes=10)


class ReconcileClient(Protocol):
    def iter_team_task_pages(
        self,
        team_id: str,
        *,
        archived: bool,
        start_page: int = 0,
        date_updated_gt: int | None = None,
        space_ids: list[str] | None = None,
    ) -> AsyncIterator[tuple[int, list[dict[str, Any]]]]: ...
    def iter_list_task_pages(
        self, list_id: str, *, archived: bool, date_updated_gt: int | None = None
    ) -> AsyncIterator[tuple[int, list[dict[str, Any]]]]: ...
    async def get_task(self, task_id: str) -> dict[str, Any]: ...
    @property
    def total_calls(self) -> int: ...


@dataclass
class ReconcileSummary:
    tasks_seen: int = 0
    tasks_changed: int = 0
    changes: int = 0
    deleted: int = 0
    swept: int = 0
    api_calls: int = 0
    elapsed_seconds: float = 0.0
    cursor: datetime | None = None


class Reconciler:
    def __init__(
        self,
        client: ReconcileClient,
        conn: AsyncConnection[Any],
        store: MirrorStore,
        *,
        team_id: str,
        overlap: timedelta = DEFAULT_OVERLAP,
    ) -> None:
        self.client = client
        self.conn = conn
        self.store = store
        self.team_id = team_id
        self.overlap = overlap
        self.cursor_key = f"reconcile:{team_id}"
        self._s = sql.Identifier(store.schema)

    async def run(self, *, sweep: bool = True) -> ReconcileSummary:
        started = time.monotonic()
        calls_before = self.client.total_calls
        summary = ReconcileSummary()
        pass_started = datetime.now(UTC)
        cursor = await self.load_cursor()
        since = cursor - self.overlap if cursor is not None else None
        newest = cursor
        archived_lists = await self._archived_list_ids()
        updated_after = datetime_to_ms(since) if since is not None else None
        for pages in self._partitions(archived_lists, updated_after):
            async for _, tasks in pages:
                snapshots = [snapshot_from_task_json(task) for task in tasks if task.get("id")]
                async with self.conn.transaction():
                    result = await self.store.apply_snapshots(
                        self.conn, snapshots, source="poll", observed_at=datetime.now(UTC)
                    )
                self._count(summary, result)
                for snapshot in snapshots:
                    updated = snapshot.row.date_updated
                    if updated is not None and (newest is None or updated > newest):
                        newest = updated
        if sweep:
            await self._sweep(summary)
        # Never move the cursor past the moment this pass started: a change made while we paged
        # may carry an earlier date_updated than the newest one we saw.
        summary.cursor = min(newest, pass_started) if newest is not None else pass_started
        await self.save_cursor(summary.cursor)
        summary.api_calls = self.client.total_calls - calls_before
        summary.elapsed_seconds = time.monotonic() - started
        return summary

    def _partitions(
        self, archived_lists: list[str], updated_after: int | None
    ) -> Iterator[AsyncIterator[tuple[int, list[dict[str, Any]]]]]:
        """Every task partition: the team endpoint's two, and each archived list's two."""
        for archived in (False, True):
            yield self.client.iter_team_task_pages(
                self.team_id, archived=archived, date_updated_gt=updated_after
            )
        for list_id in archived_lists:
            for archived in (False, True):
                yield self.client.iter_list_task_pages(
                    list_id, archived=archived, date_updated_gt=updated_after
                )

    async def _archived_list_ids(self) -> list[str]:
        rows = await (
            await self.conn.execute(
                sql.SQL("SELECT list_id FROM {}.lists WHERE archived ORDER BY list_id").format(self._s)
            )
        ).fetchall()
        await self.conn.commit()
        return [row[0] for row in rows]

    async def _sweep(self, summary: ReconcileSummary) -> None:
        listed: set[str] = set()
        for pages in self._partitions(await self._archived_list_ids(), None):
            async for _, tasks in pages:
                listed.update(str(task["id"]) for task in tasks if task.get("id"))
        rows = await (
            await self.conn.execute(
                sql.SQL("SELECT task_id FROM {}.tasks WHERE deleted_at IS NULL").format(self._s)
            )
        ).fetchall()
        await self.conn.commit()
        missing = sorted({row[0] for row in rows} - listed)
        summary.swept = len(missing)
        for task_id in missing:
            try:
                task = await self.client.get_task(task_id)
            except TaskGone:
                async with self.conn.transaction():
                    if await self.store.mark_deleted(
                        self.conn, task_id, deleted_at=datetime.now(UTC), source="poll"
                    ):
                        summary.deleted += 1
                        summary.changes += 1
                continue
            # Still there (e.g. it lives in an archived list, which the team endpoint omits).
            async with self.conn.transaction():
                result = await self.store.apply_snapshots(
                    self.conn, [snapshot_from_task_json(task)], source="poll", observed_at=datetime.now(UTC)
                )
            self._count(summary, result)

    @staticmethod
    def _count(summary: ReconcileSummary, result: ApplyResult) -> None:
        summary.tasks_seen += (
            result.tasks_new + result.tasks_updated + result.tasks_unchanged + result.tasks_stale
        )
        summary.tasks_changed += result.tasks_updated + result.tasks_new
        summary.changes += len(result.changes)

    async def load_cursor(self) -> datetime | None:
        row = await (
            await self.conn.execute(
                sql.SQL("SELECT value->>'cursor' FROM {}.service_state WHERE key = %s").format(self._s),
                (self.cursor_key,),
            )
        ).fetchone()
        await self.conn.commit()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    async def save_cursor(self, cursor: datetime) -> None:
        async with self.conn.transaction():
            await self.conn.execute(
                sql.SQL(
                    "INSERT INTO {}.service_state (key, value) VALUES (%s, %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()"
                ).format(self._s),
                (self.cursor_key, Jsonb({"cursor": cursor.isoformat()})),
            )
