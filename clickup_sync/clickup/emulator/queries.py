"""Get Tasks / Get Filtered Team Tasks: parse the query, filter, order, page (reference §3.3, §3.4).

Defaults as ClickUp's: 100 tasks a page from page 0, closed tasks and subtasks excluded unless
asked, archived tasks only with `archived=true`. The team endpoint never returns tasks whose list
(or folder) is archived (reference §9.1). Unknown parameters (Airbyte's `page_size`) are ignored.

The matching ids of one query are computed once per workspace version and cached, so paging
through a 20,000-task result costs O(page) per page while nothing changes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from clickup_sync.clickup.emulator import api_errors
from clickup_sync.clickup.emulator.model import Task
from clickup_sync.clickup.emulator.state import WorkspaceState

PAGE_SIZE = 100
ORDER_BY = ("id", "created", "updated", "due_date")
_RANGE_FIELDS = {
    "date_created": "date_created",
    "date_updated": "date_updated",
    "due_date": "due_date",
    "date_done": "date_done",
}
_CACHE_SIZE = 16


class QueryParamsLike(Protocol):
    """Starlette's `QueryParams` has this shape."""

    def get(self, key: str, /) -> str | None: ...

    def getlist(self, key: str) -> list[str]: ...


@dataclass(frozen=True)
class TaskQuery:
    page: int = 0
    order_by: str = "created"
    reverse: bool = False
    subtasks: bool = False
    include_closed: bool = False
    archived: bool = False
    include_markdown: bool = False
    parent: str | None = None
    statuses: frozenset[str] = field(default_factory=frozenset)
    assignees: frozenset[int] = field(default_factory=frozenset)
    watchers: frozenset[int] = field(default_factory=frozenset)
    tags: frozenset[str] = field(default_factory=frozenset)
    space_ids: frozenset[str] = field(default_factory=frozenset)
    project_ids: frozenset[str] = field(default_factory=frozenset)
    list_ids: frozenset[str] = field(default_factory=frozenset)
    custom_items: frozenset[int] = field(default_factory=frozenset)
    ranges: tuple[tuple[str, str, int], ...] = ()  # (task attribute, "gt" | "lt", ms)


def parse_bool(value: str | None) -> bool:
    return value is not None and value.strip().lower() in {"true", "1", "yes"}


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise api_errors.bad_request(f"{name} must be an integer", "INPUT_003") from None


def _array(params: QueryParamsLike, name: str) -> list[str]:
    # ClickUp spells arrays `name[]=a&name[]=b`; accept the bare name too.
    return [*params.getlist(f"{name}[]"), *params.getlist(name)]


def parse_task_query(params: QueryParamsLike) -> TaskQuery:
    page_text = params.get("page")
    page = _int(page_text, "page") if page_text not in (None, "") else 0
    order_by = params.get("order_by") or "created"
    if order_by not in ORDER_BY:
        raise api_errors.bad_request("order_by must be one of id, created, updated, due_date", "INPUT_003")
    ranges = []
    for prefix, attribute in _RANGE_FIELDS.items():
        for side in ("gt", "lt"):
            value = params.get(f"{prefix}_{side}")
            if value not in (None, ""):
                ranges.append((attribute, side, _int(value, f"{prefix}_{side}")))
    return TaskQuery(
        page=max(page, 0),
        order_by=order_by,
        reverse=parse_bool(params.get("reverse")),
        subtasks=parse_bool(params.get("subtasks")),
        include_closed=parse_bool(params.get("include_closed")),
        archived=parse_bool(params.get("archived")),
        include_markdown=parse_bool(params.get("include_markdown_description")),
        parent=params.get("parent") or None,
        statuses=frozenset(status.lower() for status in _array(params, "statuses")),
        assignees=frozenset(_int(user, "assignees") for user in _array(params, "assignees")),
        watchers=frozenset(_int(user, "watchers") for user in _array(params, "watchers")),
        tags=frozenset(tag.lower() for tag in _array(params, "tags")),
        space_ids=frozenset(_array(params, "space_ids")),
        project_ids=frozenset(_array(params, "project_ids")),
        list_ids=frozenset(_array(params, "list_ids")),
        custom_items=frozenset(_int(item, "custom_items") for item in _array(params, "custom_items")),
        ranges=tuple(ranges),
    )


