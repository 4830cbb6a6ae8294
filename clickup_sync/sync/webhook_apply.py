"""Apply a stored webhook delivery to the mirror: its history items become `field_changes` at once
(ClickUp's event time, user, history item id), custom field items update `task_custom_field_values`
from the item itself, and built-in fields patch the `tasks` row — unless the item is older than what
the mirror already holds (out-of-order delivery): then only its history row is recorded.

Patching the row is what keeps a follow-up re-fetch from recording the same change twice: the
re-fetch diffs against the mirror, which already holds what the items said. A re-fetch is asked for
(`DeliveryOutcome.needs_refresh`) only when the items cannot describe the change: the mirror lacks the
task, a task was created or moved, an item's field is unknown or unreadable, or a relationship field
changed (its rows in `task_relationships` come from the task's JSON).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql

from clickup_sync.sync.diff import FieldChange
from clickup_sync.sync.history_items import ItemEffect, TaskPatch, item_effect
from clickup_sync.sync.normalize import RELATIONSHIP_FIELD_TYPES
from clickup_sync.sync.store import MirrorStore, change_row, value_params
from clickup_sync.sync.webhook_delivery import ParsedDelivery

log = logging.getLogger(__name__)

_ARRAY_COLUMNS = {"assignee_ids", "watcher_ids", "tags"}
_PATCHABLE = {
    "status", "status_type", "name", "priority", "assignee_ids", "watcher_ids", "tags", "due_date",
    "start_date", "time_estimate_ms", "points", "archived", "list_id", "folder_id", "space_id",
}  # fmt: skip
# A move changes list, folder, space and the statuses that apply; a creation item has no row to patch.
_FETCH_AFTER_FIELDS = {"list", "created"}  # item_effect names: `section_moved` reads as `list`


@dataclass
class DeliveryOutcome:
    recorded: int = 0  # history rows written now (0 when replayed: they existed)
    stale: int = 0  # items older than the mirror's state: history only
    patched: int = 0
    deleted: bool = False
    needs_refresh: bool = False  # the items do not describe the whole change: re-fetch the task
    owned_items: int = 0  # history items this delivery owns (0: all were delivered before)
    event_times: list[datetime] = field(default_factory=list)  # of the rows recorded now (processing lag)


def described_by_item(effect: ItemEffect) -> bool:
    """Whether applying the item leaves the mirror as ClickUp has it (no re-fetch needed)."""
    if effect.problems:
        return False
    if effect.value_patch is not None:
        return effect.value_patch.field.type not in RELATIONSHIP_FIELD_TYPES
    return bool(effect.task_patches) and effect.field_name not in _FETCH_AFTER_FIELDS


class DeliveryApplier:
    def __init__(self, store: MirrorStore) -> None:
        self.store = store
        self._s = sql.Identifier(store.schema)

    async def apply(
        self,
        conn: AsyncConnection[Any],
        delivery: ParsedDelivery,
        owned_item_ids: set[str],
        *,
        received_at: datetime,
    ) -> DeliveryOutcome:
        """Apply the items this delivery owns (deduplication gave each item to one delivery)."""
        outcome = DeliveryOutcome(owned_items=len(owned_item_ids))
        task_id = delivery.task_id
        if task_id is None:
            return outcome
        if delivery.event == "taskDeleted":
            key = f"taskDeleted:{task_id}"
            if key in owned_item_ids:
                event_id = f"{delivery.webhook_id}:{key}"
                outcome.deleted = await self.store.mark_deleted(
                    conn, task_id, deleted_at=received_at, source="webhook", event_id=event_id
                )
                if not outcome.deleted and not await self._task_known(conn, task_id):
                    # A task created and deleted before its re-fetch ran (e.g. while the ClickUp budget
                    # was used up) is not in `tasks`, yet its other items are in `field_changes`: its
                    # deletion belongs there too, or its history never ends.
                    deleted = FieldChange(
                        task_id, None, "deleted", None, False, True, received_at, None, "webhook", event_id
                    )
                    outcome.recorded += await self._insert_change(conn, deleted)
            return outcome
        effects = sorted(
            (item_effect(item, received_at=received_at) for item in delivery.history_items),
            key=lambda e: e.changed_at,
        )
        effects = [e for e in effects if e.item_id in owned_item_ids]
        if not effects:
            return outcome
        row = await (
            await conn.execute(
                sql.SQL("SELECT date_updated FROM {}.tasks WHERE task_id = %s FOR UPDATE").format(self._s),
                (task_id,),
            )
        ).fetchone()
        task_known = row is not None
        fetched_at = row[0] if row else None
        outcome.needs_refresh = not task_known  # the payload lacks the task's details (§7.4)
        for effect in effects:
            for problem in effect.problems:
                log.warning("webhook item %s of task %s: %s", effect.item_id, task_id, problem)
            inserted = await self._record(conn, task_id, effect)
            outcome.recorded += inserted
            if inserted:
                outcome.event_times.append(effect.changed_at)
            if await self._is_stale(conn, task_id, effect, fetched_at):
                outcome.stale += 1
                continue
            outcome.needs_refresh = outcome.needs_refresh or not described_by_item(effect)
            if task_known and effect.task_patches:
                await self._patch_task(conn, task_id, effect.task_patches)
                outcome.patched += 1
            if effect.value_patch is not None:
                await self._patch_value(conn, task_id, effect)
                outcome.patched += 1
        return outcome

    async def _task_known(self, conn: AsyncConnection[Any], task_id: str) -> bool:
        query = sql.SQL("SELECT 1 FROM {}.tasks WHERE task_id = %s").format(self._s)
        return await (await conn.execute(query, (task_id,))).fetchone() is not None

    async def _record(self, conn: AsyncConnection[Any], task_id: str, effect: ItemEffect) -> int:
        """The item's history row; 0 when it was recorded before (a replay or a retry). One statement:
        this is on the path from receipt to history, where every round trip counts."""
        return await self._insert_change(conn, effect.field_change(task_id))

    async def _insert_change(self, conn: AsyncConnection[Any], change: FieldChange) -> int:
        inserted = await (
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {}.field_changes (task_id, field_id, field_name, field_type, old_value,"
                    " new_value, changed_at, changed_by, source, event_id)"
                    " VALUES (%s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s)"
                    " ON CONFLICT (event_id) DO NOTHING RETURNING 1"
                ).format(self._s),
                change_row(change),
            )
        ).fetchone()
        return 1 if inserted else 0

    async def _is_stale(
        self, conn: AsyncConnection[Any], task_id: str, effect: ItemEffect, fetched_at: datetime | None
    ) -> bool:
        """Older than the last fetch, or than another recorded change of the same field."""
        if fetched_at is not None and effect.changed_at < fetched_at:
            return True
        row = await (
            await conn.execute(
                sql.SQL(
                    "SELECT max(changed_at) FROM {}.field_changes WHERE task_id = %s AND field_name = %s"
                    " AND field_id IS NOT DISTINCT FROM %s AND event_id IS DISTINCT FROM %s"
                ).format(self._s),
                (task_id, effect.field_name, effect.field_id, effect.item_id),
            )
        ).fetchone()
        newest = row[0] if row else None
        return newest is not None and effect.changed_at < newest

    async def _patch_task(
        self, conn: AsyncConnection[Any], task_id: str, patches: Sequence[TaskPatch]
    ) -> None:
        for patch in patches:
            if patch.column not in _PATCHABLE:
                continue
            column = sql.Identifier(patch.column)
            if patch.column in _ARRAY_COLUMNS and patch.operation == "add":
                statement = sql.SQL(
                    "UPDATE {s}.tasks SET {c} = ARRAY(SELECT DISTINCT unnest({c} || %s::text[]) ORDER BY 1)"
                    " WHERE task_id = %s"
                )
            elif patch.column in _ARRAY_COLUMNS and patch.operation == "remove":
                statement = sql.SQL(
                    "UPDATE {s}.tasks SET {c} = ARRAY(SELECT x FROM unnest({c}) AS x"
                    " WHERE x <> ALL(%s::text[])) WHERE task_id = %s"
                )
            else:
                statement = sql.SQL("UPDATE {s}.tasks SET {c} = %s WHERE task_id = %s")
            value = patch.value
            if patch.column in _ARRAY_COLUMNS and patch.operation != "set":
                value = [str(v) for v in (value if isinstance(value, list | tuple) else [value])]
            await conn.execute(statement.format(s=self._s, c=column), (value, task_id))

    async def _patch_value(self, conn: AsyncConnection[Any], task_id: str, effect: ItemEffect) -> None:
        patch = effect.value_patch
        assert patch is not None
        await self.store.upsert_definitions(conn, [(patch.field, [])])
        if patch.value is None:
            await conn.execute(
                sql.SQL(
                    "DELETE FROM {}.task_custom_field_values WHERE task_id = %s AND field_id = %s"
                ).format(self._s),
                (task_id, patch.field.field_id),
            )
            return
        params = value_params(task_id, patch.value, "webhook")
        await conn.execute(
            sql.SQL(
                "INSERT INTO {}.task_custom_field_values (task_id, field_id, field_type, raw_value, value,"
                " value_text, value_number, value_date, value_bool, value_ids, value_labels, source)"
                " VALUES (%s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (task_id, field_id) DO UPDATE SET field_type = excluded.field_type,"
                " raw_value = excluded.raw_value, value = excluded.value, value_text = excluded.value_text,"
                " value_number = excluded.value_number, value_date = excluded.value_date,"
                " value_bool = excluded.value_bool, value_ids = excluded.value_ids,"
                " value_labels = excluded.value_labels, source = excluded.source, updated_at = now()"
            ).format(self._s),
            params,
        )
