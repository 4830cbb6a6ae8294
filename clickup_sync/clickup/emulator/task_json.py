"""A task exactly as ClickUp serialises it (reference §3.1, §3.2, §3.3), plus the small shared
objects (users, statuses, priorities, tags).

Quirks kept on purpose: dates are strings of epoch ms; `time_spent` is a number but `time_estimate`
a string; `priority` has string ids; `project` repeats `folder`; folderless lists sit in a hidden
folder; unset custom fields have no `value` key.
"""

from __future__ import annotations

from typing import Any

from clickup_sync.clickup.emulator.field_json import attachment_json, read_value
from clickup_sync.clickup.emulator.model import Dependency, Link, Status, Tag, Task, User
from clickup_sync.clickup.emulator.state import WorkspaceState

PRIORITIES: dict[int, tuple[str, str]] = {
    1: ("urgent", "#f50000"),
    2: ("high", "#f8ae00"),
    3: ("normal", "#6fddff"),
    4: ("low", "#d8d8d8"),
}

_SHARING: dict[str, Any] = {
    "public": False,
    "public_share_expires_on": None,
    "public_fields": [
        "assignees",
        "priority",
        "due_date",
        "content",
        "comments",
        "attachments",
        "customFields",
        "subtasks",
        "tags",
        "checklists",
        "coverimage",
    ],
    "token": None,
    "seo_optimized": False,
}

# Subtask objects carry only these keys (reference §3.1 `subtasks` schema).
_SUBTASK_KEYS = (
    "id",
    "custom_item_id",
    "name",
    "status",
    "orderindex",
    "date_created",
    "date_updated",
    "date_closed",
    "date_done",
    "archived",
    "creator",
    "assignees",
    "group_assignees",
    "watchers",
    "checklists",
    "tags",
    "parent",
    "top_level_parent",
    "due_date",
    "start_date",
    "points",
    "time_estimate",
    "time_spent",
    "custom_fields",
    "dependencies",
    "linked_tasks",
    "locations",
    "url",
)


def ms(value: int | None) -> str | None:
    return None if value is None else str(value)


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "color": user.color,
        "initials": user.initials,
        "email": user.email,
        "profilePicture": user.profile_picture,
    }


def creator_json(user: User) -> dict[str, Any]:
    # `creator` has no `initials` (reference §3.2).
    return {
        "id": user.id,
        "username": user.username,
        "color": user.color,
        "email": user.email,
        "profilePicture": user.profile_picture,
    }


def status_json(status: Status) -> dict[str, Any]:
    return {
        "id": status.id,
        "status": status.status,
        "color": status.color,
        "orderindex": status.orderindex,
        "type": status.type,
    }


def priority_json(priority: int | None) -> dict[str, Any] | None:
    if priority is None:
        return None
    name, color = PRIORITIES[priority]
    return {"color": color, "id": str(priority), "orderindex": str(priority), "priority": name}


def tag_json(tag: Tag) -> dict[str, Any]:
    return {"name": tag.name, "tag_fg": tag.tag_fg, "tag_bg": tag.tag_bg, "creator": tag.creator}


def dependency_json(dependency: Dependency, team_id: str) -> dict[str, Any]:
    return {
        "task_id": dependency.task_id,
        "depends_on": dependency.depends_on,
        "type": dependency.type,
        "date_created": str(dependency.date_created),
        "userid": str(dependency.userid),  # a string here, unlike user objects (reference §2)
        "workspace_id": team_id,
        "chain_id": None,
    }


def link_json(link: Link, team_id: str) -> dict[str, Any]:
    return {
        "task_id": link.task_id,
        "link_id": link.link_id,
        "date_created": str(link.date_created),
        "userid": str(link.userid),
        "workspace_id": team_id,
    }


def task_tags_json(state: WorkspaceState, task: Task) -> list[dict[str, Any]]:
    space_tags = {tag.name: tag for tag in state.spaces[state.lists[task.list_id].space_id].tags}
    return [tag_json(space_tags[name]) for name in task.tag_names if name in space_tags]


