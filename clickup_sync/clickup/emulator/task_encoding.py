"""Fast JSON bytes for task pages: the same bytes `JSONResponse(task_json(...))` would give.

A page of 100 tasks with ~20 custom fields each is most of a megabyte, mostly the field definitions
(`type_config` with options, formulas) that every task repeats. Each definition is encoded once
and reused; only values are encoded per task. A task's encoded custom field array is kept until the
workspace changes (any mutation bumps `state.version`), so the ground truth a test or benchmark reads
and the pages a backfill reads next encode it once. Tests check byte equality with the dict path.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from clickup_sync.clickup.emulator.field_json import read_value
from clickup_sync.clickup.emulator.model import Task
from clickup_sync.clickup.emulator.state import WorkspaceState
from clickup_sync.clickup.emulator.task_json import task_json

# An unguessable placeholder, so no task text can be mistaken for it.
_PLACEHOLDER = f"\x00custom-fields-{secrets.token_hex(8)}\x00"


# What `json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))`
# builds on every call, built once: ~45,000 small values per 5,000 tasks made the construction count.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


def dumps(value: Any) -> str:
    """Starlette's JSONResponse encoding: compact, raw UTF-8."""
    return _ENCODER.encode(value)


_ENCODED_PLACEHOLDER = dumps(_PLACEHOLDER)
# Encoded custom field arrays kept (~7 kB each with 20 fields): a 25,000-task workspace fits, a
# bigger one cannot make the emulator grow without bound.
_CUSTOM_FIELDS_CACHE_SIZE = 25_000


def encode_custom_fields(state: WorkspaceState, task: Task) -> str:
    cached = state.encoded_custom_fields.get(task.id)
    if cached is not None and cached[0] == state.version:
        return cached[1]
    encoded = _encode_custom_fields(state, task)
    if len(state.encoded_custom_fields) >= _CUSTOM_FIELDS_CACHE_SIZE:
        state.encoded_custom_fields.clear()
    state.encoded_custom_fields[task.id] = (state.version, encoded)
    return encoded


def _encode_custom_fields(state: WorkspaceState, task: Task) -> str:
    parts = []
    cache = state.encoded_field_parts
    for definition in state.fields_for_list(task.list_id):
        cached = cache.get(definition.id)
        if cached is None:
            head = {
                "id": definition.id,
                "name": definition.name,
                "type": definition.type,
                "type_config": definition.type_config,
                "date_created": str(definition.date_created),
                "hide_from_guests": definition.hide_from_guests,
            }
            cached = (dumps(head)[:-1], ',"required":' + dumps(definition.required) + "}")
            cache[definition.id] = cached
        head_text, tail_text = cached
        value = task.custom_values.get(definition.id)
        if value is None and definition.type == "automatic_progress":
            value = 0  # always present, as in task_json.custom_fields_json
        if value is None:
            parts.append(head_text + tail_text)
        else:
            encoded = dumps(read_value(state, definition, value, task.id))
            parts.append(f'{head_text},"value":{encoded},"value_richtext":null{tail_text}')
    return "[" + ",".join(parts) + "]"


def encode_task(
    state: WorkspaceState,
    task: Task,
    *,
    single: bool = False,
    include_subtasks: bool = False,
    include_markdown: bool = False,
) -> str:
    data = task_json(
        state,
        task,
        single=single,
        include_subtasks=include_subtasks,
        include_markdown=include_markdown,
        custom_fields=_PLACEHOLDER,
    )
    return dumps(data).replace(_ENCODED_PLACEHOLDER, encode_custom_fields(state, task), 1)


def encode_task_page(
    state: WorkspaceState, task_ids: list[str], last_page: bool, include_markdown: bool
) -> bytes:
    tasks = ",".join(
        encode_task(state, state.tasks[task_id], include_markdown=include_markdown) for task_id in task_ids
    )
    return f'{{"tasks":[{tasks}],"last_page":{"true" if last_page else "false"}}}'.encode()
