"""Deterministic workspace generator: the same (seed, tasks) always gives the same workspace.

Shape: one team with 8 users; 2-3 spaces, each with folders, folderless lists (in the space's hidden
folder) and a "Purchase Orders" list that a list_relationship field points at; an archived list
with tasks; one list with more than 100 tasks once `tasks` allows it; nested subtasks; closed and
archived tasks; dependencies, links, tags; custom fields of every type at workspace, space, folder
and list level (about 20 per task in a foldered list). Generated timestamps fall in 2024, so every
later change is newer.
"""

from __future__ import annotations

import gc
import random
from dataclasses import dataclass

from clickup_sync.clickup.emulator.field_catalogue import build_fields, fill_field_values
from clickup_sync.clickup.emulator.generated_values import DAY_MS, task_description, task_name
from clickup_sync.clickup.emulator.identifiers import IdFactory
from clickup_sync.clickup.emulator.model import (
    Attachment,
    Dependency,
    Folder,
    Link,
    Space,
    Status,
    Tag,
    Task,
    TaskList,
    Team,
    User,
)
from clickup_sync.clickup.emulator.state import MonotonicClock, WorkspaceState

GENERATION_START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
GENERATION_END_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
_FREEZE_FROM_TASKS = 10_000

_USERS = [
    ("Alex Johnson", "alex", 1, "#827718"),
    ("Zoë Müller", "zoe", 2, "#FC575E"),
    ("山田 太郎", "taro", 3, "#7b68ee"),
    ("Priya Natarajan", "priya", 3, "#02BCD4"),
    ("Olusegun Adebayo", "olu", 3, "#f9d900"),
    ("María José Núñez", "mariajose", 3, "#6bc950"),
    ("Chen Wei", "chen", 3, "#d60800"),
    ("Guest Reviewer", "guest", 4, "#b5bcc2"),
]
_SPACE_NAMES = ["Engineering", "Marketing 📣", "Operações"]
_STATUS_SETS = [
    [
        ("to do", "#d3d3d3", "open"),
        ("in progress", "#4194f6", "custom"),
        ("review", "#a875ff", "custom"),
        ("complete", "#6bc950", "closed"),
    ],
    [
        ("backlog", "#d3d3d3", "open"),
        ("doing", "#f9d900", "custom"),
        ("blocked", "#d60800", "custom"),
        ("done", "#008844", "done"),
        ("closed", "#6bc950", "closed"),
    ],
]
_TAGS = [
    ("bug", "#EA80FC"),
    ("feature", "#02BCD4"),
    ("urgent", "#d60800"),
    ("backend", "#7b68ee"),
    ("🔥 hot", "#FF4081"),
    ("日本語", "#6bc950"),
]
_FOLDER_NAMES = ["Mobile Squad", "Web Platform", "Campaigns", "Data & Analytics", "Customer Success", "Infra"]
_LIST_NAMES = ["Sprint Backlog", "Bugs", "Roadmap", "Content Calendar", "Requests", "Ideas", "Releases"]


@dataclass
class _Plan:
    """Where the generator puts tasks: list id -> how many (subtasks included)."""

    budgets: dict[str, int]


def generate_workspace(seed: int, tasks: int) -> WorkspaceState:
    # Millions of small objects and no cycles to collect: the cyclic GC would only slow this down,
    # and for big workspaces its later full passes over them would stall requests for seconds, so
    # the generated objects are moved out of its reach (gc.freeze).
    collecting = gc.isenabled()
    gc.disable()
    try:
        state = _generate(seed, tasks)
        if tasks >= _FREEZE_FROM_TASKS:
            gc.freeze()
        return state
    finally:
        if collecting:
            gc.enable()


