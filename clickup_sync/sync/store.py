"""Write fetched task states into the mirror, with their history, one transaction per batch.

For a batch of task snapshots (a page of 100, or one re-fetched task): lock the stored rows, rebuild
what the mirror holds now, diff, and write the new state and the changes together. Re-applying the
same JSON writes no change; a state older than the stored one (ClickUp's `date_updated`) is skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from psycopg import AsyncConnection, sql

from clickup_sync.db.params import json_param, json_text, text_param
from clickup_sync.sync.bulk_write import BulkWriter, WriteBatch
from clickup_sync.sync.copy_rows import (
    NewTaskRows,
    new_task_rows,
    relationship_copy_row,
    task_copy_row,
    value_copy_row,
)
from clickup_sync.sync.diff import ChangeSource, FieldChange, diff_task_states, is_stale
from clickup_sync.sync.hierarchy import ListInfo
from clickup_sync.sync.normalize import FieldDefinition, NormalizedValue
from clickup_sync.sync.task_state import Relationship, TaskRow, TaskSnapshot

log = logging.getLogger(__name__)
DEFINITION_CACHE_SECONDS = 600.0
_TASK_COLUMNS = (
    "task_id", "custom_id", "name", "status", "status_type", "list_id", "folder_id", "space_id",
    "parent_task_id", "top_level_parent_id", "priority", "assignee_ids", "watcher_ids", "tags",
    "due_date", "start_date", "date_created", "date_updated", "date_closed", "date_done",
    "time_estimate_ms", "points", "archived",
)  # fmt: skip
_VALUE_COLUMNS = (
    "field_type", "raw_value", "value", "value_text", "value_number", "value_date", "value_bool",
    "value_ids", "value_labels",
)  # fmt: skip


class _WrittenDefinition(NamedTuple):
    fingerprint: tuple[str, str, str]  # name, type, type_config as JSON text
    lists: frozenset[str]
    written_at: float  # time.monotonic()
    definition: FieldDefinition  # the object fingerprinted


@dataclass
class ApplyResult:
    """What one batch did, for progress bars, summaries and metrics."""

    tasks_new: int = 0
    tasks_updated: int = 0
    tasks_unchanged: int = 0
    tasks_stale: int = 0
    values_written: int = 0
    relationships_written: int = 0
    changes: list[FieldChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, other: ApplyResult) -> None:
        self.tasks_new += other.tasks_new
        self.tasks_updated += other.tasks_updated
        self.tasks_unchanged += other.tasks_unchanged
        self.tasks_stale += other.tasks_stale
        self.values_written += other.values_written
        self.relationships_written += other.relationships_written
        self.changes.extend(other.changes)
        self.problems.extend(other.problems)


class MirrorStore:
    """The only writer of the public tables `tasks`, `custom_fields`, `task_custom_field_values`,
    `task_relationships` and `field_changes` for fetched task states."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self._s = sql.Identifier(schema)
        self._writer = BulkWriter(schema)
        # field id → what was last written for it: see upsert_definitions
        self._written_definitions: dict[str, _WrittenDefinition] = {}

    def _q(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(s=self._s)

    # --- reading the stored state ------------------------------------------------------------------
    async def load_snapshots(
        self, conn: AsyncConnection[Any], task_ids: Sequence[str]
    ) -> dict[str, TaskSnapshot]:
        """What the mirror holds for these tasks, locked until the transaction ends (so two writers of
        the same task are serialized).

        The queries are never prepared: psycopg prepares a statement after its fifth run, and the
        generic plan PostgreSQL then keeps for `= ANY($1)`, made while the tables were small (and
        without statistics when autovacuum is off), was a sequential scan whose cost grew with the
        mirror: 30 % of PostgreSQL's CPU in a 20,000-task backfill. Planning each run is ~0.2 ms."""
        if not task_ids:
            return {}
        columns = sql.SQL(", ").join(map(sql.Identifier, (*_TASK_COLUMNS, "raw")))
        rows = await (
            await conn.execute(
                sql.SQL("SELECT {} FROM {}.tasks WHERE task_id = ANY(%s) ORDER BY task_id FOR UPDATE").format(
                    columns, self._s
                ),
                (list(task_ids),),
                prepare=False,
            )
        ).fetchall()
        task_rows = {row[0]: _task_row_from_db(row) for row in rows}
        if not task_rows:  # all new (a first backfill): nothing more to read
            return {}
        values: dict[str, dict[str, NormalizedValue]] = {task_id: {} for task_id in task_rows}
        value_rows = await (
            await conn.execute(
                self._q(
                    "SELECT task_id, field_id, field_type, raw_value, value, value_text, value_number,"
                    " value_date, value_bool, value_ids, value_labels FROM {s}.task_custom_field_values"
                    " WHERE task_id = ANY(%s)"
                ),
                (list(task_rows),),
                prepare=False,
            )
        ).fetchall()
        for task_id, field_id, *rest in value_rows:
            if task_id in values:
                values[task_id][field_id] = _value_from_db(field_id, rest)
        relationships: dict[str, set[Relationship]] = {task_id: set() for task_id in task_rows}
        relationship_rows = await (
            await conn.execute(
                self._q(
                    "SELECT task_id, related_task_id, relationship_type, field_id, created_at"
                    " FROM {s}.task_relationships WHERE task_id = ANY(%s)"
                ),
                (list(task_rows),),
                prepare=False,
            )
        ).fetchall()
        for task_id, related, kind, field_id, created_at in relationship_rows:
            relationships[task_id].add(Relationship(task_id, related, kind, field_id or None, created_at))
        return {
            task_id: TaskSnapshot(
                row=row,
                field_definitions=(),
                values=values[task_id],
                relationships=frozenset(relationships[task_id]),
                problems=(),
            )
            for task_id, row in task_rows.items()
        }

    async def field_names(self, conn: AsyncConnection[Any], field_ids: Iterable[str]) -> dict[str, str]:
        field_ids = list(field_ids)
        if not field_ids:
            return {}
        rows = await (
            await conn.execute(
                self._q("SELECT field_id, name FROM {s}.custom_fields WHERE field_id = ANY(%s)"),
                (field_ids,),
            )
        ).fetchall()
        return dict(rows)

    # --- writing ---------------------------------------------------------------------------------------
    async def apply_snapshots(
        self,
        conn: AsyncConnection[Any],
        snapshots: Sequence[TaskSnapshot],
        *,
        source: ChangeSource,
        observed_at: datetime,
        prepared: Mapping[str, NewTaskRows] | None = None,
        settings: Sequence[sql.Composable] = (),
    ) -> ApplyResult:
        """Diff and write a batch. Call inside a transaction; the caller commits.

        `prepared` (by task id) holds the rows of tasks that may be new, built beforehand from these
        very snapshots (`copy_rows.new_task_rows`); they are used for the tasks that are.
        `settings` (`SET LOCAL …` statements) run before the first write, without a round trip of
        their own."""
        result = ApplyResult()
        latest: dict[str, TaskSnapshot] = {}
        for snapshot in snapshots:  # the same task twice in a batch: keep the newer state
            seen = latest.get(snapshot.row.task_id)
            if seen is None or not is_stale(snapshot, seen):
                latest[snapshot.row.task_id] = snapshot
        stored = await self.load_snapshots(conn, sorted(latest))
        # Names of stored fields the fetched JSON no longer carries (none on a first sighting).
        # Per task: the diff names a field from that task's own definitions, not from its page's.
        unnamed = {
            field_id
            for task_id, before in stored.items()
            for field_id in before.values.keys() - {d.field_id for d in latest[task_id].field_definitions}
        }
        known_names = await self.field_names(conn, unnamed)
        await self.upsert_field_definitions(conn, [s for s in latest.values()])

        batch = WriteBatch()
        task_params = batch.tasks
        value_upserts = batch.values
        value_deletes = batch.value_deletes
        relationship_inserts = batch.relationships
        relationship_deletes = batch.relationship_deletes
        for task_id, fetched in latest.items():
            before = stored.get(task_id)
            for problem in fetched.problems:
                result.problems.append(f"task {task_id}: {problem}")
                # Logged, not raised: an odd value must never stop the sync (issue #3 §5).
                log.warning("stored task %s as received; %s", task_id, problem, extra={"task_id": task_id})
            if is_stale(before, fetched):
                result.tasks_stale += 1
                continue
            changes = diff_task_states(
                before, fetched, observed_at=observed_at, source=source, field_names=known_names
            )
            result.changes.extend(changes)
            if before is None:
                result.tasks_new += 1
            elif changes or dict(before.row.raw) != dict(fetched.row.raw):
                result.tasks_updated += 1
            else:
                result.tasks_unchanged += 1
            if before is None:  # a first sighting: everything is new
                rows = prepared.get(task_id) if prepared else None
                if rows is None or rows.snapshot is not fetched or rows.source != source:
                    rows = new_task_rows(fetched, source)
                batch.new_tasks.append(rows.task)
                batch.new_values.extend(rows.values)
                batch.new_relationships.extend(rows.relationships)
                continue
            task_params.append(task_copy_row(fetched.row))
            old_values = before.values
            for field_id, value in fetched.values.items():
                old = old_values.get(field_id)
                if old is None or not old.same_value(value) or old.raw_value != value.raw_value:
                    value_upserts.append(value_copy_row(task_id, value, source))
            value_deletes.extend((task_id, fid) for fid in old_values.keys() - fetched.values.keys())
            for relationship in fetched.relationships - before.relationships:
                relationship_inserts.append(relationship_copy_row(relationship, source))
            for relationship in before.relationships - fetched.relationships:
                relationship_deletes.append(_relationship_key(relationship))

        batch.changes = [change_row(c) for c in result.changes]
        await self._writer.write(conn, batch, settings=settings)
        result.values_written = len(value_upserts) + len(batch.new_values) + len(value_deletes)
        result.relationships_written = (
            len(relationship_inserts) + len(batch.new_relationships) + len(relationship_deletes)
        )
        return result

    async def upsert_field_definitions(
        self, conn: AsyncConnection[Any], snapshots: Sequence[TaskSnapshot]
    ) -> None:
        # The first definition seen for a field, and every list it was seen in. A page repeats each
        # definition up to 100 times: `get` first, so a repeat allocates nothing.
        definitions: dict[str, tuple[FieldDefinition, set[str]]] = {}
        for snapshot in snapshots:
            list_id = snapshot.row.list_id
            for definition in snapshot.field_definitions:
                entry = definitions.get(definition.field_id)
                if entry is None:
                    entry = definitions[definition.field_id] = (definition, set())
                if list_id:
                    entry[1].add(list_id)
        await self.upsert_definitions(conn, [(d, sorted(lists)) for d, lists in definitions.values()])

    async def upsert_definitions(
        self, conn: AsyncConnection[Any], definitions: Sequence[tuple[FieldDefinition, Sequence[str]]]
    ) -> None:
        """Insert or refresh field definitions; `list_ids` only grows (a field applies to every list it
        was seen in).

        Every task carries the definitions of its ~20 fields, so a page repeats each one up to 100
        times and a backfill thousands of times. A per-process cache of what was written skips the
        repeats (measured: a fifth of backfill time); an entry expires after `DEFINITION_CACHE_SECONDS`
        so a write lost to a rolled-back transaction is redone soon, and any change of name, type,
        options or lists bypasses it at once."""
        now = time.monotonic()
        fresh = []
        for definition, lists in definitions:
            cached = self._written_definitions.get(definition.field_id)
            if cached is not None and cached.definition is definition:
                # The very object fingerprinted last time (task snapshots share one per field, see
                # normalize._definition_of): skip encoding its type_config again.
                fingerprint = cached.fingerprint
            else:
                fingerprint = (definition.name, definition.type, json_text(definition.type_config))
            same = cached is not None and cached.fingerprint == fingerprint
            if (
                same
                and cached is not None
                and cached.lists.issuperset(lists)
                and now - cached.written_at < DEFINITION_CACHE_SECONDS
            ):
                continue
            known_lists = cached.lists if cached is not None and same else frozenset()
            self._written_definitions[definition.field_id] = _WrittenDefinition(
                fingerprint, known_lists | set(lists), now, definition
            )
            fresh.append((definition, lists))
        definitions = fresh
        if not definitions:
            return
        async with conn.cursor() as cursor:
            await cursor.executemany(
                self._q(
                    "INSERT INTO {s}.custom_fields AS f (field_id, name, type, type_config, list_ids)"
                    " VALUES (%s, %s, %s, %s, %s)"
                    " ON CONFLICT (field_id) DO UPDATE SET name = excluded.name, type = excluded.type,"
                    " type_config = excluded.type_config, last_seen_at = now(),"
                    " list_ids = ARRAY(SELECT DISTINCT unnest(f.list_ids || excluded.list_ids) ORDER BY 1)"
                    " WHERE (f.name, f.type, f.type_config) IS DISTINCT FROM"
                    " (excluded.name, excluded.type, excluded.type_config)"
                    " OR NOT (f.list_ids @> excluded.list_ids)"
                    " OR f.last_seen_at < now() - interval '1 hour'"
                ),
                [
                    (d.field_id, text_param(d.name), d.type, json_param(dict(d.type_config)), list(lists))
                    for d, lists in sorted(definitions, key=lambda item: item[0].field_id)
                ],
            )

    async def upsert_lists(self, conn: AsyncConnection[Any], lists: Sequence[ListInfo]) -> None:
        if not lists:
            return
        async with conn.cursor() as cursor:
            await cursor.executemany(
                self._q(
                    "INSERT INTO {s}.lists (list_id, name, space_id, folder_id, archived)"
                    " VALUES (%s, %s, %s, %s, %s)"
                    " ON CONFLICT (list_id) DO UPDATE SET name = excluded.name, space_id = excluded.space_id,"
                    " folder_id = excluded.folder_id, archived = excluded.archived, last_seen_at = now()"
                ),
                [
                    (i.list_id, i.name, i.space_id, i.folder_id, i.archived)
                    for i in sorted(lists, key=lambda i: i.list_id)
                ],
            )

    async def insert_changes(self, conn: AsyncConnection[Any], changes: Sequence[FieldChange]) -> int:
        """Append history rows; a change whose `event_id` is already recorded is skipped."""
        if changes:
            await self._writer.prepare(conn)
            await self._writer.insert_changes(conn, [change_row(c) for c in changes])
        return len(changes)

    async def mark_deleted(
        self,
        conn: AsyncConnection[Any],
        task_id: str,
        *,
        deleted_at: datetime,
        source: ChangeSource,
        changed_by: str | None = None,
        event_id: str | None = None,
    ) -> bool:
        """Mark a task deleted (once) and record a `deleted` change. Its values and relationships stay
        readable as they were; returns False when it was already marked."""
        row = await (
            await conn.execute(
                self._q(
                    "UPDATE {s}.tasks SET deleted_at = %s, synced_at = now()"
                    " WHERE task_id = %s AND deleted_at IS NULL RETURNING task_id"
                ),
                (deleted_at, task_id),
            )
        ).fetchone()
        if row is None:
            return False
        await self.insert_changes(
            conn,
            [
                FieldChange(
                    task_id, None, "deleted", None, False, True, deleted_at, changed_by, source, event_id
                )
            ],
        )
        return True


def change_row(change: FieldChange) -> tuple[Any, ...]:
    """One `field_changes` row in `bulk_write.CHANGE_COLUMNS` order."""
    return (
        change.task_id,
        change.field_id,
        text_param(change.field_name),
        change.field_type,
        json_text(change.old_value),
        json_text(change.new_value),
        change.changed_at,
        change.changed_by,
        change.source,
        change.event_id,
    )


def _task_row_from_db(row: Sequence[Any]) -> TaskRow:
    data = dict(zip((*_TASK_COLUMNS, "raw"), row, strict=True))
    for key in ("assignee_ids", "watcher_ids", "tags"):
        data[key] = tuple(data[key] or ())
    return TaskRow(**data)


def value_params(task_id: str, value: NormalizedValue, source: ChangeSource) -> tuple[Any, ...]:
    """One `task_custom_field_values` row in `bulk_write.VALUE_COLUMNS` order."""
    return (
        task_id,
        value.field_id,
        value.field_type,
        json_text(value.raw_value),
        json_text(value.value),
        text_param(value.value_text),
        value.value_number,
        value.value_date,
        value.value_bool,
        list(value.value_ids) if value.value_ids is not None else None,
        text_param(list(value.value_labels)) if value.value_labels is not None else None,
        source,
    )


def _value_from_db(field_id: str, columns: Sequence[Any]) -> NormalizedValue:
    field_type, raw_value, value, text, number, date, boolean, ids, labels = columns
    return NormalizedValue(
        field_id=field_id,
        field_type=field_type,
        raw_value=raw_value,
        value=value,
        value_text=text,
        value_number=number,
        value_date=date,
        value_bool=boolean,
        value_ids=tuple(ids) if ids is not None else None,
        value_labels=tuple(labels) if labels is not None else None,
    )


def _relationship_key(relationship: Relationship) -> tuple[str, str, str, str]:
    return (
        relationship.task_id,
        relationship.relationship_type,
        relationship.related_task_id,
        relationship.field_id or "",
    )
