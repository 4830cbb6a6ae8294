"""Airbyte's destination-postgres for the ClickUp `task` stream, reproduced in a real PostgreSQL.

Nobody can run Airbyte here, so this harness runs, statement for statement, the DDL and SQL the
destination runs for one sync (spec: /work/shared/reference/airbyte.md §3): 3.x Direct Load
(`destination_direct_load`, §3.3–§3.5) or 2.x raw tables + typing and deduping
(`destination_typing_deduping`, §3.7), including the overwrite swap that drops the final table and
renames another one in its place (§3.4, §3.9). Tests use it to watch the service live through a sync;
the service itself never imports it.

    simulator = AirbyteDestinationSimulator(dsn, version="3.x")
    simulator.sync(records_like_airbyte(lists))             # first sync: creates public.clickup_task
    hold = threading.Event()
    handle = simulator.start_sync(records, hold_swap=hold)   # the next overwrite swaps tables …
    handle.wait_until_swap_locked(timeout=10)                # … and stops holding ACCESS EXCLUSIVE
    ...                                                      # watch the service meanwhile
    hold.set()
    result = handle.wait()
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import psycopg
from psycopg import errors as pg_errors

from clickup_sync.airbyte import destination_session as session_io
from clickup_sync.airbyte import destination_sql as q
from clickup_sync.airbyte.destination_direct_load import run_direct_load
from clickup_sync.airbyte.destination_session import (
    OVERWRITE_MODES,
    AirbyteSyncFailed,
    DestinationSession,
    SyncMode,
)
from clickup_sync.airbyte.destination_sql import TableName
from clickup_sync.airbyte.destination_typing_deduping import run_typing_deduping

__all__ = [
    "AirbyteDestinationSimulator",
    "AirbyteSyncFailed",
    "ListWithTasks",
    "SyncHandle",
    "SyncMode",
    "SyncResult",
    "Version",
    "records_like_airbyte",
]

Version = Literal["3.x", "2.x"]
# §0.6: the connector's broken pagination stops after ClickUp's first page of 100 tasks.
AIRBYTE_TASKS_PER_LIST = 100
# What counts as closed for `include_closed` (as the emulator's `Status.is_closed` reads ClickUp).
CLOSED_STATUS_TYPES = frozenset({"closed", "done"})


@dataclass(frozen=True)
class SyncResult:
    """What one simulated sync did, and the ids it stamped on its rows (§3.3, §4.4)."""

    version: Version
    mode: SyncMode
    sync_id: int
    generation_id: int
    records_written: int
    table_oid_before: int | None  # OID of the final table before the sync; None when it did not exist
    table_oid_after: int | None
    swapped: bool  # the final table was dropped and another table renamed in its place
    started_at: datetime
    finished_at: datetime
    # Where the records went instead of the final table, qualified (3.x: the `airbyte_internal` temp
    # table; 2.x: `<final>_airbyte_tmp`); None when they went straight into the final table.
    temp_table_name: str | None


@dataclass(frozen=True)
class ListWithTasks:
    """One ClickUp list and the tasks whose home it is, in the order `GET /list/{id}/task` lists them —
    closed and archived tasks and subtasks included: `records_like_airbyte` applies ClickUp's filters."""

    list_id: str
    folder_hidden: bool  # True for a folderless list: ClickUp keeps those in a hidden folder
    tasks: Sequence[Mapping[str, Any]]


def records_like_airbyte(
    lists: Iterable[ListWithTasks], *, include_closed: bool = False
) -> list[dict[str, Any]]:
    """The `task` records Airbyte's ClickUp connector emits for these lists, in emission order."""
    records: list[dict[str, Any]] = []
    for task_list in lists:
        if task_list.folder_hidden:
            continue  # §1.3: only `folder/{id}/list` is read, so folderless lists are never synced
        listed = [t for t in task_list.tasks if _listed_by_default(t, task_list.list_id, include_closed)]
        records.extend(copy.deepcopy(dict(task)) for task in listed[:AIRBYTE_TASKS_PER_LIST])
    return records


def _listed_by_default(task: Mapping[str, Any], list_id: str, include_closed: bool) -> bool:
    # §1.3/§1.4: the connector sends only `include_closed`, so ClickUp leaves out subtasks, archived
    # tasks and tasks whose home is another list.
    if task.get("parent") is not None or task.get("archived"):
        return False
    home = task.get("list")
    if isinstance(home, Mapping) and home.get("id") not in (None, list_id):
        return False
    status = task.get("status")
    closed = isinstance(status, Mapping) and status.get("type") in CLOSED_STATUS_TYPES
    return include_closed or not closed