def _generate(seed: int, tasks: int) -> WorkspaceState:
    rng = random.Random(f"workspace:{seed}")
    ids = IdFactory(seed)
    team = Team(
        id=str(9_015_000_000 + rng.randrange(1_000_000)),
        name=f"Emulated Workspace {seed}",
        color="#7b68ee",
        avatar=None,
    )
    state = WorkspaceState(team=team, seed=seed, ids=ids, clock=MonotonicClock(GENERATION_END_MS))
    _add_users(state, rng)
    plan = _add_hierarchy(state, rng, max(tasks, 1))
    build_fields(state, rng)
    _add_tasks(state, rng, plan)
    state.sort_indexes()
    fill_field_values(state, rng)
    _add_relationships(state, rng)
    return state


def _add_users(state: WorkspaceState, rng: random.Random) -> None:
    for number, (name, handle, role, color) in enumerate(_USERS):
        user_id = 2_700_000 + number * 10_007 + rng.randrange(10_000)
        initials = "".join(part[0] for part in name.split()[:2]).upper()
        picture = (
            None if number % 3 else f"https://attachments-public.clickup.com/profilePictures/{user_id}_x.jpg"
        )
        state.users[user_id] = User(user_id, name, f"{handle}@example.com", color, initials, picture, role)


def _statuses(state: WorkspaceState, status_set: int, prefix: str) -> list[Status]:
    return [
        Status(state.ids.status_id(prefix), name, color, orderindex, kind)
        for orderindex, (name, color, kind) in enumerate(_STATUS_SETS[status_set])
    ]


