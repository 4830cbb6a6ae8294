"""Pages of tasks, fetched and turned into snapshots ahead of the code that stores them.

Storing a page mostly waits for PostgreSQL; fetching one waits for ClickUp, and turning it into
snapshots is pure CPU. Run one after the other they alternate; here the fetch of the next pages and
their snapshots proceed while the current page is written (everything in one event loop: the work
moves on whenever the writer waits for the database). Pages come out in order, at most `ahead`
pages of snapshots are held, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from clickup_sync.sync.copy_rows import NewTaskRows, new_task_rows
from clickup_sync.sync.diff import ChangeSource
from clickup_sync.sync.task_state import TaskSnapshot, snapshot_from_task_json

Page = tuple[int, list[dict[str, Any]]]
# ~0.15 ms of work per task: yielding every 5 lets the write, which waits for PostgreSQL and is what
# bounds the pace, move on within a millisecond of an answer, at a cost of one loop turn (a few µs).
_TASKS_BETWEEN_YIELDS = 5


@dataclass
class SnapshotPage:
    number: int
    tasks: int  # tasks on the page, those that could not be read included
    snapshots: list[TaskSnapshot]
    problems: list[str]  # tasks that could not be read at all (no usable id)
    new_rows: dict[str, NewTaskRows]  # by task id: the rows each task writes if it proves new


async def snapshot_pages(
    pages: AsyncGenerator[Page, None], *, source: ChangeSource, ahead: int = 2
) -> AsyncGenerator[SnapshotPage, None]:
    """The pages of `pages` as snapshots, and the rows of their tasks if new (most are, in a first
    backfill), prepared up to `ahead` pages before they are asked for.

    An error fetching or reading a page is raised here in its turn, after the pages before it."""
    ready: asyncio.Queue[SnapshotPage | Exception | None] = asyncio.Queue(maxsize=ahead)

    async def produce() -> None:
        try:
            async with contextlib.aclosing(pages):
                async for number, tasks in pages:
                    snapshots, problems = await page_snapshots(tasks)
                    new_rows = await _new_rows(snapshots, source)
                    await ready.put(SnapshotPage(number, len(tasks), snapshots, problems, new_rows))
        except Exception as exc:  # handed over in order, raised by the consumer
            await ready.put(exc)
            return
        await ready.put(None)

    producer = asyncio.ensure_future(produce())
    try:
        while (item := await ready.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        producer.cancel()
        with contextlib.suppress(BaseException):
            await producer


async def page_snapshots(tasks: list[dict[str, Any]]) -> tuple[list[TaskSnapshot], list[str]]:
    """The snapshots of a page, and the tasks that could not be read. Yields to the event loop every
    few tasks, so that a page being written meanwhile moves on as soon as PostgreSQL answers."""
    snapshots: list[TaskSnapshot] = []
    problems: list[str] = []
    for position, task in enumerate(tasks, 1):
        try:
            snapshots.append(snapshot_from_task_json(task))
        except ValueError as exc:  # no usable id: nothing can be stored for it
            problems.append(str(exc))
        if position % _TASKS_BETWEEN_YIELDS == 0:
            await asyncio.sleep(0)
    return snapshots, problems


async def _new_rows(snapshots: list[TaskSnapshot], source: ChangeSource) -> dict[str, NewTaskRows]:
    rows: dict[str, NewTaskRows] = {}
    for position, snapshot in enumerate(snapshots, 1):
        rows[snapshot.row.task_id] = new_task_rows(snapshot, source)
        if position % _TASKS_BETWEEN_YIELDS == 0:
            await asyncio.sleep(0)
    return rows


async def prefetched(pages: AsyncIterator[Page]) -> AsyncGenerator[Page, None]:
    """Yield the pages of `pages` while the next one is already being fetched: ClickUp takes longer to
    answer a page (seconds, reference/clickup-api.md §4.5) than we take to store one, so fetching
    and storing overlap instead of alternating."""
    iterator = aiter(pages)
    pending: asyncio.Task[Page] = asyncio.ensure_future(anext(iterator))
    try:
        while True:
            try:
                page = await pending
            except StopAsyncIteration:
                return
            pending = asyncio.ensure_future(anext(iterator))
            yield page
    finally:
        pending.cancel()
        with contextlib.suppress(BaseException):
            await pending
