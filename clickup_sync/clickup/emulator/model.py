"""The emulated workspace's data: plain dataclasses, no behaviour beyond small derived values.

Times are epoch milliseconds (int), as ClickUp stores them; the JSON layer turns them into strings.
Custom field values are stored in one canonical form per type (see `field_values.py`); the JSON
layer renders the read, webhook and ground-truth forms from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FieldScope = Literal["team", "space", "folder", "list"]

# Every custom field type the emulator serves (reference §5.2 official list plus the types seen in
# real responses: formula, attachment, list_relationship, votes).
FIELD_TYPES: tuple[str, ...] = (
    "drop_down",
    "labels",
    "users",
    "tasks",
    "list_relationship",
    "short_text",
    "text",
    "number",
    "currency",
    "date",
    "checkbox",
    "emoji",
    "url",
    "email",
    "phone",
    "location",
    "automatic_progress",
    "manual_progress",
    "formula",
    "attachment",
    "votes",
)


@dataclass
class Team:
    id: str
    name: str
    color: str
    avatar: str | None


@dataclass
class User:
    id: int
    username: str
    email: str
    color: str
    initials: str
    profile_picture: str | None
    role: int  # 1 owner, 2 admin, 3 member, 4 guest (reference §2)
    timezone: str = "UTC"


@dataclass
class Status:
    id: str
    status: str
    color: str
    orderindex: int
    type: str  # "open" | "custom" | "done" | "closed"

    @property
    def is_closed(self) -> bool:
        # "done" and "closed" statuses both count as closed for the include_closed filter.
        return self.type in {"closed", "done"}


@dataclass
class Tag:
    name: str
    tag_fg: str
    tag_bg: str
    creator: int


@dataclass
class Space:
    id: str
    name: str
    color: str | None
    private: bool
    archived: bool
    statuses: list[Status]
    tags: list[Tag]
    hidden_folder_id: str  # the hidden folder that holds this space's folderless lists
    multiple_assignees: bool = True


@dataclass
class Folder:
    id: str
    name: str
    space_id: str
    orderindex: int
    hidden: bool  # True for the hidden folder of folderless lists (reference §3.2)
    archived: bool = False
    override_statuses: bool = False


@dataclass
class TaskList:
    id: str
    name: str
    folder_id: str
    space_id: str
    orderindex: int
    content: str
    archived: bool = False
    statuses: list[Status] | None = None  # None: the space's statuses apply
    due_date: int | None = None
    start_date: int | None = None


@dataclass
class FieldOption:
    id: str
    name: str
    color: str | None
    orderindex: int


@dataclass
class FieldDefinition:
    id: str
    name: str
    type: str
    type_config: dict[str, Any]
    date_created: int
    scope: FieldScope
    scope_id: str  # team, space, folder or list id, by `scope`
    creator_id: int
    hide_from_guests: bool = False
    required: bool | None = False  # old fields answer `null` here (reference §5.5)
    options: list[FieldOption] = field(default_factory=list)  # drop_down and labels

    def option_by_id(self, option_id: str) -> FieldOption | None:
        return next((option for option in self.options if option.id == option_id), None)

    def option_by_orderindex(self, orderindex: int) -> FieldOption | None:
        return next((option for option in self.options if option.orderindex == orderindex), None)


@dataclass
class Dependency:
    """`task_id` waits on `depends_on` (reference §6.1). Shown on both tasks."""

    task_id: str
    depends_on: str
    date_created: int
    userid: int
    type: int = 1


@dataclass
class Link:
    """A symmetric task link; the same entry is shown on both tasks (reference §6.1)."""

    task_id: str
    link_id: str
    date_created: int
    userid: int


@dataclass
class Attachment:
    id: str
    title: str
    extension: str
    mimetype: str
    size: int
    date: int
    user_id: int


@dataclass
class Task:
    id: str
    name: str
    list_id: str
    status: str  # status name, resolved against the list's statuses
    date_created: int
    date_updated: int
    creator_id: int
    orderindex: int
    custom_id: str | None = None
    custom_item_id: int = 0
    description: str = ""
    date_closed: int | None = None
    date_done: int | None = None
    archived: bool = False
    assignee_ids: list[int] = field(default_factory=list)
    watcher_ids: list[int] = field(default_factory=list)
    tag_names: list[str] = field(default_factory=list)
    parent_id: str | None = None
    top_level_parent_id: str | None = None
    priority: int | None = None  # 1 urgent .. 4 low
    due_date: int | None = None
    due_date_time: bool = False
    start_date: int | None = None
    start_date_time: bool = False
    points: float | None = None
    time_estimate: int | None = None
    time_spent: int | None = None  # None: no time entries (key omitted in list responses)
    custom_values: dict[str, Any] = field(default_factory=dict)  # field id -> canonical value
    dependencies: list[Dependency] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    status_history: list[tuple[str, int]] = field(default_factory=list)  # (status name, entered at ms)
    deleted: bool = False