def _add_hierarchy(state: WorkspaceState, rng: random.Random, tasks: int) -> _Plan:
    owner = state.owner.id
    list_count = max(12, min(tasks // 120, 400))
    space_count = 2 if tasks < 100 else 3
    spaces: list[Space] = []
    for number in range(space_count):
        space_id = state.ids.numeric_id()
        hidden = Folder(state.ids.numeric_id(), "hidden", space_id, 0, hidden=True)
        state.folders[hidden.id] = hidden
        space = Space(
            space_id,
            _SPACE_NAMES[number],
            ["#7b68ee", "#FF4081", None][number],
            number == 2,
            False,
            _statuses(state, number % 2, f"p{space_id}"),
            [Tag(name, color, color, owner) for name, color in _TAGS],
            hidden.id,
        )
        state.spaces[space_id] = space
        spaces.append(space)
    # Per space: a folderless "Purchase Orders" list (target of the list_relationship field) first.
    lists: list[TaskList] = []
    for space in spaces:
        purchase = TaskList(
            state.ids.numeric_id(),
            "Purchase Orders 🧾",
            space.hidden_folder_id,
            space.id,
            0,
            "Órdenes de Compra",
        )
        state.lists[purchase.id] = purchase
        lists.append(purchase)
    folder_number = 0
    for index in range(list_count - len(spaces)):
        space = spaces[index % len(spaces)]
        in_space = index // len(spaces)
        if in_space % 3 == 2:  # every third list of a space is folderless
            folder_id = space.hidden_folder_id
        else:
            folder_key = in_space // 3
            folder_id = _folder_for(state, space, folder_key, folder_number)
            folder_number += 1
        name = f"{_LIST_NAMES[index % len(_LIST_NAMES)]} {index // len(_LIST_NAMES) + 1}"
        task_list = TaskList(
            state.ids.numeric_id(), name, folder_id, space.id, in_space + 1, f"Tasks for {name}"
        )
        state.lists[task_list.id] = task_list
        lists.append(task_list)
    big_list = lists[len(spaces)]
    big_list.name = "Sprint Backlog"
    # One list in a foldered space overrides the space statuses (ids prefixed "sc").
    custom_status_list = lists[len(spaces) + 1]
    custom_status_list.statuses = _statuses(state, 1, f"sc{custom_status_list.id}")
    archived = TaskList(
        state.ids.numeric_id(),
        "Q3 Sprint (archived)",
        spaces[0].hidden_folder_id,
        spaces[0].id,
        99,
        "Closed sprint",
        archived=True,
    )
    state.lists[archived.id] = archived
    _add_archived_folder(state, spaces[-1])
    return _Plan(_budgets(rng, tasks, lists, big_list, archived))


def _folder_for(state: WorkspaceState, space: Space, folder_key: int, folder_number: int) -> str:
    existing = [f for f in state.folders.values() if f.space_id == space.id and not f.hidden]
    if folder_key < len(existing):
        return existing[folder_key].id
    name = _FOLDER_NAMES[folder_number % len(_FOLDER_NAMES)]
    if folder_number >= len(_FOLDER_NAMES):
        name = f"{name} {folder_number // len(_FOLDER_NAMES) + 1}"
    folder = Folder(state.ids.numeric_id(), name, space.id, folder_key, hidden=False)
    state.folders[folder.id] = folder
    return folder.id


def _add_archived_folder(state: WorkspaceState, space: Space) -> None:
    folder = Folder(state.ids.numeric_id(), "Archive 2023", space.id, 50, hidden=False, archived=True)
    state.folders[folder.id] = folder
    old = TaskList(state.ids.numeric_id(), "Old requests", folder.id, space.id, 0, "", archived=False)
    state.lists[old.id] = old


def _budgets(
    rng: random.Random, tasks: int, lists: list[TaskList], big: TaskList, archived: TaskList
) -> dict[str, int]:
    budgets = {task_list.id: 0 for task_list in lists}
    budgets[archived.id] = max(1, tasks // 40) if tasks >= 10 else 0
    # A list past the 100-task page size: 160+ tasks from 300 tasks up, half the tasks below that.
    budgets[big.id] = max(160, tasks // 10) if tasks >= 300 else tasks // 2
    rest = tasks - budgets[archived.id] - budgets[big.id]
    others = [task_list for task_list in lists if task_list is not big]
    weights = [rng.uniform(0.5, 1.5) for _ in others]
    total_weight = sum(weights)
    for task_list, weight in zip(others, weights, strict=True):
        budgets[task_list.id] = int(rest * weight / total_weight)
    budgets[big.id] += tasks - sum(budgets.values())  # rounding leftovers
    return budgets


class _TaskFactory:
    def __init__(self, state: WorkspaceState, rng: random.Random) -> None:
        self.state = state
        self.rng = rng
        self.user_ids = list(state.users)
        self.member_ids = [u.id for u in state.users.values() if u.role != 4]
        self.number = 0
        self.custom_number = 42

    def make(self, task_list: TaskList, parent: Task | None) -> Task:
        rng, state = self.rng, self.state
        self.number += 1
        if parent is None:
            created = rng.randint(GENERATION_START_MS, GENERATION_END_MS - 90 * DAY_MS)
        else:
            created = parent.date_created + rng.randint(60_000, 5 * DAY_MS)
        statuses = state.statuses_of_list(task_list)
        roll = rng.random()
        status = statuses[0] if roll < 0.35 else statuses[-1] if roll > 0.83 else rng.choice(statuses[1:-1])
        updated = created + rng.randint(0, 60 * DAY_MS)
        custom_id = None
        if rng.random() < 0.05:
            self.custom_number += 1
            custom_id = f"DEF-{self.custom_number}"
        assignees = rng.sample(self.member_ids, rng.choice([0, 1, 1, 1, 2]))
        creator = rng.choice(self.member_ids)
        task = Task(
            id=state.ids.task_id(),
            name=task_name(rng, self.number),
            list_id=task_list.id,
            status=status.status,
            date_created=created,
            date_updated=updated,
            creator_id=creator,
            orderindex=self.number,
            custom_id=custom_id,
            custom_item_id=1 if rng.random() < 0.02 else 0,
            description=task_description(rng),
            assignee_ids=assignees,
            watcher_ids=list(dict.fromkeys([creator, *assignees])),
            tag_names=[
                tag.name
                for tag in rng.sample(state.spaces[task_list.space_id].tags, rng.choice([0, 0, 1, 2]))
            ],
            parent_id=parent.id if parent else None,
            top_level_parent_id=(parent.top_level_parent_id or parent.id) if parent else None,
            priority=rng.choice([None, None, 1, 2, 3, 3, 4]),
            archived=rng.random() < 0.03,
        )
        task.status_history = [(statuses[0].status, created)]
        if status.status != statuses[0].status:
            task.status_history.append((status.status, created + (updated - created) // 2))
        if status.is_closed:
            task.date_closed = task.date_done = created + (updated - created) // 2
        if rng.random() < 0.5:
            task.due_date = created + rng.randint(1, 60) * DAY_MS
            task.due_date_time = rng.random() < 0.3
            if rng.random() < 0.4:
                task.start_date = task.due_date - rng.randint(1, 10) * DAY_MS
        if rng.random() < 0.3:
            task.points = rng.choice([1, 2, 3, 5, 8, 0.5])
        if rng.random() < 0.3:
            task.time_estimate = rng.randint(1, 40) * 1_800_000
        if rng.random() < 0.2:
            task.time_spent = rng.randint(1, 30) * 900_000
        if rng.random() < 0.03:
            task.attachments.append(
                Attachment(
                    state.ids.attachment_id("txt"),
                    "error-logs.txt",
                    "txt",
                    "text/plain",
                    rng.randint(1000, 200_000),
                    created + 1000,
                    creator,
                )
            )
        state.append_unsorted(task)
        return task


def _add_tasks(state: WorkspaceState, rng: random.Random, plan: _Plan) -> None:
    factory = _TaskFactory(state, rng)
    first_list = True
    for list_id, budget in plan.budgets.items():
        task_list = state.lists[list_id]
        remaining = budget
        while remaining > 0:
            top = factory.make(task_list, None)
            remaining -= 1
            if first_list and budget >= 4:
                # Guarantee a chain of three subtask levels in the first list.
                first_list = False
                parent = top
                for _ in range(3):
                    parent = factory.make(task_list, parent)
                    remaining -= 1
                continue
            remaining -= _add_subtasks(factory, task_list, top, 1, remaining)


def _add_subtasks(factory: _TaskFactory, task_list: TaskList, parent: Task, level: int, budget: int) -> int:
    """Add 0-3 subtasks (recursively, up to 3 levels); return how many tasks were made."""
    chance = {1: 0.15, 2: 0.25, 3: 0.3}.get(level, 0.0)
    if budget <= 0 or factory.rng.random() >= chance:
        return 0
    made = 0
    for _ in range(factory.rng.randint(1, 3 if level == 1 else 2)):
        if made >= budget:
            break
        child = factory.make(task_list, parent)
        made += 1
        made += _add_subtasks(factory, task_list, child, level + 1, budget - made)
    return made


def _add_relationships(state: WorkspaceState, rng: random.Random) -> None:
    """Dependencies in both directions and links, about 4% and 3% of tasks."""
    task_ids = state.all_task_ids()
    if len(task_ids) < 2:
        return
    seen: set[tuple[str, str]] = set()
    for task_id in task_ids:
        task = state.tasks[task_id]
        roll = rng.random()
        if roll < 0.07:
            other = state.tasks[rng.choice(task_ids)]
            if other.id == task.id or (task.id, other.id) in seen or (other.id, task.id) in seen:
                continue
            seen.add((task.id, other.id))
            when = max(task.date_created, other.date_created) + rng.randint(1, 5) * 3_600_000
            user = rng.choice(list(state.users))
            task.date_updated = max(task.date_updated, when)
            other.date_updated = max(other.date_updated, when)
            if roll < 0.04:
                # the same entry is shown on both tasks (reference §6.1)
                dependency = Dependency(task.id, other.id, when, user)
                task.dependencies.append(dependency)
                other.dependencies.append(dependency)
            else:
                link = Link(task.id, other.id, when, user)
                task.links.append(link)
                other.links.append(link)
