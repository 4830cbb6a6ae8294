"""Realistic activity on the emulated workspace, made through the same `Workspace` mutations the HTTP
API calls, so every change produces the same history items and webhook deliveries a user's would.

`ActivitySimulator(workspace, seed).run(n)` makes exactly n changes now and returns them;
`start(rate_per_second)` / `stop()` run it in a background thread. The choice of changes is
deterministic from the seed (given the same starting workspace and no other writers).
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clickup_sync.clickup.emulator.api_errors import ApiError
from clickup_sync.clickup.emulator.field_json import webhook_value
from clickup_sync.clickup.emulator.generated_values import DAY_MS, field_value, task_name
from clickup_sync.clickup.emulator.model import FieldDefinition, Task, TaskList
from clickup_sync.clickup.emulator.workspace import Workspace

CHANGE_LOG_SIZE = 10_000
_MAX_ATTEMPTS_PER_CHANGE = 50
_UNWRITABLE_FIELD_TYPES = {"automatic_progress", "formula", "votes"}


@dataclass(frozen=True)
class ActivityChange:
    """One change the simulator made: its kind, the task, and what it sent."""

    kind: str
    task_id: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "task_id": self.task_id, "detail": self.detail}


class ActivitySimulator:
    def __init__(self, workspace: Workspace, seed: int) -> None:
        self.workspace = workspace
        self.state = workspace.state
        self.random = random.Random(f"activity:{seed}")
        self.changes: deque[ActivityChange] = deque(maxlen=CHANGE_LOG_SIZE)
        self.changes_made = 0
        self.errors = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._rate = 0.0
        self._kinds: list[tuple[Callable[[], ActivityChange | None], int]] = [
            (self._change_status, 20),
            (self._change_custom_field, 25),
            (self._change_assignees, 8),
            (self._change_due_date, 7),
            (self._change_tag, 6),
            (self._rename, 5),
            (self._change_priority, 5),
            (self._create_task, 7),
            (self._delete_task, 2),
            (self._move_task, 3),
            (self._change_dependency, 4),
            (self._change_link, 3),
            (self._change_time_estimate, 2),
        ]

    # ------------------------------------------------------------------ driving
    def step(self) -> ActivityChange:
        """Make one change (retrying choices that would change nothing) and return it."""
        actions = [action for action, _ in self._kinds]
        weights = [weight for _, weight in self._kinds]
        with self.workspace.lock:
            for _ in range(_MAX_ATTEMPTS_PER_CHANGE):
                version = self.state.version
                if not self.state.all_task_ids():
                    change = self._create_task()
                else:
                    change = self.random.choices(actions, weights)[0]()
                # A choice that changed nothing (same value, existing link) does not count.
                if change is not None and self.state.version != version:
                    self.changes.append(change)
                    self.changes_made += 1
                    return change
        raise RuntimeError("the activity simulator found nothing to change")

    def run(self, count: int) -> list[ActivityChange]:
        return [self.step() for _ in range(count)]

    def start(self, rate_per_second: float) -> None:
        """Make about `rate_per_second` changes a second in a background thread until `stop()`."""
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.stop()
        self._rate = rate_per_second
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="emulator-activity", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._rate = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "rate_per_second": self._rate,
            "changes_made": self.changes_made,
            "errors": self.errors,
        }

    def _loop(self) -> None:
        interval = 1.0 / self._rate
        while not self._stop.wait(interval):
            try:
                self.step()
            except ApiError:
                self.errors += 1  # e.g. an API client deleted the chosen task meanwhile

    # ------------------------------------------------------------------ choices
    def _task(self, *, top_level: bool = False) -> Task:
        ids = self.state.all_task_ids()
        for _ in range(20):
            task = self.state.tasks[self.random.choice(ids)]
            if not top_level or task.parent_id is None:
                return task
        return self.state.tasks[ids[0]]

    def _user(self) -> int:
        return self.random.choice([u.id for u in self.state.users.values() if u.role != 4])

    def _open_lists(self) -> list[TaskList]:
        return [
            t
            for t in self.state.lists.values()
            if not t.archived and not self.state.folders[t.folder_id].archived
        ]

    # ------------------------------------------------------------------ changes
    def _change_status(self) -> ActivityChange | None:
        task = self._task()
        statuses = self.state.statuses_of_list(self.state.lists[task.list_id])
        status = self.random.choice([s for s in statuses if s.status != task.status])
        self.workspace.update_task(task.id, {"status": status.status}, self._user())
        return ActivityChange("status", task.id, {"status": status.status})

    def _change_priority(self) -> ActivityChange | None:
        task = self._task()
        priority = self.random.choice([p for p in (None, 1, 2, 3, 4) if p != task.priority])
        self.workspace.update_task(task.id, {"priority": priority}, self._user())
        return ActivityChange("priority", task.id, {"priority": priority})

    def _change_assignees(self) -> ActivityChange | None:
        task = self._task()
        user = self._user()
        key = "rem" if user in task.assignee_ids else "add"
        self.workspace.update_task(task.id, {"assignees": {key: [user]}}, self._user())
        return ActivityChange("assignees", task.id, {key: [user]})

    def _change_due_date(self) -> ActivityChange | None:
        task = self._task()
        due = (
            None
            if task.due_date and self.random.random() < 0.2
            else task.date_created + self.random.randint(1, 90) * DAY_MS
        )
        self.workspace.update_task(task.id, {"due_date": due, "due_date_time": False}, self._user())
        return ActivityChange("due_date", task.id, {"due_date": due})

    def _change_time_estimate(self) -> ActivityChange | None:
        task = self._task()
        estimate = self.random.randint(1, 16) * 1_800_000
        self.workspace.update_task(task.id, {"time_estimate": estimate}, self._user())
        return ActivityChange("time_estimate", task.id, {"time_estimate": estimate})

    def _rename(self) -> ActivityChange | None:
        task = self._task()
        name = task_name(self.random, self.random.randint(1, 99_999))
        self.workspace.update_task(task.id, {"name": name}, self._user())
        return ActivityChange("name", task.id, {"name": name})

    def _change_tag(self) -> ActivityChange | None:
        task = self._task()
        if task.tag_names and self.random.random() < 0.4:
            name = self.random.choice(task.tag_names)
            self.workspace.remove_tag(task.id, name, self._user())
            return ActivityChange("tag_removed", task.id, {"tag": name})
        space = self.state.spaces[self.state.lists[task.list_id].space_id]
        candidates = [tag.name for tag in space.tags if tag.name not in task.tag_names]
        if not candidates:
            return None
        name = self.random.choice(candidates)
        self.workspace.add_tag(task.id, name, self._user())
        return ActivityChange("tag_added", task.id, {"tag": name})

    def _change_custom_field(self) -> ActivityChange | None:
        task = self._task()
        writable = [
            f for f in self.state.fields_for_list(task.list_id) if f.type not in _UNWRITABLE_FIELD_TYPES
        ]
        definition = self.random.choice(writable)
        current = task.custom_values.get(definition.id)
        if current is not None and self.random.random() < 0.1:
            self.workspace.remove_field_value(task.id, definition.id, self._user())
            return ActivityChange("custom_field_removed", task.id, {"field_id": definition.id})
        value = self._write_value(definition, task)
        if value is None:
            return None
        self.workspace.set_field_value(task.id, definition.id, {"value": value}, self._user())
        return ActivityChange(
            "custom_field", task.id, {"field_id": definition.id, "type": definition.type, "value": value}
        )

    def _write_value(self, definition: FieldDefinition, task: Task) -> Any:
        """A write body value (reference §5.4) for this field."""
        kind = definition.type
        current = task.custom_values.get(definition.id) or []
        if kind == "users":
            add = self.random.sample(list(self.state.users), 2)
            rem = [self.random.choice(current)] if current else []
            return {"add": [u for u in add if u not in rem], "rem": rem}
        if kind == "tasks":
            other = self._task()
            return {"add": [other.id], "rem": current[:1]} if other.id != task.id else None
        if kind == "list_relationship":
            related = self.state.task_ids_in_list(definition.type_config["subcategory_id"])
            return {"add": [self.random.choice(related)], "rem": current[:1]} if related else None
        if kind == "attachment":
            return {"add": [self.state.ids.attachment_id("png")], "rem": [a.id for a in current[:1]]}
        if kind == "drop_down" and self.random.random() < 0.3:
            return self.random.choice(definition.options).orderindex  # writes accept the index too
        if kind == "checkbox":
            return not task.custom_values.get(definition.id, False)
        canonical = field_value(self.random, definition, list(self.state.users), task.date_created)
        if kind in {"number", "currency"}:
            return float(canonical) if "." in canonical else int(canonical)
        if kind == "location":
            return {"location": canonical["location"], "formatted_address": canonical["formatted_address"]}
        if kind == "manual_progress":
            return {"current": canonical}
        return webhook_value(definition, canonical)  # drop_down id, labels ids, dates, strings, emoji

    def _create_task(self) -> ActivityChange | None:
        task_list = self.random.choice(self._open_lists())
        body: dict[str, Any] = {
            "name": task_name(self.random, self.random.randint(1, 99_999)),
            "assignees": [self._user()] if self.random.random() < 0.6 else [],
            "priority": self.random.choice([None, 2, 3]),
        }
        in_list = self.state.task_ids_in_list(task_list.id)
        if in_list and self.random.random() < 0.2:
            body["parent"] = self.random.choice(in_list)
        fields = [
            f
            for f in self.state.fields_for_list(task_list.id)
            if f.type in {"drop_down", "short_text", "number"}
        ]
        body["custom_fields"] = [
            {"id": f.id, "value": webhook_value(f, field_value(self.random, f, [], 0))}
            for f in fields[: self.random.randint(0, 2)]
        ]
        created = self.workspace.create_task(task_list.id, body, self._user())
        return ActivityChange(
            "create", created["id"], {"list_id": task_list.id, "parent": body.get("parent")}
        )

    def _delete_task(self) -> ActivityChange | None:
        task = self._task()
        if self.state.children_of(task.id):
            return None  # keep deletes small: leaf tasks only
        self.workspace.delete_task(task.id)
        return ActivityChange("delete", task.id)

    def _move_task(self) -> ActivityChange | None:
        task = self._task(top_level=True)
        destinations = [t for t in self._open_lists() if t.id != task.list_id]
        if task.parent_id is not None or not destinations:
            return None
        destination = self.random.choice(destinations)
        self.workspace.move_task(task.id, destination.id, {}, self._user())
        return ActivityChange("move", task.id, {"list_id": destination.id})

    def _change_dependency(self) -> ActivityChange | None:
        task = self._task()
        if task.dependencies and self.random.random() < 0.3:
            dependency = self.random.choice(task.dependencies)
            query = (
                {"depends_on": dependency.depends_on}
                if dependency.task_id == task.id
                else {"dependency_of": dependency.task_id}
            )
            self.workspace.remove_dependency(task.id, query)
            return ActivityChange("dependency_removed", task.id, query)
        other = self._task()
        if other.id == task.id:
            return None
        body = {"depends_on": other.id} if self.random.random() < 0.5 else {"dependency_of": other.id}
        self.workspace.add_dependency(task.id, body, self._user())
        return ActivityChange("dependency_added", task.id, body)

    def _change_link(self) -> ActivityChange | None:
        task = self._task()
        if task.links and self.random.random() < 0.3:
            link = self.random.choice(task.links)
            other_id = link.link_id if link.task_id == task.id else link.task_id
            self.workspace.remove_link(task.id, other_id)
            return ActivityChange("link_removed", task.id, {"links_to": other_id})
        other = self._task()
        if other.id == task.id:
            return None
        self.workspace.add_link(task.id, other.id, self._user())
        return ActivityChange("link_added", task.id, {"links_to": other.id})
