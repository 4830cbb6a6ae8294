"""Custom field JSON: definitions, the value a task read shows, the value a webhook carries.

The same stored value has different encodings (reference §5.3): a drop_down reads as the option
`orderindex` (int) but a webhook sends the option id; numbers read as strings; a checkbox reads
`"true"` and has no value key when unchecked.
"""

from __future__ import annotations

from typing import Any

from clickup_sync.clickup.emulator.model import Attachment, FieldDefinition, FieldOption, User
from clickup_sync.clickup.emulator.state import WorkspaceState


def option_type_config(kind: str, options: list[FieldOption]) -> dict[str, Any]:
    """The type_config of a drop_down or labels field, holding its options (reference §5.3)."""
    if kind == "drop_down":
        return {
            "default": 0,
            "placeholder": None,
            "sorting": "manual",
            "new_drop_down": True,
            "options": [
                {"id": o.id, "name": o.name, "color": o.color, "orderindex": o.orderindex} for o in options
            ],
        }
    # labels options carry `label`, not `name`
    return {
        "sorting": "manual",
        "options": [
            {"id": o.id, "label": o.name, "color": o.color, "orderindex": o.orderindex} for o in options
        ],
    }


def definition_json(definition: FieldDefinition) -> dict[str, Any]:
    """A field as `GET /list|folder|space|team/{id}/field` lists it (reference §5.1)."""
    return {
        "id": definition.id,
        "name": definition.name,
        "type": definition.type,
        "type_config": definition.type_config,
        "date_created": str(definition.date_created),
        "hide_from_guests": definition.hide_from_guests,
    }


def webhook_definition_json(definition: FieldDefinition, team_id: str) -> dict[str, Any]:
    """The `custom_field` object inside a webhook history item (reference §7.4, verbatim keys)."""
    type_config = definition.type_config
    if definition.type == "drop_down":
        # webhook copies of options also show `value` and `"type": "text"`
        type_config = {
            **type_config,
            "options": [
                {
                    "id": o.id,
                    "name": o.name,
                    "value": o.name,
                    "type": "text",
                    "color": o.color,
                    "orderindex": o.orderindex,
                }
                for o in definition.options
            ],
        }
        type_config.pop("sorting", None)
    return {
        "id": definition.id,
        "name": definition.name,
        "type": definition.type,
        "type_config": type_config,
        "values_set": None,
        "userid": str(definition.creator_id),
        "date_created": str(definition.date_created),
        "hide_from_guests": definition.hide_from_guests,
        "team_id": team_id,
        "deleted": False,
        "deleted_by": None,
        "pinned": False,
        "required": bool(definition.required),
        "required_on_subtasks": False,
        "linked_subcategory": definition.type_config.get("subcategory_id"),
    }


def field_user_json(user: User) -> dict[str, Any]:
    # Order of the people-field user objects in reference §3.1.
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "color": user.color,
        "initials": user.initials,
        "profilePicture": user.profile_picture,
    }


def attachment_json(state: WorkspaceState, attachment: Attachment, parent_id: str) -> dict[str, Any]:
    user = state.users.get(attachment.user_id) or state.owner
    base = f"https://t{state.team.id}.p.clickup-attachments.com/t{state.team.id}/{attachment.id}"
    url = f"{base}/{attachment.title}"
    return {
        "id": attachment.id,
        "date": attachment.date,  # an integer here, unlike task dates (reference §2)
        "title": attachment.title,
        "type": 1,
        "source": 1,
        "version": 0,
        "extension": attachment.extension,
        "thumbnail_small": None,
        "thumbnail_medium": None,
        "thumbnail_large": None,
        "is_folder": None,
        "mimetype": attachment.mimetype,
        "hidden": False,
        "parent_id": parent_id,
        "size": attachment.size,
        "total_comments": 0,
        "resolved_comments": 0,
        "user": {
            "id": user.id,
            "username": user.username,
            "initials": user.initials,
            "email": user.email,
            "color": user.color,
            "profilePicture": user.profile_picture,
        },
        "deleted": False,
        "orientation": None,
        "url": url,
        "email_data": None,
        "url_w_query": f"{url}?view=open",
        "url_w_host": url,
    }


def task_stub_json(state: WorkspaceState, task_id: str) -> dict[str, Any]:
    """A linked task inside a `tasks` / `list_relationship` value (reference §5.3)."""
    task = state.tasks.get(task_id)
    if task is None:
        return {"id": task_id, "deleted": True}
    status = state.status_of(task)
    return {
        "id": task.id,
        "name": task.name,
        "status": status.status,
        "color": status.color,
        "custom_type": None,
        "team_id": state.team.id,
        "deleted": task.deleted,
        "url": f"https://app.clickup.com/t/{task.id}",
        "access": True,
    }


def read_value(state: WorkspaceState, definition: FieldDefinition, value: Any, parent_id: str) -> Any:
    """The `value` of a set field in a task read (column R of reference §5.3)."""
    kind = definition.type
    if kind == "checkbox":
        return "true"
    if kind == "date":
        return str(value)
    if kind == "drop_down":
        option = definition.option_by_id(value)
        return option.orderindex if option is not None else None
    if kind == "users":
        return [field_user_json(state.users[user_id]) for user_id in value if user_id in state.users]
    if kind in {"tasks", "list_relationship"}:
        return [task_stub_json(state, task_id) for task_id in value]
    if kind == "automatic_progress":
        return {"percent_complete": value}
    if kind == "manual_progress":
        start = int(definition.type_config.get("start", 0))
        end = int(definition.type_config.get("end", 100))
        # UNCONFIRMED scale: `percent_completed` as a 0-100 number, `current` as a string ([GOCU]).
        percent = round((value - start) * 100 / (end - start)) if end != start else 0
        return {"current": str(value), "percent_completed": percent}
    if kind == "attachment":
        return [attachment_json(state, attachment, parent_id) for attachment in value]
    if kind in {"labels", "votes"}:
        return list(value)
    if kind == "location":
        return {**value, "location": dict(value["location"])}
    return value  # strings, numbers-as-strings, emoji int, formula


def webhook_value(definition: FieldDefinition, value: Any) -> Any:
    """`before`/`after` of a `custom_field` history item (column H of reference §5.3).

    Confirmed: drop_down sends the option id, checkbox `"true"`/null, dates ms strings. The rest is
    UNCONFIRMED; the emulator sends the stored ids: labels option ids, users user ids, tasks and
    list_relationship task ids, attachment ids, manual_progress `{"current": n}`.
    """
    if value is None:
        return None
    kind = definition.type
    if kind == "checkbox":
        return "true"
    if kind == "date":
        return str(value)
    if kind == "manual_progress":
        return {"current": value}
    if kind == "attachment":
        return [attachment.id for attachment in value]
    if kind in {"labels", "users", "tasks", "list_relationship", "votes"}:
        return list(value)
    if kind == "location":
        return {**value, "location": dict(value["location"])}
    return value
