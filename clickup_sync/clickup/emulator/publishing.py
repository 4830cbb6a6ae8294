"""Turn a task change into webhook deliveries: pick the subscriptions, build the payloads.

A change is a list of (event, history items) in delivery order. Every specific task event goes out
together with `taskUpdated` carrying the same items (reference §7.4, §9.10); `taskCreated` also
sends `taskStatusUpdated`; `taskMoved` also sends `spaceUpdated`. A subscription gets an event when
it subscribed to it (or to `*`) and its location (task, else list, else folder, else space — the
most specific one set) contains the task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from clickup_sync.clickup.emulator.state import RecordedEvent, WorkspaceState

if TYPE_CHECKING:
    from clickup_sync.clickup.emulator.webhooks import WebhookSubscription

# The specific task events that ClickUp also delivers as taskUpdated.
SPECIFIC_TASK_EVENTS = frozenset(
    {
        "taskStatusUpdated",
        "taskPriorityUpdated",
        "taskAssigneeUpdated",
        "taskDueDateUpdated",
        "taskTagUpdated",
        "taskMoved",
        "taskTimeEstimateUpdated",
    }
)
TASK_EVENTS = (
    "taskCreated",
    "taskUpdated",
    "taskDeleted",
    "taskPriorityUpdated",
    "taskStatusUpdated",
    "taskAssigneeUpdated",
    "taskDueDateUpdated",
    "taskTagUpdated",
    "taskMoved",
    "taskCommentPosted",
    "taskCommentUpdated",
    "taskTimeEstimateUpdated",
    "taskTimeTrackedUpdated",
)
OTHER_EVENTS = (
    "listCreated",
    "listUpdated",
    "listDeleted",
    "folderCreated",
    "folderUpdated",
    "folderDeleted",
    "spaceCreated",
    "spaceUpdated",
    "spaceDeleted",
    "goalCreated",
    "goalUpdated",
    "goalDeleted",
    "keyResultCreated",
    "keyResultUpdated",
    "keyResultDeleted",
)
ALL_EVENTS = frozenset((*TASK_EVENTS, *OTHER_EVENTS))


class DeliverySink(Protocol):
    """What the workspace hands deliveries to; `WebhookDispatcher` is one."""

    def publish(self, subscription: WebhookSubscription, payload: dict[str, Any]) -> None: ...


@dataclass
class TaskChange:
    """The webhook side of one change to one task."""

    task_id: str
    list_id: str  # home list after the change
    previous_list_id: str | None = None  # set by moves: both lists' subscribers hear about it
    events: list[tuple[str, list[dict[str, Any]] | None]] = field(default_factory=list)
    space_updated: str | None = None  # space id for the spaceUpdated that follows a move

    def add(self, specific_event: str, items: list[dict[str, Any]]) -> None:
        """Queue `items` under `specific_event` and, for specific events, under taskUpdated too."""
        if not items:
            return
        self.events.append((specific_event, items))
        if specific_event in SPECIFIC_TASK_EVENTS:
            self.events.append(("taskUpdated", items))


def _subscribed(subscription: WebhookSubscription, event: str) -> bool:
    return "*" in subscription.events or event in subscription.events


def _location_matches(state: WorkspaceState, subscription: WebhookSubscription, change: TaskChange) -> bool:
    list_ids = [change.list_id] + ([change.previous_list_id] if change.previous_list_id else [])
    lists = [state.lists[list_id] for list_id in list_ids]
    if subscription.task_id is not None:
        return subscription.task_id == change.task_id
    if subscription.list_id is not None:
        return str(subscription.list_id) in list_ids
    if subscription.folder_id is not None:
        return any(str(subscription.folder_id) == task_list.folder_id for task_list in lists)
    if subscription.space_id is not None:
        return any(str(subscription.space_id) == task_list.space_id for task_list in lists)
    return True


def task_payload(
    event: str, items: list[dict[str, Any]] | None, task_id: str, webhook_id: str
) -> dict[str, Any]:
    # Key order of reference §7.6: event, history_items, task_id, webhook_id (taskDeleted has no items).
    payload: dict[str, Any] = {"event": event}
    if items is not None:
        payload["history_items"] = items
    payload["task_id"] = task_id
    payload["webhook_id"] = webhook_id
    return payload


def publish_change(state: WorkspaceState, sink: DeliverySink | None, change: TaskChange) -> None:
    state.record(
        RecordedEvent(event, change.task_id, tuple(items or ()), change.list_id)
        for event, items in change.events
    )
    if sink is None:
        return
    for subscription in list(state.webhooks.values()):
        if not _location_matches(state, subscription, change):
            continue
        for event, items in change.events:
            if _subscribed(subscription, event):
                sink.publish(subscription, task_payload(event, items, change.task_id, subscription.id))
        space_id = change.space_updated
        space_level = subscription.task_id is None and subscription.list_id is None
        if space_id and space_level and _subscribed(subscription, "spaceUpdated"):
            sink.publish(
                subscription,
                {"event": "spaceUpdated", "space_id": space_id, "webhook_id": subscription.id},
            )
