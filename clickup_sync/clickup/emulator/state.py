"""The workspace's state and its indexes, with the lookups every other module needs.

No locking here: `Workspace` (workspace.py) owns the lock and is the only public entry point.
Indexes are kept so a page of tasks costs O(page) once the candidate ids are known: tasks by home
list and the global creation order, both sorted by (date_created, id).
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clickup_sync.clickup.emulator import api_errors
from clickup_sync.clickup.emulator.identifiers import IdFactory
from clickup_sync.clickup.emulator.model import (
    FieldDefinition,
    Folder,
    Space,
    Status,
    Task,
    TaskList,
    Team,
    User,
)

if TYPE_CHECKING:
    from clickup_sync.clickup.emulator.webhooks import WebhookSubscription

EVENT_LOG_SIZE = 20_000


class MonotonicClock:
    """Epoch ms that never repeat and never go back, so `date_updated` strictly increases.

    Starts no earlier than `floor_ms` (the newest generated timestamp) even if the wall clock is
    behind it; under a burst of changes it runs ahead of the wall clock by at most the burst size.
    """

    def __init__(self, floor_ms: int, wall_seconds: Callable[[], float] = time.time) -> None:
        self._last = floor_ms
        self._wall_seconds = wall_seconds

    def now_ms(self) -> int:
        self._last = max(int(self._wall_seconds() * 1000), self._last + 1)
        return self._last


@dataclass(frozen=True)
class RecordedEvent:
    """One webhook event as the workspace produced it, before any subscription filtering."""

    event: str
    task_id: str
    history_items: tuple[dict[str, Any], ...]
    list_id: str  # the task's home list when the event happened (destination list for moves)


def _creation_key(task: Task) -> tuple[int, str]:
    return (task.date_created, task.id)


class WorkspaceState:
    def __init__(self, *, team: Team, seed: int, ids: IdFactory, clock: MonotonicClock) -> None:
        self.team = team
        self.seed = seed
        self.ids = ids
        self.clock = clock
        self.users: dict[int, User] = {}
        self.spaces: dict[str, Space] = {}
        self.folders: dict[str, Folder] = {}
        self.lists: dict[str, TaskList] = {}
        self.fields: dict[str, FieldDefinition] = {}
        self.tasks: dict[str, Task] = {}  # deleted tasks stay here with `deleted=True`
        self.webhooks: dict[str, WebhookSubscription] = {}
        self.event_log: deque[RecordedEvent] = deque(maxlen=EVENT_LOG_SIZE)
        self.version = 0  # bumped by every mutation; query caches key on it
        self._tasks_by_list: dict[str, list[str]] = {}
        self._task_order: list[str] = []
        self._children: dict[str, list[str]] = {}
        self._custom_ids: dict[str, str] = {}
        self._fields_by_list: dict[str, list[FieldDefinition]] = {}
        # field id -> its JSON without value, split around where value goes (task_encoding.py)
        self.encoded_field_parts: dict[str, tuple[str, str]] = {}
        # task id -> (version, its encoded custom field array), valid while `version` is unchanged
        self.encoded_custom_fields: dict[str, tuple[int, str]] = {}

    # ----------------------------------------------------------------- users
    @property
    def owner(self) -> User:
        return next(user for user in self.users.values() if user.role == 1)

    def user_or_none(self, user_id: int) -> User | None:
        return self.users.get(user_id)

    # ------------------------------------------------------------- hierarchy
    def space(self, space_id: str) -> Space:
        space = self.spaces.get(space_id)
        if space is None:
            raise api_errors.not_found("Space")
        return space

    def folder(self, folder_id: str) -> Folder:
        folder = self.folders.get(folder_id)
        if folder is None or folder.hidden:
            raise api_errors.not_found("Folder")
        return folder

    def task_list(self, list_id: str) -> TaskList:
        task_list = self.lists.get(list_id)
        if task_list is None:
            raise api_errors.not_found("List")
        return task_list

    def statuses_of_list(self, task_list: TaskList) -> list[Status]:
        if task_list.statuses is not None:
            return task_list.statuses
        return self.spaces[task_list.space_id].statuses

    def status_of(self, task: Task) -> Status:
        statuses = self.statuses_of_list(self.lists[task.list_id])
        for status in statuses:
            if status.status == task.status:
                return status
        return statuses[0]

    def find_status(self, task_list: TaskList, name: str) -> Status | None:
        wanted = name.lower()
        return next((s for s in self.statuses_of_list(task_list) if s.status.lower() == wanted), None)

    def fields_for_list(self, list_id: str) -> list[FieldDefinition]:
        """Fields usable in a list: workspace, space, folder and list level, in that order."""
        cached = self._fields_by_list.get(list_id)
        if cached is not None:
            return cached
        task_list = self.lists[list_id]
        scopes = {
            ("team", self.team.id),
            ("space", task_list.space_id),
            ("folder", task_list.folder_id),
            ("list", task_list.id),
        }
        rank = {"team": 0, "space": 1, "folder": 2, "list": 3}
        fields = [f for f in self.fields.values() if (f.scope, f.scope_id) in scopes]
        fields.sort(key=lambda f: rank[f.scope])
        self._fields_by_list[list_id] = fields
        return fields

    def fields_at(self, scope: str, scope_id: str) -> list[FieldDefinition]:
        return [f for f in self.fields.values() if f.scope == scope and f.scope_id == scope_id]

    def add_field(self, definition: FieldDefinition) -> None:
        self.fields[definition.id] = definition
        self._fields_by_list.clear()
        self.version += 1  # every task of the lists it applies to shows one more field

    # ----------------------------------------------------------------- tasks
    def live_task(self, task_id: str) -> Task:
        task = self.tasks.get(task_id)
        if task is None or task.deleted:
            raise api_errors.task_not_found()
        return task

    def task_by_custom_id(self, custom_id: str) -> Task:
        task_id = self._custom_ids.get(custom_id)
        if task_id is None:
            raise api_errors.task_not_found()
        return self.live_task(task_id)

    def task_ids_in_list(self, list_id: str) -> list[str]:
        """Live tasks whose home list is `list_id`, oldest first. Do not mutate."""
        return self._tasks_by_list.get(list_id, [])

    def all_task_ids(self) -> list[str]:
        """Every live task, oldest first. Do not mutate."""
        return self._task_order

    def children_of(self, task_id: str) -> list[str]:
        return self._children.get(task_id, [])

    def descendants_of(self, task_id: str) -> list[str]:
        """All subtasks below `task_id`, depth first, in creation order."""
        found: list[str] = []
        for child_id in self.children_of(task_id):
            found.append(child_id)
            found.extend(self.descendants_of(child_id))
        return found

    def index_task(self, task: Task) -> None:
        """Register a new (or re-homed) task in every index."""
        self.tasks[task.id] = task
        self._insert_sorted(self._tasks_by_list.setdefault(task.list_id, []), task)
        self._insert_sorted(self._task_order, task)
        if task.parent_id is not None:
            self._insert_sorted(self._children.setdefault(task.parent_id, []), task)
        if task.custom_id is not None:
            self._custom_ids[task.custom_id] = task.id

    def unindex_task(self, task: Task) -> None:
        self._tasks_by_list.get(task.list_id, []).remove(task.id)
        self._task_order.remove(task.id)
        if task.parent_id is not None:
            self._children.get(task.parent_id, []).remove(task.id)
        if task.custom_id is not None:
            self._custom_ids.pop(task.custom_id, None)

    def rehome_task(self, task: Task, new_list_id: str) -> None:
        self._tasks_by_list[task.list_id].remove(task.id)
        task.list_id = new_list_id
        self._insert_sorted(self._tasks_by_list.setdefault(new_list_id, []), task)

    def reparent_task(self, task: Task, new_parent_id: str) -> None:
        if task.parent_id is not None:
            self._children[task.parent_id].remove(task.id)
        task.parent_id = new_parent_id
        self._insert_sorted(self._children.setdefault(new_parent_id, []), task)

    def sort_indexes(self) -> None:
        """Used once by the generator, which indexes tasks in arbitrary order."""
        for ids in (*self._tasks_by_list.values(), self._task_order, *self._children.values()):
            ids.sort(key=lambda task_id: _creation_key(self.tasks[task_id]))

    def append_unsorted(self, task: Task) -> None:
        """Fast path for the generator: index without keeping order (call `sort_indexes` after)."""
        self.tasks[task.id] = task
        self._tasks_by_list.setdefault(task.list_id, []).append(task.id)
        self._task_order.append(task.id)
        if task.parent_id is not None:
            self._children.setdefault(task.parent_id, []).append(task.id)
        if task.custom_id is not None:
            self._custom_ids[task.custom_id] = task.id

    def _insert_sorted(self, ids: list[str], task: Task) -> None:
        key = _creation_key(task)
        position = bisect.bisect_left(ids, key, key=lambda task_id: _creation_key(self.tasks[task_id]))
        ids.insert(position, task.id)

    # --------------------------------------------------------------- changes
    def touch(self, task: Task) -> int:
        """Stamp a change on the task: `date_updated` moves strictly forward. Returns the stamp."""
        now = max(self.clock.now_ms(), task.date_updated + 1)
        task.date_updated = now
        self.version += 1
        return now

    def record(self, events: Iterable[RecordedEvent]) -> None:
        self.event_log.extend(events)
