"""What Airbyte's ClickUp connector would read from the emulator's workspace, as `task` records for
the destination simulator — so the demo (and anyone trying the service) sees Airbyte's table filled
and rewritten the way a real connection does it.

The lists the connector walks are the non-archived lists of non-archived folders of non-archived
spaces (`space/{id}/folder`, `folder/{id}/list`, ClickUp's default archived=false; airbyte.md §1.3).
Each list's tasks come in `GET /list/{id}/task`'s default order (the emulator's: newest
`date_created` first, UNCONFIRMED for ClickUp); `records_like_airbyte` then keeps what the connector
keeps (top-level, unarchived, open tasks, the first page of 100).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from clickup_sync.airbyte.simulator import ListWithTasks, records_like_airbyte


def airbyte_records_from_ground_truth(
    truth: Mapping[str, Any], *, include_closed: bool = False
) -> list[dict[str, Any]]:
    """`truth` is the emulator's `Workspace.ground_truth()` (or `GET /_emulator/state`);
    `include_closed` is the connection's `include_closed_tasks` (off by default)."""
    archived_spaces = {space["id"] for space in truth.get("spaces", []) if space.get("archived")}
    archived_folders = {
        folder["id"]
        for folder in truth.get("folders", [])
        if folder.get("archived") or folder.get("space_id") in archived_spaces
    }
    by_list: defaultdict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for task in truth["tasks"].values():
        by_list[str(task["list"]["id"])].append(task)
    lists = []
    for task_list in truth["lists"]:
        folder = task_list.get("folder") or {}
        if (
            task_list.get("archived")
            or folder.get("id") in archived_folders
            or task_list.get("space_id") in archived_spaces
        ):
            continue
        tasks = sorted(by_list.get(task_list["id"], []), key=_default_order, reverse=True)
        lists.append(ListWithTasks(task_list["id"], folder_hidden=bool(folder.get("hidden")), tasks=tasks))
    return records_like_airbyte(lists, include_closed=include_closed)


def _default_order(task: Mapping[str, Any]) -> tuple[int, bytes]:
    return int(task.get("date_created") or 0), str(task["id"]).encode()