def _matcher(state: WorkspaceState, query: TaskQuery, team_scope: bool) -> Callable[[Task], bool]:
    closed_by_list: dict[str, frozenset[str]] = {}

    def closed_statuses(list_id: str) -> frozenset[str]:
        found = closed_by_list.get(list_id)
        if found is None:
            statuses = state.statuses_of_list(state.lists[list_id])
            found = closed_by_list[list_id] = frozenset(s.status for s in statuses if s.is_closed)
        return found

    def matches(task: Task) -> bool:
        if task.archived != query.archived:
            return False
        if query.parent is not None:
            if task.parent_id != query.parent:
                return False
        elif task.parent_id is not None and not query.subtasks:
            return False
        if not query.include_closed and task.status in closed_statuses(task.list_id):
            return False
        if query.statuses and task.status.lower() not in query.statuses:
            return False
        if query.assignees and query.assignees.isdisjoint(task.assignee_ids):
            return False
        if query.watchers and query.watchers.isdisjoint(task.watcher_ids):
            return False
        if query.tags and query.tags.isdisjoint(name.lower() for name in task.tag_names):
            return False
        if query.custom_items and task.custom_item_id not in query.custom_items:
            return False
        # Strict bounds; whether ClickUp's date_updated_gt is inclusive is UNCONFIRMED (reference §4.2).
        for attribute, side, bound in query.ranges:
            value = getattr(task, attribute)
            if value is None or (value <= bound if side == "gt" else value >= bound):
                return False
        if team_scope:
            task_list = state.lists[task.list_id]
            # Tasks of archived lists are missing from the team endpoint (reference §9.1).
            if task_list.archived or state.folders[task_list.folder_id].archived:
                return False
            if query.list_ids and task_list.id not in query.list_ids:
                return False
            if query.project_ids and task_list.folder_id not in query.project_ids:
                return False
            if query.space_ids and task_list.space_id not in query.space_ids:
                return False
        return True

    return matches


def _sort_key(order_by: str) -> Callable[[Task], tuple[int, str]]:
    if order_by == "updated":
        return lambda task: (task.date_updated, task.id)
    if order_by == "due_date":
        return lambda task: (task.due_date if task.due_date is not None else -1, task.id)
    if order_by == "id":
        return lambda task: (0, task.id)
    return lambda task: (task.date_created, task.id)


class TaskQueryCache:
    """Matching ids per (scope, query without page), valid for one workspace version."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[object, ...], list[str]] = OrderedDict()

    def matching_ids(
        self, state: WorkspaceState, scope: tuple[str, ...], candidates: list[str], query: TaskQuery
    ) -> list[str]:
        key = (state.version, scope, replace(query, page=0, include_markdown=False))
        cached = self._entries.get(key)
        if cached is not None:
            self._entries.move_to_end(key)
            return cached
        matches = _matcher(state, query, team_scope=scope[0] == "team")
        tasks = [task for task in map(state.tasks.__getitem__, candidates) if matches(task)]
        if query.order_by != "created":  # candidates already come in creation order
            tasks.sort(key=_sort_key(query.order_by))
        # UNCONFIRMED direction: newest first by default, `reverse=true` for oldest first.
        ids = [task.id for task in tasks] if query.reverse else [task.id for task in reversed(tasks)]
        self._entries[key] = ids
        while len(self._entries) > _CACHE_SIZE:
            self._entries.popitem(last=False)
        return ids


def page_of(ids: list[str], page: int) -> tuple[list[str], bool]:
    """The ids on `page` and whether it is the last page."""
    start = page * PAGE_SIZE
    return ids[start : start + PAGE_SIZE], start + PAGE_SIZE >= len(ids)
