"""Dependencies, task links and custom field values (reference §5.4, §6.2).

Dependencies and links have no webhook event or history item (reference §6.4): they only move
`date_updated` of both tasks, so a mirror finds them by re-fetching. Custom field changes are
`taskUpdated` items with `field: "custom_field"` (reference §7.4).
"""

from __future__ import annotations

from typing import Any

from clickup_sync.clickup.emulator import api_errors
from clickup_sync.clickup.emulator.api_errors import ApiError
from clickup_sync.clickup.emulator.field_values import apply_field_write
from clickup_sync.clickup.emulator.history import HistoryRecorder
from clickup_sync.clickup.emulator.model import Dependency, FieldDefinition, Link, Task, User
from clickup_sync.clickup.emulator.publishing import TaskChange
from clickup_sync.clickup.emulator.state import WorkspaceState

_RELATION_TYPES = {"tasks", "list_relationship"}


def _other_task(state: WorkspaceState, task: Task, other_id: object) -> Task:
    if not isinstance(other_id, str) or not other_id:
        raise api_errors.bad_request("A task id is required")
    other = state.live_task(other_id)
    if other.id == task.id:
        raise api_errors.bad_request("A task cannot depend on or link to itself")
    return other


def dependency_direction(task: Task, query: dict[str, Any]) -> tuple[str, str]:
    """(waiting task, blocking task) from exactly one of `depends_on` / `dependency_of`."""
    depends_on, dependency_of = query.get("depends_on"), query.get("dependency_of")
    if (depends_on is None) == (dependency_of is None):
        raise api_errors.bad_request("Provide exactly one of depends_on or dependency_of")
    if depends_on is not None:
        return task.id, str(depends_on)  # the task in the path waits on depends_on
    return str(dependency_of), task.id  # dependency_of waits on the task in the path


def add_dependency(state: WorkspaceState, task_id: str, body: dict[str, Any], actor: User) -> None:
    task = state.live_task(task_id)
    waiting_id, blocking_id = dependency_direction(task, body)
    other = _other_task(state, task, blocking_id if waiting_id == task.id else waiting_id)
    if any(d.task_id == waiting_id and d.depends_on == blocking_id for d in task.dependencies):
        return
    now = state.clock.now_ms()
    # One entry, shown on both tasks (reference §6.1: bidirectional in the UI).
    dependency = Dependency(waiting_id, blocking_id, now, actor.id)
    task.dependencies.append(dependency)
    other.dependencies.append(dependency)
    state.touch(task)
    state.touch(other)


def remove_dependency(state: WorkspaceState, task_id: str, query: dict[str, Any]) -> None:
    task = state.live_task(task_id)
    waiting_id, blocking_id = dependency_direction(task, query)
    other = _other_task(state, task, blocking_id if waiting_id == task.id else waiting_id)
    for holder in (task, other):
        holder.dependencies = [
            d for d in holder.dependencies if not (d.task_id == waiting_id and d.depends_on == blocking_id)
        ]
        state.touch(holder)


def add_link(state: WorkspaceState, task_id: str, links_to: str, actor: User) -> Task:
    task = state.live_task(task_id)
    other = _other_task(state, task, links_to)
    if not any({link.task_id, link.link_id} == {task.id, other.id} for link in task.links):
        link = Link(task.id, other.id, state.clock.now_ms(), actor.id)
        task.links.append(link)
        other.links.append(link)
        state.touch(task)
        state.touch(other)
    return task


def remove_link(state: WorkspaceState, task_id: str, links_to: str) -> Task:
    task = state.live_task(task_id)
    other = _other_task(state, task, links_to)
    pair = {task.id, other.id}
    for holder in (task, other):
        holder.links = [link for link in holder.links if {link.task_id, link.link_id} != pair]
        state.touch(holder)
    return task


def _field_of_task(state: WorkspaceState, task: Task, field_id: str) -> FieldDefinition:
    for definition in state.fields_for_list(task.list_id):
        if definition.id == field_id:
            return definition
    # UNCONFIRMED code: ClickUp's answer for a field the task's list cannot use.
    raise ApiError(400, "Custom field is not accessible from this task", "FIELD_033")


def set_field_value(
    state: WorkspaceState, task_id: str, field_id: str, body: dict[str, Any], actor: User
) -> list[TaskChange]:
    task = state.live_task(task_id)
    definition = _field_of_task(state, task, field_id)
    if "value" not in body:
        raise api_errors.bad_request("value is required", "FIELD_010")  # UNCONFIRMED code
    before = task.custom_values.get(field_id)
    after = apply_field_write(state, definition, body["value"], before, actor.id)
    return _store_field_value(state, task, definition, before, after, actor)


def remove_field_value(state: WorkspaceState, task_id: str, field_id: str, actor: User) -> list[TaskChange]:
    task = state.live_task(task_id)
    definition = _field_of_task(state, task, field_id)
    before = task.custom_values.get(field_id)
    return _store_field_value(state, task, definition, before, None, actor)


def _store_field_value(
    state: WorkspaceState, task: Task, definition: FieldDefinition, before: Any, after: Any, actor: User
) -> list[TaskChange]:
    if before == after:
        return []  # nothing changed: no history item, no new version
    if after is None:
        task.custom_values.pop(definition.id, None)
    else:
        task.custom_values[definition.id] = after
    now = state.touch(task)
    change = TaskChange(task.id, task.list_id)
    change.add(
        "taskUpdated", [HistoryRecorder(state, task, actor, now).custom_field(definition, before, after)]
    )
    return [change]


def forget_task(state: WorkspaceState, gone: Task) -> None:
    """After a delete: drop the gone task from its partners' dependencies, links and relationship
    field values; each partner whose JSON changes gets a new `date_updated` (no history item)."""
    partners = {d.task_id for d in gone.dependencies} | {d.depends_on for d in gone.dependencies}
    partners |= {link.task_id for link in gone.links} | {link.link_id for link in gone.links}
    for partner_id in partners - {gone.id}:
        partner = state.tasks.get(partner_id)
        if partner is None or partner.deleted:
            continue
        partner.dependencies = [d for d in partner.dependencies if gone.id not in (d.task_id, d.depends_on)]
        partner.links = [link for link in partner.links if gone.id not in (link.task_id, link.link_id)]
        state.touch(partner)
    relation_fields = {f.id for f in state.fields.values() if f.type in _RELATION_TYPES}
    for task_id in state.all_task_ids():
        task = state.tasks[task_id]
        stale = [
            fid for fid, value in task.custom_values.items() if fid in relation_fields and gone.id in value
        ]
        for field_id in stale:
            remaining = [other for other in task.custom_values[field_id] if other != gone.id]
            if remaining:
                task.custom_values[field_id] = remaining
            else:
                del task.custom_values[field_id]
        if stale:
            state.touch(task)
