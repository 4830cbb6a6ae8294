"""Create, update, delete and move tasks; add and remove tags (reference §3.6).

Each function validates the whole request before changing anything, so a 400 leaves the task as it
was, then returns the `TaskChange`s to publish. Every change moves `date_updated` forward.
History items per change follow reference §7.4; fields without a documented item are marked.
"""

from __future__ import annotations

from typing import Any

from clickup_sync.clickup.emulator import api_errors, body_values
from clickup_sync.clickup.emulator.field_values import apply_field_write
from clickup_sync.clickup.emulator.history import HistoryRecorder
from clickup_sync.clickup.emulator.model import Link, Status, Tag, Task, TaskList, User
from clickup_sync.clickup.emulator.publishing import TaskChange
from clickup_sync.clickup.emulator.relation_mutations import forget_task
from clickup_sync.clickup.emulator.state import WorkspaceState

_DEFAULT_TAG_COLOR = "#4f5bd5"


def actor_of(state: WorkspaceState, actor_id: int | None) -> User:
    return state.users[actor_id] if actor_id is not None and actor_id in state.users else state.owner


def _status_named(state: WorkspaceState, task_list: TaskList, body: dict[str, Any]) -> Status:
    name = body_values.text(body, "status")
    status = state.find_status(task_list, name)
    if status is None:
        raise api_errors.bad_request("Status does not exist", "CRTSK_001")  # UNCONFIRMED code
    return status


def _user_ids(state: WorkspaceState, ids: list[int]) -> list[int]:
    unknown = [user_id for user_id in ids if user_id not in state.users]
    if unknown:
        raise api_errors.bad_request("Assignee not found in the Workspace")
    return ids


def _ensure_tag(state: WorkspaceState, task_list: TaskList, name: str, actor: User) -> Tag:
    # Tagging with a name the space does not know creates the space tag, as the ClickUp UI does.
    space = state.spaces[task_list.space_id]
    for tag in space.tags:
        if tag.name.lower() == name.lower():
            return tag
    tag = Tag(name, _DEFAULT_TAG_COLOR, _DEFAULT_TAG_COLOR, actor.id)
    space.tags.append(tag)
    return tag


def _set_status(task: Task, status: Status, now: int) -> None:
    task.status = status.status
    task.status_history.append((status.status, now))
    if status.is_closed:
        task.date_closed = task.date_closed or now
        task.date_done = task.date_done or now
    else:
        task.date_closed = task.date_done = None


def _parent_in_list(state: WorkspaceState, parent_id: object, list_id: str, child: Task | None) -> Task:
    if not isinstance(parent_id, str):
        raise api_errors.bad_request("parent must be a task id")
    parent = state.live_task(parent_id)
    if parent.list_id != list_id:
        raise api_errors.bad_request("Parent task must be in the same List")
    if child is not None and (parent.id == child.id or parent.id in state.descendants_of(child.id)):
        raise api_errors.bad_request("A task cannot be its own parent")
    return parent


