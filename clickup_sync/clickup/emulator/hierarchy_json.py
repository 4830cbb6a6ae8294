"""JSON of the workspace around the tasks: team, user, spaces, folders, lists, tags, time in status
(reference §8.1-§8.5).
"""

from __future__ import annotations

import time
from typing import Any

from clickup_sync.clickup.emulator.model import Folder, Space, Status, Task, TaskList, User
from clickup_sync.clickup.emulator.state import WorkspaceState

_SPACE_FEATURES: dict[str, Any] = {
    "due_dates": {
        "enabled": True,
        "start_date": True,
        "remap_due_dates": False,
        "remap_closed_due_date": False,
    },
    "time_tracking": {"enabled": True},
    "tags": {"enabled": True},
    "time_estimates": {"enabled": True},
    "checklists": {"enabled": True},
    "custom_fields": {"enabled": True},
    "remap_dependencies": {"enabled": False},
    "dependency_warning": {"enabled": True},
    "portfolios": {"enabled": False},
}


def member_json(user: User) -> dict[str, Any]:
    return {
        "user": {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "color": user.color,
            "profilePicture": user.profile_picture,
            "initials": user.initials,
            "role": user.role,
        }
    }


def teams_json(state: WorkspaceState) -> dict[str, Any]:
    team = state.team
    return {
        "teams": [
            {
                "id": team.id,
                "name": team.name,
                "color": team.color,
                "avatar": team.avatar,
                "members": [member_json(user) for user in state.users.values()],
            }
        ]
    }


def authorized_user_json(user: User) -> dict[str, Any]:
    return {
        "user": {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "color": user.color,
            "profilePicture": user.profile_picture,
            "initials": user.initials,
            "week_start_day": 0,
            "global_font_support": False,
            "timezone": user.timezone,
        }
    }


def _space_status_json(status: Status) -> dict[str, Any]:
    return {
        "status": status.status,
        "type": status.type,
        "orderindex": status.orderindex,
        "color": status.color,
    }


def space_json(state: WorkspaceState, space: Space) -> dict[str, Any]:
    return {
        "id": space.id,
        "name": space.name,
        "private": space.private,
        "color": space.color,
        "avatar": None,
        "admin_can_manage": True,
        "archived": space.archived,
        "members": [member_json(user) for user in state.users.values()],
        "statuses": [_space_status_json(status) for status in space.statuses],
        "multiple_assignees": space.multiple_assignees,
        "features": _SPACE_FEATURES,
    }


def _folder_ref(folder: Folder) -> dict[str, Any]:
    return {"id": folder.id, "name": folder.name, "hidden": folder.hidden, "access": True}


def _space_ref(space: Space) -> dict[str, Any]:
    return {"id": space.id, "name": space.name, "access": True}


def list_json(state: WorkspaceState, task_list: TaskList) -> dict[str, Any]:
    """A list as `GET /folder/{id}/list` and `GET /space/{id}/list` show it (reference §8.4)."""
    return {
        "id": task_list.id,
        "name": task_list.name,
        "orderindex": task_list.orderindex,
        "content": task_list.content,
        "status": None,
        "priority": None,
        "assignee": None,
        "task_count": len(state.task_ids_in_list(task_list.id)),
        "due_date": None if task_list.due_date is None else str(task_list.due_date),
        "start_date": None if task_list.start_date is None else str(task_list.start_date),
        "folder": _folder_ref(state.folders[task_list.folder_id]),
        "space": _space_ref(state.spaces[task_list.space_id]),
        "archived": task_list.archived,
        "override_statuses": task_list.statuses is not None,
        "permission_level": "create",
    }


def list_detail_json(state: WorkspaceState, task_list: TaskList) -> dict[str, Any]:
    """`GET /list/{id}` adds time flags, the inbound address and the statuses (reference §8.4)."""
    data = list_json(state, task_list)
    data |= {
        "due_date_time": False,
        "start_date_time": False,
        "inbound_address": f"a{state.team.id}.l{task_list.id}.emulator@tasks.clickup.com",
        "statuses": [
            {"id": s.id, "status": s.status, "orderindex": s.orderindex, "color": s.color, "type": s.type}
            for s in state.statuses_of_list(task_list)
        ],
    }
    return data


def folder_json(state: WorkspaceState, folder: Folder, lists: list[TaskList]) -> dict[str, Any]:
    task_count = sum(len(state.task_ids_in_list(task_list.id)) for task_list in lists)
    return {
        "id": folder.id,
        "name": folder.name,
        "orderindex": folder.orderindex,
        "override_statuses": folder.override_statuses,
        "hidden": folder.hidden,
        "archived": folder.archived,
        "space": _space_ref(state.spaces[folder.space_id]),
        "task_count": str(task_count),  # a string here (reference §8.3)
        "lists": [list_json(state, task_list) for task_list in lists],
    }


def space_tags_json(space: Space) -> dict[str, Any]:
    return {"tags": [{"name": t.name, "tag_fg": t.tag_fg, "tag_bg": t.tag_bg} for t in space.tags]}


def time_in_status_json(state: WorkspaceState, task: Task) -> dict[str, Any]:
    """Reference §8.5: minutes spent per status; `since` is when the status was last entered."""
    now = max(int(time.time() * 1000), task.date_updated)
    statuses = {s.status: s for s in state.statuses_of_list(state.lists[task.list_id])}
    totals: dict[str, int] = {}
    last_entered: dict[str, int] = {}
    history = task.status_history or [(task.status, task.date_created)]
    for index, (name, entered) in enumerate(history):
        left = history[index + 1][1] if index + 1 < len(history) else now
        totals[name] = totals.get(name, 0) + max(0, left - entered)
        last_entered[name] = entered

    def entry(name: str) -> dict[str, Any]:
        status = statuses.get(name)
        return {
            "status": name,
            "color": status.color if status else "#d3d3d3",
            "type": status.type if status else "custom",
            "total_time": {"by_minute": totals[name] // 60_000, "since": str(last_entered[name])},
            "orderindex": status.orderindex if status else 0,
        }

    current = entry(history[-1][0])
    return {
        "current_status": {
            "status": current["status"],
            "color": current["color"],
            "total_time": current["total_time"],
        },
        "status_history": sorted((entry(name) for name in totals), key=lambda item: item["orderindex"]),
    }
