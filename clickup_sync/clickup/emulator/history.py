"""Webhook `history_items`, shaped as reference §7.4 / §7.6 show them (same keys, same key order).

    {"id", "type", "date", "field", "parent_id", "data", "source", "user", "before", "after", <extras>}

`id` is a 19-digit numeric string, `date` an ms string, `user.id` an int, `parent_id` the task's
(new) list id. Items made by one `HistoryRecorder` share one `date`, as the two items of a
taskCreated do in the docs.
"""

from __future__ import annotations

import json
from typing import Any

from clickup_sync.clickup.emulator.field_json import webhook_definition_json, webhook_value
from clickup_sync.clickup.emulator.model import FieldDefinition, Status, Tag, Task, User
from clickup_sync.clickup.emulator.state import WorkspaceState
from clickup_sync.clickup.emulator.task_json import PRIORITIES, tag_json

_OMIT = object()  # marks a `before` key the docs leave out (assignee_add)

# On creation the "before" status is this placeholder (reference §7.6 taskCreated).
CREATION_STATUS_BEFORE: dict[str, Any] = {
    "status": None,
    "color": "#000000",
    "type": "removed",
    "orderindex": -1,
}


def history_user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "color": user.color,
        "initials": user.initials,
        "profilePicture": user.profile_picture,
    }


def history_status_json(status: Status) -> dict[str, Any]:
    return {
        "status": status.status,
        "color": status.color,
        "orderindex": status.orderindex,
        "type": status.type,
    }


def history_priority_json(priority: int | None) -> dict[str, Any] | None:
    if priority is None:
        return None
    name, color = PRIORITIES[priority]
    return {"id": str(priority), "priority": name, "color": color, "orderindex": str(priority)}


def quill_delta(text: str) -> str:
    """Descriptions arrive as a Quill delta JSON string (reference §7.4 `content`)."""
    ops: list[dict[str, Any]] = []
    if text:
        ops.append({"insert": text})
    ops.append({"insert": "\n", "attributes": {"block-id": "block-00000000-0000-4000-8000-000000000000"}})
    return json.dumps({"ops": ops}, ensure_ascii=False, separators=(",", ":"))


def duration_text(milliseconds: int | None) -> str | None:
    """`time_estimate_string`, e.g. "1 hour 30 minutes"."""
    if milliseconds is None:
        return None
    minutes = milliseconds // 60_000
    hours, minutes = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes or not hours:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


class HistoryRecorder:
    """Makes the history items of one change to one task."""

    def __init__(self, state: WorkspaceState, task: Task, actor: User, date: int) -> None:
        self.state = state
        self.task = task
        self.actor = actor
        self.date = date

    def item(
        self,
        field: str,
        before: Any,
        after: Any,
        *,
        data: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": self.state.ids.history_id(),
            "type": 1,  # 1 in every task event (reference §7.4; meaning UNCONFIRMED)
            "date": str(self.date),
            "field": field,
            "parent_id": self.task.list_id,
            "data": data if data is not None else {},
            "source": None,
            "user": history_user_json(self.actor),
        }
        if before is not _OMIT:
            item["before"] = before
        item["after"] = after
        if extra:
            item.update(extra)
        return item

    def status(self, before: Status | None, after: Status) -> dict[str, Any]:
        return self.item(
            "status",
            history_status_json(before) if before is not None else dict(CREATION_STATUS_BEFORE),
            history_status_json(after),
            data={"status_type": after.type},
        )

    def task_creation(self) -> dict[str, Any]:
        return self.item("task_creation", None, None)

    def priority(self, before: int | None, after: int | None) -> dict[str, Any]:
        return self.item("priority", history_priority_json(before), history_priority_json(after))

    def assignee_added(self, user: User) -> dict[str, Any]:
        # The docs' assignee_add item has no `before` key at all (reference §7.6).
        return self.item("assignee_add", _OMIT, history_user_json(user))

    def assignee_removed(self, user: User) -> dict[str, Any]:
        return self.item("assignee_rem", history_user_json(user), None)

    def due_date(
        self, before: int | None, after: int | None, before_time: bool, after_time: bool
    ) -> dict[str, Any]:
        return self.item(
            "due_date",
            None if before is None else str(before),
            None if after is None else str(after),
            data={"due_date_time": after_time, "old_due_date_time": before_time},
        )

    def start_date(self, before: int | None, after: int | None) -> dict[str, Any]:
        return self.item(
            "start_date", None if before is None else str(before), None if after is None else str(after)
        )

    def tag_added(self, tag: Tag) -> dict[str, Any]:
        return self.item("tag", None, [tag_json(tag)])

    def tag_removed(self, tag: Tag) -> dict[str, Any]:
        # UNCONFIRMED shape (reference §7.4): the removed tags in `before`, `after` null.
        return self.item("tag_removed", [tag_json(tag)], None)

    def time_estimate(self, before: int | None, after: int | None) -> dict[str, Any]:
        data = {
            "time_estimate_string": duration_text(after),
            "old_time_estimate_string": duration_text(before),
            "rolled_up_time_estimate": after or 0,
            "time_estimate": after or 0,
            "time_estimates_by_user": [
                {
                    "userid": self.actor.id,
                    "user_time_estimate": str(after or 0),
                    "user_rollup_time_estimate": str(after or 0),
                }
            ],
        }
        return self.item(
            "time_estimate",
            None if before is None else str(before),
            None if after is None else str(after),
            data=data,
        )

    def content(self, description: str) -> dict[str, Any]:
        # The docs' example sends `before: null` even for an edit (reference §7.6).
        return self.item("content", None, quill_delta(description))

    def section_moved(self, before_list_id: str, after_list_id: str) -> dict[str, Any]:
        return self.item(
            "section_moved",
            self._list_ref(before_list_id),
            self._list_ref(after_list_id),
            data={"mute_notifications": True},
        )

    def custom_field(self, definition: FieldDefinition, before: Any, after: Any) -> dict[str, Any]:
        return self.item(
            "custom_field",
            webhook_value(definition, before),
            webhook_value(definition, after),
            extra={"custom_field": webhook_definition_json(definition, self.state.team.id)},
        )

    def plain(self, field: str, before: Any, after: Any) -> dict[str, Any]:
        """name / points / archived items. UNCONFIRMED: no source documents them for tasks."""
        return self.item(field, before, after)

    def _list_ref(self, list_id: str) -> dict[str, Any]:
        # In section_moved, `category` is the folder and `project` the space (reference §7.4).
        task_list = self.state.lists[list_id]
        folder = self.state.folders[task_list.folder_id]
        space = self.state.spaces[task_list.space_id]
        return {
            "id": task_list.id,
            "name": task_list.name,
            "category": {"id": folder.id, "name": folder.name, "hidden": folder.hidden},
            "project": {"id": space.id, "name": space.name},
        }