def create_task(
    state: WorkspaceState, list_id: str, body: dict[str, Any], actor_id: int | None
) -> tuple[Task, list[TaskChange]]:
    task_list = state.task_list(list_id)
    actor = actor_of(state, actor_id)
    if not isinstance(body.get("name"), str) or not body["name"].strip():
        raise api_errors.bad_request("Task name invalid", "INPUT_005")
    status = _status_named(state, task_list, body) if body.get("status") is not None else None
    status = status or state.statuses_of_list(task_list)[0]
    priority = body_values.priority(body) if "priority" in body else None
    assignees = _user_ids(state, body_values.int_list(body.get("assignees", []), "assignees"))
    tag_names = body_values.string_list(body.get("tags", []), "tags")
    due_date = body_values.optional_int(body, "due_date") if "due_date" in body else None
    start_date = body_values.optional_int(body, "start_date") if "start_date" in body else None
    time_estimate = body_values.optional_int(body, "time_estimate") if "time_estimate" in body else None
    points = body_values.optional_number(body, "points") if "points" in body else None
    parent = _parent_in_list(state, body["parent"], list_id, None) if body.get("parent") is not None else None
    linked = state.live_task(body["links_to"]) if isinstance(body.get("links_to"), str) else None
    description = (
        body.get("description") or body.get("markdown_content") or body.get("markdown_description") or ""
    )
    if not isinstance(description, str):
        raise api_errors.bad_request("description must be a string")
    values = _initial_field_values(state, task_list, body.get("custom_fields", []), actor)

    now = state.clock.now_ms()
    task = Task(
        id=state.ids.task_id(),
        name=body["name"],
        list_id=list_id,
        status=status.status,
        date_created=now,
        date_updated=now,
        creator_id=actor.id,
        orderindex=len(state.tasks) + 1,
        description=description,
        assignee_ids=list(dict.fromkeys(assignees)),
        watcher_ids=list(dict.fromkeys([actor.id, *assignees])),
        tag_names=[_ensure_tag(state, task_list, name, actor).name for name in dict.fromkeys(tag_names)],
        parent_id=parent.id if parent else None,
        top_level_parent_id=(parent.top_level_parent_id or parent.id) if parent else None,
        priority=priority,
        due_date=due_date,
        due_date_time=bool(body.get("due_date_time", False)),
        start_date=start_date,
        start_date_time=bool(body.get("start_date_time", False)),
        points=points,
        time_estimate=time_estimate,
        archived=body_values.boolean(body, "archived") if "archived" in body else False,
        custom_values=values,
        custom_item_id=body_values.optional_int(body, "custom_item_id") or 0
        if "custom_item_id" in body
        else 0,
    )
    task.status_history = [(status.status, now)]
    if status.is_closed:
        task.date_closed = task.date_done = now
    state.index_task(task)
    state.version += 1
    if linked is not None:
        # `links_to` makes a task link (UNCONFIRMED whether ClickUp files it under dependencies).
        link = Link(task.id, linked.id, now, actor.id)
        task.links.append(link)
        linked.links.append(link)
        state.touch(linked)
    recorder = HistoryRecorder(state, task, actor, now)
    creation_item = recorder.task_creation()
    status_item = recorder.status(None, status)
    change = TaskChange(task.id, task.list_id)
    change.events = [("taskCreated", [status_item, creation_item]), ("taskStatusUpdated", [status_item])]
    return task, [change]


def _initial_field_values(
    state: WorkspaceState, task_list: TaskList, entries: object, actor: User
) -> dict[str, Any]:
    if not isinstance(entries, list):
        raise api_errors.bad_request("custom_fields must be an array")
    applicable = {definition.id: definition for definition in state.fields_for_list(task_list.id)}
    values: dict[str, Any] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise api_errors.bad_request("custom_fields items need an id and a value")
        definition = applicable.get(entry["id"])
        if definition is None:
            continue  # reference §3.6: values are "only saved when applicable"
        value = apply_field_write(state, definition, entry.get("value"), values.get(definition.id), actor.id)
        if value is None:
            values.pop(definition.id, None)
        else:
            values[definition.id] = value
    return values


