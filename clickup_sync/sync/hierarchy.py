"""Walk the workspace hierarchy: spaces → folders → lists, folderless and archived lists included.

Airbyte reads only lists inside folders (reference/airbyte.md §1.3); the team task endpoint misses
tasks that live in archived lists (reference/clickup-api.md §9.1). The walk finds every list so
that the backfill can cover both gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class HierarchyClient(Protocol):
    async def get_spaces(self, team_id: str, *, archived: bool) -> list[dict[str, Any]]: ...
    async def get_folders(self, space_id: str, *, archived: bool) -> list[dict[str, Any]]: ...
    async def get_folder_lists(self, folder_id: str, *, archived: bool) -> list[dict[str, Any]]: ...
    async def get_folderless_lists(self, space_id: str, *, archived: bool) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class ListInfo:
    list_id: str
    name: str
    space_id: str
    folder_id: str | None  # None for a folderless list
    archived: bool


@dataclass
class Hierarchy:
    space_ids: list[str] = field(default_factory=list)
    lists: dict[str, ListInfo] = field(default_factory=dict)

    @property
    def archived_lists(self) -> list[ListInfo]:
        return [info for info in self.lists.values() if info.archived]


async def walk_hierarchy(
    client: HierarchyClient, team_id: str, *, space_ids: list[str] | None = None
) -> Hierarchy:
    """Every space (or the chosen ones), folder and list, active and archived."""
    hierarchy = Hierarchy()
    spaces: dict[str, dict[str, Any]] = {}
    for archived in (False, True):
        for space in await client.get_spaces(team_id, archived=archived):
            spaces.setdefault(str(space["id"]), space)
    wanted = [s for s in spaces if space_ids is None or s in space_ids]
    hierarchy.space_ids = wanted
    for space_id in wanted:
        space_archived = bool(spaces[space_id].get("archived"))
        folders: dict[str, dict[str, Any]] = {}
        for archived in (False, True):
            for folder in await client.get_folders(space_id, archived=archived):
                folders.setdefault(str(folder["id"]), folder)
            for item in await client.get_folderless_lists(space_id, archived=archived):
                _add_list(hierarchy, item, space_id, None, archived or space_archived)
        for folder_id, folder in folders.items():
            folder_archived = space_archived or bool(folder.get("archived"))
            for archived in (False, True):
                for item in await client.get_folder_lists(folder_id, archived=archived):
                    _add_list(hierarchy, item, space_id, folder_id, archived or folder_archived)
    return hierarchy


def _add_list(
    hierarchy: Hierarchy, item: dict[str, Any], space_id: str, folder_id: str | None, archived: bool
) -> None:
    list_id = str(item["id"])
    if list_id in hierarchy.lists:
        return
    hierarchy.lists[list_id] = ListInfo(
        list_id=list_id,
        name=str(item.get("name") or ""),
        space_id=space_id,
        folder_id=folder_id,
        archived=archived or bool(item.get("archived")),
    )
