"""The emulated workspace: one lock around the state, reads that return ClickUp JSON, and the
mutations the HTTP API and the activity simulator share (so both produce history and deliveries).

Every method is safe to call from any thread. Mutations take the request body as ClickUp would
receive it and an optional acting user id (default: the workspace owner, whose token the API uses).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from clickup_sync.clickup.emulator import api_errors
from clickup_sync.clickup.emulator import relation_mutations as relations
from clickup_sync.clickup.emulator import task_mutations as tasks
from clickup_sync.clickup.emulator import webhook_registry as webhooks
from clickup_sync.clickup.emulator.field_json import definition_json
from clickup_sync.clickup.emulator.generator import generate_workspace
from clickup_sync.clickup.emulator.ground_truth import encode_ground_truth
from clickup_sync.clickup.emulator.hierarchy_json import (
    authorized_user_json,
    folder_json,
    list_detail_json,
    list_json,
    space_json,
    space_tags_json,
    teams_json,
    time_in_status_json,
)
from clickup_sync.clickup.emulator.model import Task
from clickup_sync.clickup.emulator.publishing import DeliverySink, TaskChange, publish_change
from clickup_sync.clickup.emulator.queries import TaskQuery, TaskQueryCache, page_of
from clickup_sync.clickup.emulator.state import RecordedEvent, WorkspaceState
from clickup_sync.clickup.emulator.task_encoding import encode_task, encode_task_page
from clickup_sync.clickup.emulator.task_json import task_json
from clickup_sync.clickup.emulator.webhooks import WebhookSubscription

T = TypeVar("T")
BULK_TIME_IN_STATUS_LIMIT = 100


class Workspace:
    def __init__(self, state: WorkspaceState, sink: DeliverySink | None = None) -> None:
        self.state = state
        self.lock = threading.RLock()
        self._sink = sink
        self._query_cache = TaskQueryCache()

    @classmethod
    def generate(cls, seed: int, tasks: int, sink: DeliverySink | None = None) -> Workspace:
        return cls(generate_workspace(seed, tasks), sink)

    def set_sink(self, sink: DeliverySink | None) -> None:
        with self.lock:
            self._sink = sink

    @property
    def team_id(self) -> str:
        return self.state.team.id

    @property
    def owner_id(self) -> int:
        return self.state.owner.id

    def _locked(self, read: Callable[[], T]) -> T:
        with self.lock:
            return read()

    def _publish(self, changes: Iterable[TaskChange]) -> None:
        for change in changes:
            publish_change(self.state, self._sink, change)

    def _check_team(self, team_id: str) -> None:
        if team_id != self.state.team.id:
            raise api_errors.team_not_authorized()

    # ------------------------------------------------------------------ hierarchy reads
    def authorized_user(self) -> dict[str, Any]:
        return self._locked(lambda: authorized_user_json(self.state.owner))

    def teams(self) -> dict[str, Any]:
        return self._locked(lambda: teams_json(self.state))

    def spaces(self, team_id: str, archived: bool = False) -> dict[str, Any]:
        with self.lock:
            self._check_team(team_id)
            found = [s for s in self.state.spaces.values() if s.archived == archived]
            return {"spaces": [space_json(self.state, space) for space in found]}

    def space(self, space_id: str) -> dict[str, Any]:
        return self._locked(lambda: space_json(self.state, self.state.space(space_id)))

    def space_tags(self, space_id: str) -> dict[str, Any]:
        return self._locked(lambda: space_tags_json(self.state.space(space_id)))

    def folders(self, space_id: str, archived: bool = False) -> dict[str, Any]:
        with self.lock:
            space = self.state.space(space_id)
            found = [
                f
                for f in self.state.folders.values()
                if f.space_id == space.id and not f.hidden and f.archived == archived
            ]
            return {"folders": [self._folder_json(folder.id) for folder in found]}

    def folder(self, folder_id: str) -> dict[str, Any]:
        return self._locked(lambda: self._folder_json(self.state.folder(folder_id).id))

    def _folder_json(self, folder_id: str) -> dict[str, Any]:
        lists = [t for t in self.state.lists.values() if t.folder_id == folder_id and not t.archived]
        return folder_json(self.state, self.state.folders[folder_id], lists)

    def folder_lists(self, folder_id: str, archived: bool = False) -> dict[str, Any]:
        with self.lock:
            folder = self.state.folder(folder_id)
            return {"lists": self._lists_in(folder.id, archived)}

    def folderless_lists(self, space_id: str, archived: bool = False) -> dict[str, Any]:
        with self.lock:
            space = self.state.space(space_id)
            return {"lists": self._lists_in(space.hidden_folder_id, archived)}

    def _lists_in(self, folder_id: str, archived: bool) -> list[dict[str, Any]]:
        found = [t for t in self.state.lists.values() if t.folder_id == folder_id and t.archived == archived]
        return [list_json(self.state, task_list) for task_list in found]

    def get_list(self, list_id: str) -> dict[str, Any]:
        return self._locked(lambda: list_detail_json(self.state, self.state.task_list(list_id)))

    # ---------------------------------------------------------------------- field reads
    def list_fields(self, list_id: str) -> dict[str, Any]:
        with self.lock:
            task_list = self.state.task_list(list_id)
            return {"fields": [definition_json(f) for f in self.state.fields_for_list(task_list.id)]}

    def folder_fields(self, folder_id: str) -> dict[str, Any]:
        with self.lock:
            folder = self.state.folder(folder_id)
            return {"fields": [definition_json(f) for f in self.state.fields_at("folder", folder.id)]}

    def space_fields(self, space_id: str) -> dict[str, Any]:
        with self.lock:
            space = self.state.space(space_id)
            return {"fields": [definition_json(f) for f in self.state.fields_at("space", space.id)]}

    def team_fields(self, team_id: str) -> dict[str, Any]:
        with self.lock:
            self._check_team(team_id)
            return {"fields": [definition_json(f) for f in self.state.fields_at("team", team_id)]}

    # ----------------------------------------------------------------------- task reads
    def resolve_task(self, task_id: str, custom_task_ids: bool = False, team_id: str | None = None) -> Task:
        """The live task behind a path id; with `custom_task_ids` the id is a custom id ("DEF-43")."""
        with self.lock:
            if custom_task_ids:
                if team_id is None:
                    raise api_errors.bad_request("team_id is required with custom_task_ids", "ITEM_019")
                self._check_team(team_id)
                return self.state.task_by_custom_id(task_id)
            return self.state.live_task(task_id)

    def get_task(
        self,
        task_id: str,
        *,
        include_subtasks: bool = False,
        include_markdown: bool = False,
        custom_task_ids: bool = False,
        team_id: str | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            task = self.resolve_task(task_id, custom_task_ids, team_id)
            return task_json(
                self.state,
                task,
                single=True,
                include_subtasks=include_subtasks,
                include_markdown=include_markdown,
            )

    def get_task_encoded(
        self, task_id: str, *, include_subtasks: bool = False, include_markdown: bool = False
    ) -> bytes:
        with self.lock:
            task = self.state.live_task(task_id)
            encoded = encode_task(
                self.state,
                task,
                single=True,
                include_subtasks=include_subtasks,
                include_markdown=include_markdown,
            )
            return encoded.encode()

    def list_tasks(self, list_id: str, query: TaskQuery) -> dict[str, Any]:
        """Get Tasks: `{"tasks": [...], "last_page": bool}`."""
        with self.lock:
            page_ids, last_page = self._list_page(list_id, query)
            return self._page_dict(page_ids, last_page, query)

    def team_tasks(self, team_id: str, query: TaskQuery) -> dict[str, Any]:
        """Get Filtered Team Tasks: `{"tasks": [...], "last_page": bool}`."""
        with self.lock:
            page_ids, last_page = self._team_page(team_id, query)
            return self._page_dict(page_ids, last_page, query)

    def list_tasks_encoded(self, list_id: str, query: TaskQuery) -> bytes:
        """`list_tasks` as the JSON bytes the API sends (fast path for big pages)."""
        with self.lock:
            page_ids, last_page = self._list_page(list_id, query)
            return encode_task_page(self.state, page_ids, last_page, query.include_markdown)

    def team_tasks_encoded(self, team_id: str, query: TaskQuery) -> bytes:
        with self.lock:
            page_ids, last_page = self._team_page(team_id, query)
            return encode_task_page(self.state, page_ids, last_page, query.include_markdown)

    def _list_page(self, list_id: str, query: TaskQuery) -> tuple[list[str], bool]:
        task_list = self.state.task_list(list_id)
        candidates = self.state.task_ids_in_list(task_list.id)
        ids = self._query_cache.matching_ids(self.state, ("list", list_id), candidates, query)
        return page_of(ids, query.page)

    def _team_page(self, team_id: str, query: TaskQuery) -> tuple[list[str], bool]:
        self._check_team(team_id)
        ids = self._query_cache.matching_ids(self.state, ("team",), self.state.all_task_ids(), query)
        return page_of(ids, query.page)

    def _page_dict(self, page_ids: list[str], last_page: bool, query: TaskQuery) -> dict[str, Any]:
        page = [
            task_json(self.state, self.state.tasks[i], include_markdown=query.include_markdown)
            for i in page_ids
        ]
        # `last_page` on both endpoints; clients should still stop on a short page (reference §3.4).
        return {"tasks": page, "last_page": last_page}

    def time_in_status(
        self, task_id: str, custom_task_ids: bool = False, team_id: str | None = None
    ) -> dict[str, Any]:
        with self.lock:
            return time_in_status_json(self.state, self.resolve_task(task_id, custom_task_ids, team_id))

    def bulk_time_in_status(self, task_ids: list[str]) -> dict[str, Any]:
        if not task_ids or len(task_ids) > BULK_TIME_IN_STATUS_LIMIT:
            raise api_errors.bad_request(
                "task_ids must hold between 1 and 100 task ids", "ITEM_118"
            )  # UNCONFIRMED
        with self.lock:
            return {
                i: time_in_status_json(self.state, self.state.live_task(i)) for i in dict.fromkeys(task_ids)
            }

    # ------------------------------------------------------------------- task mutations
    def create_task(self, list_id: str, body: dict[str, Any], actor_id: int | None = None) -> dict[str, Any]:
        with self.lock:
            task, changes = tasks.create_task(self.state, list_id, body, actor_id)
            self._publish(changes)
            return task_json(self.state, task, single=True)

    def update_task(self, task_id: str, body: dict[str, Any], actor_id: int | None = None) -> dict[str, Any]:
        with self.lock:
            task, changes = tasks.update_task(self.state, task_id, body, actor_id)
            self._publish(changes)
            return task_json(self.state, task, single=True)

    def delete_task(self, task_id: str) -> None:
        with self.lock:
            self._publish(tasks.delete_task(self.state, task_id))

    def move_task(
        self, task_id: str, list_id: str, body: dict[str, Any] | None = None, actor_id: int | None = None
    ) -> None:
        with self.lock:
            self._publish(tasks.move_task(self.state, task_id, list_id, body or {}, actor_id))

    def add_tag(self, task_id: str, tag_name: str, actor_id: int | None = None) -> None:
        with self.lock:
            self._publish(tasks.add_tag(self.state, task_id, tag_name, actor_id))

    def remove_tag(self, task_id: str, tag_name: str, actor_id: int | None = None) -> None:
        with self.lock:
            self._publish(tasks.remove_tag(self.state, task_id, tag_name, actor_id))

    def set_field_value(
        self, task_id: str, field_id: str, body: dict[str, Any], actor_id: int | None = None
    ) -> None:
        with self.lock:
            actor = tasks.actor_of(self.state, actor_id)
            self._publish(relations.set_field_value(self.state, task_id, field_id, body, actor))

    def remove_field_value(self, task_id: str, field_id: str, actor_id: int | None = None) -> None:
        with self.lock:
            actor = tasks.actor_of(self.state, actor_id)
            self._publish(relations.remove_field_value(self.state, task_id, field_id, actor))

    def add_dependency(self, task_id: str, body: dict[str, Any], actor_id: int | None = None) -> None:
        with self.lock:
            relations.add_dependency(self.state, task_id, body, tasks.actor_of(self.state, actor_id))

    def remove_dependency(self, task_id: str, query: dict[str, Any]) -> None:
        with self.lock:
            relations.remove_dependency(self.state, task_id, query)

    def add_link(self, task_id: str, links_to: str, actor_id: int | None = None) -> dict[str, Any]:
        with self.lock:
            task = relations.add_link(self.state, task_id, links_to, tasks.actor_of(self.state, actor_id))
            return {"task": task_json(self.state, task, single=True)}

    def remove_link(self, task_id: str, links_to: str) -> dict[str, Any]:
        with self.lock:
            task = relations.remove_link(self.state, task_id, links_to)
            return {"task": task_json(self.state, task, single=True)}

    # ------------------------------------------------------------------------- webhooks
    def create_webhook(self, team_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            subscription = webhooks.create_webhook(self.state, team_id, body, self.state.owner)
            return {"id": subscription.id, "webhook": webhooks.webhook_json(subscription)}

    def list_webhooks(self, team_id: str) -> dict[str, Any]:
        with self.lock:
            found = webhooks.list_webhooks(self.state, team_id, self.state.owner)
            return {"webhooks": [webhooks.webhook_json(subscription) for subscription in found]}

    def update_webhook(self, webhook_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            subscription = webhooks.update_webhook(self.state, webhook_id, body)
            return {"id": subscription.id, "webhook": webhooks.webhook_json(subscription)}

    def delete_webhook(self, webhook_id: str) -> None:
        with self.lock:
            webhooks.delete_webhook(self.state, webhook_id)

    def subscription(self, webhook_id: str) -> WebhookSubscription:
        with self.lock:
            return self.state.webhooks[webhook_id]

    # ------------------------------------------------------------------- test helpers
    def events(self) -> list[RecordedEvent]:
        """Every task event produced so far (newest last), whether or not anyone subscribed."""
        with self.lock:
            return list(self.state.event_log)

    def live_task_ids(self) -> list[str]:
        """Every task that exists (oldest first): closed, archived, subtasks, archived lists."""
        with self.lock:
            return list(self.state.all_task_ids())

    def task_ids_in_list(self, list_id: str) -> list[str]:
        """Tasks whose home list is `list_id` (oldest first), whatever the API filters would hide."""
        with self.lock:
            return list(self.state.task_ids_in_list(list_id))

    def list_ids(self, *, archived: bool | None = None) -> list[str]:
        with self.lock:
            return [t.id for t in self.state.lists.values() if archived is None or t.archived == archived]

    def fields_of_task(self, task_id: str) -> list[dict[str, Any]]:
        """Definitions of the custom fields the task's list can use (workspace level first)."""
        with self.lock:
            task = self.state.live_task(task_id)
            return [definition_json(f) for f in self.state.fields_for_list(task.list_id)]

    def ground_truth(self) -> dict[str, Any]:
        """The whole current state as plain JSON data (see `ground_truth.py` for the shape); the
        same data `GET /_emulator/state` sends, sharing nothing with the live state."""
        return json.loads(self.ground_truth_encoded())  # type: ignore[no-any-return]

    def ground_truth_encoded(self) -> bytes:
        with self.lock:
            return encode_ground_truth(self.state)
