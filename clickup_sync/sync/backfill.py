"""`clickup-sync backfill`: every task of the workspace into the mirror, resumable page by page.

Covers what Airbyte's connector leaves out (reference/airbyte.md §0, §1): closed tasks, subtasks,
archived tasks (`archived=false` then `archived=true` on Get Filtered Team Tasks, as tap-clickup does,
reference/clickup-api.md §4), folderless lists, lists over 100 tasks (every page), and tasks in archived
lists (walked through `/list/{id}/task`, since the team endpoint misses them, §9.1).

Each page is written in one transaction together with the resume point, so a crash or Ctrl-C resumes
from the last committed page. Pages are streamed: memory holds the few pages in flight (fetched, being
turned into snapshots, being written; page_pipeline.py).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from clickup_sync.sync.hierarchy import Hierarchy, HierarchyClient, walk_hierarchy
from clickup_sync.sync.normalize import FieldDefinition
from clickup_sync.sync.page_pipeline import SnapshotPage, prefetched, snapshot_pages
from clickup_sync.sync.store import ApplyResult, MirrorStore
from clickup_sync.sync.views import refresh_list_views

log = logging.getLogger(__name__)
_Page = tuple[int, list[dict[str, Any]]]
_GC_THRESHOLDS = (15_000, 10, 10)  # while a backfill runs: see _fewer_gc_collections
# Pages of snapshots prepared ahead of the one being written: enough that the writer never waits
# for one, each ~10 MB of parsed JSON.
_PAGES_AHEAD = 2
# Set inside each page's transaction only (SET LOCAL), never for the session:
# - synchronous_commit off: a page's data and its resume point commit together, so a server crash
#   can only lose recent pages together with their resume points, and the next run reads them again
#   (re-applying the same JSON writes nothing). The backfill's final commit stays synchronous.
_PAGE_SETTINGS = sql.SQL("SET LOCAL synchronous_commit = off")
# - lz4 for the TOAST values written (the ~9 kB raw JSON of each task): PostgreSQL then spends less
#   than half as long storing it as with its default pglz (measured 350 → 155 µs per task). Only
#   where the server was built with lz4 (PostgreSQL 14+); reading it back needs nothing.
_LZ4_SETTING = sql.SQL("SET LOCAL default_toast_compression = lz4")
_HAS_LZ4 = "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"


class BackfillClient(HierarchyClient, Protocol):
    async def get_list_fields(self, list_id: str) -> list[dict[str, Any]]: ...
    async def get_team_fields(self, team_id: str) -> list[dict[str, Any]]: ...
    def iter_team_task_pages(
        self, team_id: str, *, archived: bool, start_page: int = 0, space_ids: list[str] | None = None
    ) -> AsyncIterator[tuple[int, list[dict[str, Any]]]]: ...
    def iter_list_task_pages(
        self, list_id: str, *, archived: bool, start_page: int = 0
    ) -> AsyncIterator[tuple[int, list[dict[str, Any]]]]: ...
    @property
    def total_calls(self) -> int: ...


@dataclass
class BackfillProgress:
    """Reported after every committed page (for the progress bar)."""

    phase: str
    page: int
    tasks_done: int


@dataclass
class BackfillSummary:
    tasks: int = 0
    fields: int = 0
    values: int = 0
    relationships: int = 0
    changes: int = 0
    problems: int = 0
    api_calls: int = 0
    elapsed_seconds: float = 0.0
    resumed: bool = False
    phases: list[str] = field(default_factory=list)

    @property
    def tasks_per_second(self) -> float:
        return self.tasks / self.elapsed_seconds if self.elapsed_seconds else 0.0


@contextlib.contextmanager
def _fewer_gc_collections() -> Iterator[None]:
    """Python's cyclic garbage collector, run less often while the backfill runs.

    A page parses into ~150,000 dicts and lists (no cycles among them) that live until the page is
    written. With the default thresholds (700, 10, 10) the collector ran ~3,900 times in a
    20,000-task backfill and kept rescanning the pages in flight: 3.2 s, a quarter of the backfill's
    CPU. With 15,000 it runs ~120 times (0.3 s), and still often enough to free the reference cycles
    HTTP responses are left in, which hold each page's body: peak RSS 154 MB instead of 119 MB
    (205 MB with 25,000; over 280 MB with collection off)."""
    previous = gc.get_threshold()
    gc.set_threshold(*_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def _phases(hierarchy: Hierarchy) -> list[tuple[str, str | None, bool]]:
    """(phase name, list id or None for the team endpoint, archived flag), in the order they run."""
    phases: list[tuple[str, str | None, bool]] = [("team:active", None, False), ("team:archived", None, True)]
    for info in sorted(hierarchy.archived_lists, key=lambda i: i.list_id):
        phases.append((f"list:{info.list_id}:active", info.list_id, False))
        phases.append((f"list:{info.list_id}:archived", info.list_id, True))
    return phases


class Backfill:
    """One backfill run. `run()` resumes an interrupted run of the same scope."""

    def __init__(
        self,
        client: BackfillClient,
        conn: AsyncConnection[Any],
        store: MirrorStore,
        *,
        team_id: str,
        space_ids: list[str] | None = None,
        on_progress: Callable[[BackfillProgress], None] | None = None,
    ) -> None:
        self.client = client
        self.conn = conn
        self.store = store
        self.team_id = team_id
        self.space_ids = sorted(space_ids) if space_ids else None
        self.on_progress = on_progress
        self._page_settings: list[sql.Composable] = [_PAGE_SETTINGS]
        scope = ",".join(self.space_ids) if self.space_ids else "all"
        self.state_key = f"backfill:{team_id}:{scope}"

    async def run(self) -> BackfillSummary:
        with _fewer_gc_collections():
            return await self._run()

    async def _run(self) -> BackfillSummary:
        started = time.monotonic()
        calls_before = self.client.total_calls
        summary = BackfillSummary()
        state = await self._load_state()
        summary.resumed = state is not None
        if state is None:
            state = {"completed": [], "phase": None, "next_page": 0, "tasks": 0,
                     "started_at": datetime.now(UTC).isoformat()}  # fmt: skip
        self._page_settings = await self._page_settings_sql()
        hierarchy = await walk_hierarchy(self.client, self.team_id, space_ids=self.space_ids)
        await self.store.upsert_lists(self.conn, list(hierarchy.lists.values()))
        summary.fields = await self._store_field_definitions(hierarchy)

        totals = ApplyResult()
        tasks_done = int(state.get("tasks", 0))
        for phase, list_id, archived in _phases(hierarchy):
            summary.phases.append(phase)
            if phase in state["completed"]:
                continue
            start_page = int(state["next_page"]) if state.get("phase") == phase else 0
            if list_id is None:
                pages = self.client.iter_team_task_pages(
                    self.team_id, archived=archived, start_page=start_page, space_ids=self.space_ids
                )
            else:
                pages = self.client.iter_list_task_pages(list_id, archived=archived, start_page=start_page)
            tasks_done = await self._store_pages(phase, prefetched(pages), state, tasks_done, totals)
            state["completed"].append(phase)
            state.update(phase=None, next_page=0)
            await self._save_state(state)
            await self.conn.commit()

        await self._clear_state()
        await self._start_reconcile_cursor(datetime.fromisoformat(state["started_at"]))
        await refresh_list_views(self.conn, self.store.schema)
        await self.conn.commit()
        summary.tasks = tasks_done
        summary.values = totals.values_written
        summary.relationships = totals.relationships_written
        summary.changes = len(totals.changes)
        summary.problems = len(totals.problems)
        summary.api_calls = self.client.total_calls - calls_before
        summary.elapsed_seconds = time.monotonic() - started
        return summary

    async def _store_pages(
        self,
        phase: str,
        pages: AsyncIterator[_Page],
        state: dict[str, Any],
        tasks_done: int,
        totals: ApplyResult,
    ) -> int:
        """Store every page of a phase, each in its own transaction with the resume point.

        The next pages are fetched and turned into snapshots while one is written (page_pipeline.py);
        pages still commit strictly in order, one at a time, so the resume point is as before."""
        prepared = snapshot_pages(prefetched(pages), source="backfill", ahead=_PAGES_AHEAD)
        async with contextlib.aclosing(prepared) as ready:
            async for page in ready:
                state.update(phase=phase, next_page=page.number + 1, tasks=tasks_done + page.tasks)
                result = await self._write_page(page, state)
                totals.add(result)
                tasks_done += page.tasks
                if self.on_progress is not None:
                    self.on_progress(BackfillProgress(phase, page.number, tasks_done))
        return tasks_done

    async def _write_page(self, page: SnapshotPage, state: dict[str, Any]) -> ApplyResult:
        """One page and its resume point, in one transaction."""
        result = await self.store.apply_snapshots(
            self.conn,
            page.snapshots,
            source="backfill",
            observed_at=datetime.now(UTC),
            prepared=page.new_rows,
            settings=self._page_settings,
        )
        result.problems.extend(page.problems)
        async with self.conn.pipeline():  # the resume point and the commit in one round trip
            await self._save_state(state)
            await self.conn.commit()
        return result

    async def _store_field_definitions(self, hierarchy: Hierarchy) -> int:
        definitions: dict[str, tuple[FieldDefinition, set[str]]] = {}
        sources: list[tuple[str | None, list[dict[str, Any]]]] = [
            (None, await self.client.get_team_fields(self.team_id))
        ]
        for each_list in sorted(hierarchy.lists):
            sources.append((each_list, await self.client.get_list_fields(each_list)))
        for list_id, fields in sources:
            for field_json in fields:
                try:
                    definition = FieldDefinition.from_clickup(field_json)
                except ValueError as exc:  # a definition without an id cannot be keyed: skip it
                    log.warning("skipping a custom field definition: %s", exc)
                    continue
                entry = definitions.setdefault(definition.field_id, (definition, set()))
                if list_id is not None:
                    entry[1].add(list_id)
        await self.store.upsert_definitions(
            self.conn, [(d, sorted(lists)) for d, lists in definitions.values()]
        )
        await self.conn.commit()
        return len(definitions)

    async def _page_settings_sql(self) -> list[sql.Composable]:
        row = await (await self.conn.execute(_HAS_LZ4)).fetchone()
        return [_PAGE_SETTINGS, _LZ4_SETTING] if row and row[0] else [_PAGE_SETTINGS]

    # --- resume point, kept in service_state -----------------------------------------------------------
    async def _load_state(self) -> dict[str, Any] | None:
        row = await (
            await self.conn.execute(
                sql.SQL("SELECT value FROM {}.service_state WHERE key = %s").format(
                    sql.Identifier(self.store.schema)
                ),
                (self.state_key,),
            )
        ).fetchone()
        return dict(row[0]) if row else None

    async def _save_state(self, state: dict[str, Any]) -> None:
        await self.conn.execute(
            sql.SQL(
                "INSERT INTO {}.service_state (key, value) VALUES (%s, %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()"
            ).format(sql.Identifier(self.store.schema)),
            (self.state_key, Jsonb(state)),
        )

    async def _start_reconcile_cursor(self, backfill_started: datetime) -> None:
        """The first reconcile after a backfill looks back to when the backfill began, so changes made
        while it paged are found. An existing cursor (an earlier run's) is kept."""
        await self.conn.execute(
            sql.SQL(
                "INSERT INTO {}.service_state (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING"
            ).format(sql.Identifier(self.store.schema)),
            (f"reconcile:{self.team_id}", Jsonb({"cursor": backfill_started.isoformat()})),
        )

    async def _clear_state(self) -> None:
        await self.conn.execute(
            sql.SQL("DELETE FROM {}.service_state WHERE key = %s").format(sql.Identifier(self.store.schema)),
            (self.state_key,),
        )