def custom_fields_json(state: WorkspaceState, task: Task) -> list[dict[str, Any]]:
    entries = []
    for definition in state.fields_for_list(task.list_id):
        entry: dict[str, Any] = {
            "id": definition.id,
            "name": definition.name,
            "type": definition.type,
            "type_config": definition.type_config,
            "date_created": str(definition.date_created),
            "hide_from_guests": definition.hide_from_guests,
        }
        value = task.custom_values.get(definition.id)
        if value is None and definition.type == "automatic_progress":
            value = 0  # computed by ClickUp, so always present ({"percent_complete": 0})
        if value is not None:
            entry["value"] = read_value(state, definition, value, task.id)
            entry["value_richtext"] = None
        entry["required"] = definition.required
        entries.append(entry)
    return entries


def task_json(
    state: WorkspaceState,
    task: Task,
    *,
    single: bool = False,
    include_subtasks: bool = False,
    include_markdown: bool = False,
    custom_fields: Any = None,
) -> dict[str, Any]:
    """The task as Get Task (`single=True`) or a Get Tasks page item (`single=False`) returns it.

    `custom_fields`, when given, stands in for the custom field array (task_encoding.py splices the
    pre-encoded array in its place).
    """
    users = state.users
    task_list = state.lists[task.list_id]
    folder = state.folders[task_list.folder_id]
    folder_ref = {"id": folder.id, "name": folder.name, "hidden": folder.hidden, "access": True}
    data: dict[str, Any] = {
        "id": task.id,
        "custom_id": task.custom_id,
        "custom_item_id": task.custom_item_id,
        "name": task.name,
        "text_content": task.description,
        "description": task.description,
    }
    if include_markdown:
        data["markdown_description"] = task.description
    data |= {
        "status": status_json(state.status_of(task)),
        "orderindex": f"{task.orderindex}.00000000000000000000000000000000",
        "date_created": str(task.date_created),
        "date_updated": str(task.date_updated),
        "date_closed": ms(task.date_closed),
        "date_done": ms(task.date_done),
        "archived": task.archived,
        "creator": creator_json(users[task.creator_id]),
        "assignees": [user_json(users[user_id]) for user_id in task.assignee_ids],
        "group_assignees": [],
        "watchers": [user_json(users[user_id]) for user_id in task.watcher_ids],
        "checklists": [],
        "tags": task_tags_json(state, task),
        "parent": task.parent_id,
        "top_level_parent": task.top_level_parent_id,
        "priority": priority_json(task.priority),
        "due_date": ms(task.due_date),
        "start_date": ms(task.start_date),
        "points": task.points,
        "time_estimate": ms(task.time_estimate),  # a string, while time_spent is a number
    }
    if single or task.time_spent is not None:
        # Get Tasks includes time_spent only for tasks with time entries (reference §3.2).
        data["time_spent"] = task.time_spent or 0
    data |= {
        "custom_fields": custom_fields if custom_fields is not None else custom_fields_json(state, task),
        "dependencies": [dependency_json(d, state.team.id) for d in task.dependencies],
        "linked_tasks": [link_json(link, state.team.id) for link in task.links],
        "locations": [],
        "team_id": state.team.id,
        "url": f"https://app.clickup.com/t/{task.id}",
        "sharing": {**_SHARING, "public_fields": list(_SHARING["public_fields"])},
        "permission_level": "create",
        "list": {"id": task_list.id, "name": task_list.name, "access": True},
        "project": folder_ref,  # legacy name of the folder
        "folder": folder_ref,
        "space": {"id": task_list.space_id},
    }
    if single:
        data["attachments"] = [attachment_json(state, a, task.id) for a in task.attachments]
    if include_subtasks:
        data["subtasks"] = [subtask_json(state, state.tasks[child]) for child in state.children_of(task.id)]
    return data


def subtask_json(state: WorkspaceState, task: Task) -> dict[str, Any]:
    # Direct children only: whether ClickUp flattens deeper levels here is UNCONFIRMED (§3.1).
    full = task_json(state, task, single=True)
    return {key: full[key] for key in _SUBTASK_KEYS}
