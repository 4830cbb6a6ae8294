"""The generated custom field definitions and their values on generated tasks.

Every type of reference §5.2/§5.3 is present, at four levels (workspace, space, folder, list), with
names real workspaces have: emoji with variation selectors, CJK, accents, and an SQL-looking name.
A task in a foldered list sees 23 fields, one in a folderless list 18 (about 20 on average).
"""

from __future__ import annotations

import random
from typing import Any

from clickup_sync.clickup.emulator.field_json import option_type_config
from clickup_sync.clickup.emulator.generated_values import field_value
from clickup_sync.clickup.emulator.model import Attachment, FieldDefinition, FieldOption, FieldScope
from clickup_sync.clickup.emulator.state import WorkspaceState

SQL_LOOKING_NAME = 'x"; DROP TABLE tasks; --'

# (name, type, chance that a task has a value)
TEAM_FIELDS = [
    ("🗓️ Add to calendar", "checkbox", 0.3),
    ("PM 期望完成日", "date", 0.4),
    (SQL_LOOKING_NAME, "short_text", 0.3),
    ("Client", "drop_down", 0.6),
]
SPACE_FIELDS = [
    ("Priority Score", "number", 0.6),
    ("Budget", "currency", 0.4),
    ("Customer email", "email", 0.3),
    ("Órden de compra", "list_relationship", 0.2),
    ("💯Progress", "automatic_progress", 1.0),
]
FOLDER_FIELDS = [
    ("Team", "labels", 0.5),
    ("Reviewers", "users", 0.4),
    ("Rating", "emoji", 0.4),
    ("Website", "url", 0.3),
    ("Phone #", "phone", 0.2),
]
LIST_FIELDS = [
    ("Stage", "drop_down", 0.7),
    ("Notes", "text", 0.3),
    ("Story Points", "number", 0.5),
    ("Blocked by", "tasks", 0.15),
    ("Office", "location", 0.15),
    ("⏳ Content Progress", "manual_progress", 0.3),
    ("days left", "formula", 1.0),
    ("Files", "attachment", 0.05),
    ("Votes", "votes", 0.2),
]
_FILL_CHANCE = {
    (name, kind): chance for name, kind, chance in [*TEAM_FIELDS, *SPACE_FIELDS, *FOLDER_FIELDS, *LIST_FIELDS]
}
_OPTION_NAMES = {
    "Client": ["Acme 🏭", "Globex", "Initech", "Umbrella", "株式会社テスト"],
    "Stage": ["No Marketing Needed", "Internal Announcement", "Release Notes Only", "Blog Post", "Launch 🚀"],
    "Team": ["Backend", "Frontend", "Design", "QA", "Données"],
}
_COLORS = ["#b5bcc2", "#02BCD4", "#7b68ee", "#FF4081", "#6bc950", None]
_DAYS_LEFT_FORMULA = (
    'IF(SUM(1, DAYS(TASK_DUE_DATE,TODAY())), CONCATENATE(SUM(1, DAYS(TASK_DUE_DATE,TODAY())), " d"), "N/A")'
)
_FIELD_EPOCH_MS = 1_672_531_200_000  # 2023-01-01: fields predate the generated tasks


def _type_config(kind: str, state: WorkspaceState, scope_id: str) -> dict[str, Any]:
    if kind == "users":
        return {"include_guests": False, "include_team_members": True, "single_user": False}
    if kind == "currency":
        return {"default": None, "precision": 2, "currency_type": "USD"}
    if kind == "emoji":
        return {"code_point": "2b50", "count": 5}
    if kind == "automatic_progress":
        return {
            "tracking": {"subtasks": True, "checklists": True, "assigned_comments": True},
            "complete_on": 3,
            "subtask_rollup": False,
        }
    if kind == "manual_progress":
        return {"start": 0, "end": 100}
    if kind == "votes":
        return {"code_point": "1f44d", "hide_voters": False}
    if kind == "formula":
        return {
            "simple": False,
            "formula": _DAYS_LEFT_FORMULA,
            "version": "1.12",
            "is_dynamic": False,
            "return_types": ["text"],
            "calculation_state": "ready",
        }
    if kind == "list_relationship":
        space = state.spaces[scope_id]
        related = next(
            task_list
            for task_list in state.lists.values()
            if task_list.space_id == space.id and task_list.folder_id == space.hidden_folder_id
        )
        return {"fields": [], "subcategory_id": related.id, "subcategory_inverted_name": "Órdenes de Compra"}
    return {}


def make_field(
    state: WorkspaceState,
    rng: random.Random,
    name: str,
    kind: str,
    scope: FieldScope,
    scope_id: str,
) -> FieldDefinition:
    options: list[FieldOption] = []
    type_config = _type_config(kind, state, scope_id)
    if kind in {"drop_down", "labels"}:
        names = _OPTION_NAMES.get(name, ["Option A", "Option B", "Option C"])
        options = [
            FieldOption(state.ids.uuid(), option_name, rng.choice(_COLORS), index)
            for index, option_name in enumerate(names)
        ]
        type_config = option_type_config(kind, options)
    definition = FieldDefinition(
        id=state.ids.uuid(),
        name=name,
        type=kind,
        type_config=type_config,
        date_created=_FIELD_EPOCH_MS + rng.randrange(300 * 86_400_000),
        scope=scope,
        scope_id=scope_id,
        creator_id=state.owner.id,
        # Fields created years ago answer `required: null` (reference §5.5).
        required=None if kind == "formula" else False,
        options=options,
    )
    state.add_field(definition)
    return definition


def build_fields(state: WorkspaceState, rng: random.Random) -> None:
    for name, kind, _ in TEAM_FIELDS:
        make_field(state, rng, name, kind, "team", state.team.id)
    for space in state.spaces.values():
        for name, kind, _ in SPACE_FIELDS:
            make_field(state, rng, name, kind, "space", space.id)
    for folder in state.folders.values():
        if not folder.hidden:
            for name, kind, _ in FOLDER_FIELDS:
                make_field(state, rng, name, kind, "folder", folder.id)
    for task_list in state.lists.values():
        for name, kind, _ in LIST_FIELDS:
            make_field(state, rng, name, kind, "list", task_list.id)


def fill_field_values(state: WorkspaceState, rng: random.Random) -> None:
    """Give generated tasks values; relationship fields point at earlier-generated tasks."""
    user_ids = list(state.users)
    all_ids = state.all_task_ids()
    random_value = rng.random
    for task_id in all_ids:
        task = state.tasks[task_id]
        values = task.custom_values
        for definition in state.fields_for_list(task.list_id):
            if random_value() >= _FILL_CHANCE[(definition.name, definition.type)]:
                continue
            kind = definition.type
            if kind == "tasks":
                picked = [rng.choice(all_ids) for _ in range(rng.randint(1, 2))]
                values[definition.id] = [other for other in dict.fromkeys(picked) if other != task_id] or None
            elif kind == "list_relationship":
                related = state.task_ids_in_list(definition.type_config["subcategory_id"])
                if related:
                    values[definition.id] = list(dict.fromkeys(rng.choice(related) for _ in range(2)))
            elif kind == "attachment":
                attachment_id = state.ids.attachment_id("pdf")
                values[definition.id] = [
                    Attachment(
                        attachment_id,
                        "contract.pdf",
                        "pdf",
                        "application/pdf",
                        48_213,
                        task.date_created + 60_000,
                        task.creator_id,
                    )
                ]
            else:
                values[definition.id] = field_value(rng, definition, user_ids, task.date_created)
            if values.get(definition.id) is None:
                values.pop(definition.id, None)