class SyncHandle:
    """A sync running in a background thread (see `AirbyteDestinationSimulator.start_sync`)."""

    def __init__(self, run: Callable[[threading.Event], SyncResult]) -> None:
        self.swap_locked = threading.Event()  # set while a held swap owns the ACCESS EXCLUSIVE lock
        self._result: SyncResult | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(run,), name="airbyte-sync", daemon=True)
        self._thread.start()

    def _run(self, run: Callable[[threading.Event], SyncResult]) -> None:
        try:
            self._result = run(self.swap_locked)
        except BaseException as exc:  # re-raised by wait()
            self._error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait_until_swap_locked(self, timeout: float) -> bool:
        """True once a held swap has locked the final table; False if the sync ended (or `timeout`
        seconds passed) without that."""
        deadline = time.monotonic() + timeout
        while not self.swap_locked.wait(0.01):
            if self.done() or time.monotonic() > deadline:
                return self.swap_locked.is_set()
        return True

    def wait(self, timeout: float | None = None) -> SyncResult:
        """The sync's result; raises what the sync raised, or TimeoutError while it still runs."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("the simulated Airbyte sync is still running")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


class AirbyteDestinationSimulator:
    """Runs syncs of the ClickUp `task` stream into `dsn` as destination-postgres `version` would.

    `namespace` is the destination's `schema`, `prefix` the connection's stream prefix, `raw_schema`
    the destination's `raw_data_schema`, `drop_cascade` its "Drop tables with CASCADE" (§3.2, §3.10).
    """

    def __init__(
        self,
        dsn: str,
        *,
        version: Version,
        namespace: str = "public",
        prefix: str = "clickup_",
        raw_schema: str = "airbyte_internal",
        drop_cascade: bool = False,
    ) -> None:
        if version not in get_args(Version):
            raise ValueError(f"version must be one of {get_args(Version)}, not {version!r}")
        self.dsn = dsn
        self.version: Version = version
        self.drop_cascade = drop_cascade
        # §3.2: the platform prefixes the stream name; the destination makes it a PG-compatible name.
        self.final_table = TableName(namespace, q.postgres_compatible_name(prefix + q.TASK_STREAM_NAME))
        # 3.x stages in a hashed temp table, 2.x in a raw table, both in `raw_schema` (§3.2, §3.4).
        self.temp_table = TableName(
            raw_schema, q.direct_load_temp_table_name(namespace, self.final_table.name)
        )
        raw_name = q.concatenate_raw_table_name(namespace, self.final_table.name).lower()
        self.raw_table = TableName(raw_schema, raw_name)
        self._running = threading.Lock()
        self._last_sync_id = 0
        self._last_generation_id = 0

    def sync(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        mode: SyncMode = "overwrite",
        hold_swap: threading.Event | None = None,
        swap_locked: threading.Event | None = None,
    ) -> SyncResult:
        """Run one sync of the `task` stream with these records; raises `AirbyteSyncFailed` on failure.

        With `hold_swap`, a swap stops right after its DROP TABLE — the final table is then held
        ACCESS EXCLUSIVE and `swap_locked` is set — and waits for the event before RENAME + COMMIT.
        Syncs that do not swap ignore it.
        """
        if mode not in get_args(SyncMode):
            raise ValueError(f"mode must be one of {get_args(SyncMode)}, not {mode!r}")
        if not self._running.acquire(blocking=False):
            raise AirbyteSyncFailed(
                "a sync of this connection is already running; Airbyte runs one at a time"
            )
        try:
            return self._sync(records, mode, hold_swap, swap_locked)
        finally:
            self._running.release()

    def start_sync(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        mode: SyncMode = "overwrite",
        hold_swap: threading.Event | None = None,
    ) -> SyncHandle:
        """Run `sync` in a background thread, for tests that act while the sync runs."""
        snapshot = [copy.deepcopy(dict(record)) for record in records]  # the caller may change them meanwhile
        return SyncHandle(
            lambda swap_locked: self.sync(snapshot, mode=mode, hold_swap=hold_swap, swap_locked=swap_locked)
        )

    def _sync(
        self,
        records: Iterable[Mapping[str, Any]],
        mode: SyncMode,
        hold_swap: threading.Event | None,
        swap_locked: threading.Event | None,
    ) -> SyncResult:
        started_at = datetime.now(UTC)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            oid_before = session_io.table_oid(conn, self.final_table)
            sync_id, generation_id = self._next_counters(conn, mode)
            session = DestinationSession(
                conn, mode, sync_id, generation_id, self.drop_cascade, hold_swap, swap_locked
            )
            try:
                if self.version == "3.x":
                    run_direct_load(session, self.final_table, self.temp_table, records)
                else:
                    run_typing_deduping(session, self.final_table, self.raw_table, records)
            except psycopg.Error as exc:
                raise _sync_failure(exc) from exc
            oid_after = session_io.table_oid(conn, self.final_table)
        return SyncResult(
            version=self.version,
            mode=mode,
            sync_id=sync_id,
            generation_id=generation_id,
            records_written=session.records_written,
            table_oid_before=oid_before,
            table_oid_after=oid_after,
            swapped=session.swapped,
            started_at=started_at,
            finished_at=datetime.now(UTC),
            temp_table_name=None if session.temp_table is None else str(session.temp_table),
        )

    def _next_counters(self, conn: psycopg.Connection[Any], mode: SyncMode) -> tuple[int, int]:
        """sync_id grows with every sync (§3.3); the platform starts a new generation for every truncate
        (overwrite) sync and keeps it for appends (§3.4). Both are read back from the rows Airbyte wrote
        — the final table and the temp or raw table in `airbyte_internal` — so they keep growing across
        simulators on one database, and past a failed sync."""
        staging = self.temp_table if self.version == "3.x" else self.raw_table
        stored_sync_id, stored_generation = session_io.stored_counters(conn, [self.final_table, staging])
        self._last_sync_id = max(self._last_sync_id, stored_sync_id) + 1
        generation = max(self._last_generation_id, stored_generation)
        self._last_generation_id = generation + 1 if mode in OVERWRITE_MODES else generation
        return self._last_sync_id, self._last_generation_id


def _sync_failure(exc: psycopg.Error) -> AirbyteSyncFailed:
    message = str(exc).strip()
    if isinstance(exc, pg_errors.DependentObjectsStillExist):
        # 2.0.13+ and 3.0.7+ report this as a configuration error with CASCADE guidance (§3.1, §3.9).
        message += (
            "\nAirbyte cannot drop the table while other objects depend on it: enable 'Drop tables with"
            " CASCADE' (drop_cascade) or remove the dependent objects."
        )
    return AirbyteSyncFailed(message, sqlstate=exc.sqlstate)