def update_task(
    state: WorkspaceState, task_id: str, body: dict[str, Any], actor_id: int | None
) -> tuple[Task, list[TaskChange]]:
    task = state.live_task(task_id)
    actor = actor_of(state, actor_id)
    task_list = state.lists[task.list_id]
    new: dict[str, Any] = {}
    if "name" in body:
        new["name"] = body_values.text(body, "name", allow_empty=False)
    for key in ("description", "markdown_content"):
        if key in body:
            # reference §3.6: a single space clears the description
            new["description"] = "" if body_values.text(body, key) == " " else body[key]
    if body.get("status") is not None:
        new["status"] = _status_named(state, task_list, body)
    if "priority" in body:
        new["priority"] = body_values.priority(body)
    for key in ("due_date", "start_date", "time_estimate"):
        if key in body:
            new[key] = body_values.optional_int(body, key)
    for key in ("due_date_time", "start_date_time", "archived"):
        if key in body and body[key] is not None:
            new[key] = body_values.boolean(body, key)
    if "points" in body:
        new["points"] = body_values.optional_number(body, "points")
    if "parent" in body:
        if body["parent"] is None:
            raise api_errors.bad_request("parent cannot be set to null")  # reference §3.6
        new["parent"] = _parent_in_list(state, body["parent"], task.list_id, task)
    assignees = body_values.add_rem_ints(body, "assignees") if "assignees" in body else ([], [])
    watchers = body_values.add_rem_ints(body, "watchers") if "watchers" in body else ([], [])
    _user_ids(state, assignees[0] + watchers[0])
    if "custom_item_id" in body:
        new["custom_item_id"] = body_values.optional_int(body, "custom_item_id") or 0

    now = state.touch(task)
    recorder = HistoryRecorder(state, task, actor, now)
    change = TaskChange(task.id, task.list_id)
    generic: list[dict[str, Any]] = []
    if "name" in new and new["name"] != task.name:
        generic.append(recorder.plain("name", task.name, new["name"]))  # UNCONFIRMED item for tasks
        task.name = new["name"]
    if "description" in new and new["description"] != task.description:
        task.description = new["description"]
        generic.append(recorder.content(task.description))
    if "status" in new and new["status"].status != task.status:
        before = state.status_of(task)
        _set_status(task, new["status"], now)
        change.add("taskStatusUpdated", [recorder.status(before, new["status"])])
    if "priority" in new and new["priority"] != task.priority:
        change.add("taskPriorityUpdated", [recorder.priority(task.priority, new["priority"])])
        task.priority = new["priority"]
    _update_due_date(task, new, recorder, change)
    if "start_date" in new and new["start_date"] != task.start_date:
        generic.append(recorder.start_date(task.start_date, new["start_date"]))
        task.start_date = new["start_date"]
    task.start_date_time = new.get("start_date_time", task.start_date_time)
    if "time_estimate" in new and new["time_estimate"] != task.time_estimate:
        change.add(
            "taskTimeEstimateUpdated", [recorder.time_estimate(task.time_estimate, new["time_estimate"])]
        )
        task.time_estimate = new["time_estimate"]
    if "points" in new and new["points"] != task.points:
        generic.append(recorder.plain("points", task.points, new["points"]))  # UNCONFIRMED item
        task.points = new["points"]
    if "archived" in new and new["archived"] != task.archived:
        # UNCONFIRMED item; strings like checklist_item_resolved's "false"/"true" (reference §7.4).
        generic.append(recorder.plain("archived", str(task.archived).lower(), str(new["archived"]).lower()))
        task.archived = new["archived"]
    change.add("taskAssigneeUpdated", _update_assignees(state, task, assignees, recorder))
    # Watchers, parent and custom_item_id have no documented history item: only date_updated moves.
    task.watcher_ids = [u for u in dict.fromkeys(task.watcher_ids + watchers[0]) if u not in watchers[1]]
    if "parent" in new and new["parent"].id != task.parent_id:
        _reparent(state, task, new["parent"], now)
    task.custom_item_id = new.get("custom_item_id", task.custom_item_id)
    change.add("taskUpdated", generic)
    return task, [change]


def _update_due_date(task: Task, new: dict[str, Any], recorder: HistoryRecorder, change: TaskChange) -> None:
    due_date = new.get("due_date", task.due_date)
    due_time = new.get("due_date_time", task.due_date_time)
    if due_date != task.due_date or due_time != task.due_date_time:
        change.add(
            "taskDueDateUpdated", [recorder.due_date(task.due_date, due_date, task.due_date_time, due_time)]
        )
        task.due_date, task.due_date_time = due_date, due_time


def _update_assignees(
    state: WorkspaceState, task: Task, add_rem: tuple[list[int], list[int]], recorder: HistoryRecorder
) -> list[dict[str, Any]]:
    add, rem = add_rem
    items = []
    for user_id in dict.fromkeys(add):
        if user_id not in task.assignee_ids:
            task.assignee_ids.append(user_id)
            if user_id not in task.watcher_ids:
                task.watcher_ids.append(user_id)
            items.append(recorder.assignee_added(state.users[user_id]))
    for user_id in dict.fromkeys(rem):
        if user_id in task.assignee_ids:
            task.assignee_ids.remove(user_id)
            items.append(recorder.assignee_removed(state.users[user_id]))
    return items


