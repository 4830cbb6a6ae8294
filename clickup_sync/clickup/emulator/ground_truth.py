"""The emulator's whole current state, for tests that compare a mirror with the truth.

{"team": {...}, "users": [...],
 "spaces": [space JSON],                      archived ones included
 "folders": [folder JSON + "space_id"],       archived ones included, hidden ones not
 "lists": [list JSON + "folder_id", "space_id", "folderless"],   archived ones included
 "fields": [definition JSON + "scope", "scope_id"],
 "tasks": {task id: Get Task JSON},           every live task: closed, archived, subtasks,
                                              tasks in archived lists
 "deleted_task_ids": [...],
 "webhooks": [webhook JSON with health],
 "version": n}                                grows with every change
"""

from __future__ import annotations

from typing import Any

from clickup_sync.clickup.emulator.field_json import definition_json
from clickup_sync.clickup.emulator.hierarchy_json import folder_json, list_json, member_json, space_json
from clickup_sync.clickup.emulator.state import WorkspaceState
from clickup_sync.clickup.emulator.task_encoding import dumps, encode_task
from clickup_sync.clickup.emulator.webhook_registry import webhook_json

_TASKS_PLACEHOLDER = "\x00ground-truth-tasks\x00"


def encode_ground_truth(state: WorkspaceState) -> bytes:
    """The ground truth as compact UTF-8 JSON; tasks are encoded exactly as Get Task sends them."""
    # Built as one list of pieces joined once: at 20,000 tasks this is ~170 MB of JSON.
    before, after = dumps(_everything_but_tasks(state)).split(dumps(_TASKS_PLACEHOLDER), 1)
    pieces = [before, "{"]
    for index, task_id in enumerate(state.all_task_ids()):
        if index:
            pieces.append(",")
        pieces += (dumps(task_id), ":", encode_task(state, state.tasks[task_id], single=True))
    pieces += ("}", after)
    return "".join(pieces).encode()


def _everything_but_tasks(state: WorkspaceState) -> dict[str, Any]:
    folders = []
    for folder in state.folders.values():
        if folder.hidden:
            continue
        in_folder = [t for t in state.lists.values() if t.folder_id == folder.id and not t.archived]
        folders.append({**folder_json(state, folder, in_folder), "space_id": folder.space_id})
    lists = []
    for task_list in state.lists.values():
        folderless = state.folders[task_list.folder_id].hidden
        lists.append(
            {
                **list_json(state, task_list),
                "folder_id": task_list.folder_id,
                "space_id": task_list.space_id,
                "folderless": folderless,
            }
        )
    return {
        "team": {"id": state.team.id, "name": state.team.name},
        "users": [member_json(user)["user"] for user in state.users.values()],
        "spaces": [space_json(state, space) for space in state.spaces.values()],
        "folders": folders,
        "lists": lists,
        "fields": [
            {**definition_json(f), "scope": f.scope, "scope_id": f.scope_id} for f in state.fields.values()
        ],
        "tasks": _TASKS_PLACEHOLDER,
        "deleted_task_ids": [task.id for task in state.tasks.values() if task.deleted],
        "webhooks": [webhook_json(subscription) for subscription in state.webhooks.values()],
        "version": state.version,
    }