def _reparent(state: WorkspaceState, task: Task, parent: Task, now: int) -> None:
    state.reparent_task(task, parent.id)
    top = parent.top_level_parent_id or parent.id
    task.top_level_parent_id = top
    for descendant_id in state.descendants_of(task.id):
        descendant = state.tasks[descendant_id]
        descendant.top_level_parent_id = top
        state.touch(descendant)  # its JSON changed, so its version moves too


def delete_task(state: WorkspaceState, task_id: str) -> list[TaskChange]:
    """Delete a task and its subtasks; `taskDeleted` carries no history items (reference §7.6)."""
    task = state.live_task(task_id)
    doomed = [task, *(state.tasks[i] for i in state.descendants_of(task.id))]
    changes = []
    for victim in doomed:
        state.unindex_task(victim)
        victim.deleted = True
        state.touch(victim)
        changes.append(TaskChange(victim.id, victim.list_id, events=[("taskDeleted", None)]))
    for victim in doomed:
        forget_task(state, victim)
    return changes


def move_task(
    state: WorkspaceState, task_id: str, list_id: str, body: dict[str, Any], actor_id: int | None
) -> list[TaskChange]:
    """v3 home-list move; subtasks move along. Statuses map by `status_mappings`, else by name,
    else to the destination's first status of the same type, else its first status."""
    task = state.live_task(task_id)
    destination = state.task_list(list_id)
    actor = actor_of(state, actor_id)
    if task.list_id == destination.id:
        return []
    mappings = body.get("status_mappings") or []
    if not isinstance(mappings, list):
        raise api_errors.bad_request("status_mappings must be an array")
    changes = []
    for moved in [task, *(state.tasks[i] for i in state.descendants_of(task.id))]:
        source = moved.list_id
        status_before = state.status_of(moved)
        state.rehome_task(moved, destination.id)
        now = state.touch(moved)
        status = _mapped_status(state, destination, status_before, mappings)
        if status.status != moved.status:
            _set_status(moved, status, now)
        applicable = {definition.id for definition in state.fields_for_list(destination.id)}
        moved.custom_values = {k: v for k, v in moved.custom_values.items() if k in applicable}
        item = HistoryRecorder(state, moved, actor, now).section_moved(source, destination.id)
        change = TaskChange(
            moved.id, destination.id, previous_list_id=source, space_updated=destination.space_id
        )
        change.add("taskMoved", [item])
        changes.append(change)
    return changes


def _mapped_status(
    state: WorkspaceState, destination: TaskList, before: Status, mappings: list[Any]
) -> Status:
    statuses = state.statuses_of_list(destination)
    for mapping in mappings:
        if isinstance(mapping, dict) and mapping.get("source_status") == before.id:
            found = next((s for s in statuses if s.id == mapping.get("destination_status")), None)
            if found is not None:
                return found
    same_name = state.find_status(destination, before.status)
    if same_name is not None:
        return same_name
    return next((s for s in statuses if s.type == before.type), statuses[0])


def add_tag(state: WorkspaceState, task_id: str, name: str, actor_id: int | None) -> list[TaskChange]:
    task = state.live_task(task_id)
    actor = actor_of(state, actor_id)
    tag = _ensure_tag(state, state.lists[task.list_id], name, actor)
    if tag.name in task.tag_names:
        return []
    task.tag_names.append(tag.name)
    now = state.touch(task)
    change = TaskChange(task.id, task.list_id)
    change.add("taskTagUpdated", [HistoryRecorder(state, task, actor, now).tag_added(tag)])
    return [change]


def remove_tag(state: WorkspaceState, task_id: str, name: str, actor_id: int | None) -> list[TaskChange]:
    task = state.live_task(task_id)
    actor = actor_of(state, actor_id)
    present = next((tag_name for tag_name in task.tag_names if tag_name.lower() == name.lower()), None)
    if present is None:
        return []
    task.tag_names.remove(present)
    tag = _ensure_tag(state, state.lists[task.list_id], present, actor)
    now = state.touch(task)
    change = TaskChange(task.id, task.list_id)
    change.add("taskTagUpdated", [HistoryRecorder(state, task, actor, now).tag_removed(tag)])
    return [change]
