"""Webhook CRUD: `POST|GET /team/{id}/webhook`, `PUT|DELETE /webhook/{id}` (reference §7.1).

The secret is returned on create and in GET (as the official example shows). Creating the same
endpoint + location + events twice answers 400 OAUTH_171. `PUT` with `status: "active"` brings a
suspended or failing webhook back and resets `fail_count`. Health itself is kept by the dispatcher.
"""

from __future__ import annotations

from typing import Any

from clickup_sync.clickup.emulator import api_errors
from clickup_sync.clickup.emulator.api_errors import ApiError
from clickup_sync.clickup.emulator.model import User
from clickup_sync.clickup.emulator.publishing import ALL_EVENTS
from clickup_sync.clickup.emulator.state import WorkspaceState
from clickup_sync.clickup.emulator.webhooks import WebhookSubscription

_LOCATION_KEYS = ("space_id", "folder_id", "list_id", "task_id")


def webhook_json(subscription: WebhookSubscription) -> dict[str, Any]:
    # Location id types follow [GOCU]: list_id an int, folder/space ids strings (reference §7.1).
    return {
        "id": subscription.id,
        "userid": subscription.userid,
        "team_id": subscription.team_id,
        "endpoint": subscription.endpoint,
        "client_id": subscription.client_id,
        "events": list(subscription.events),
        "task_id": subscription.task_id,
        "list_id": int(subscription.list_id) if subscription.list_id is not None else None,
        "folder_id": subscription.folder_id,
        "space_id": subscription.space_id,
        "health": subscription.health(),
        "secret": subscription.secret,
    }


def _check_team(state: WorkspaceState, team_id: str) -> None:
    if team_id != state.team.id:
        raise api_errors.team_not_authorized()


def _events(value: object) -> list[str]:
    if value is None or value == "*":
        return ["*"]  # "If you don't specify any events, all events will be sent"
    if not isinstance(value, list) or not value or not all(isinstance(event, str) for event in value):
        raise api_errors.bad_request(
            "events must be an array of event names", "OAUTH_172"
        )  # UNCONFIRMED code
    unknown = [event for event in value if event != "*" and event not in ALL_EVENTS]
    if unknown:
        raise api_errors.bad_request(f"Invalid events: {', '.join(unknown)}", "OAUTH_172")
    return list(dict.fromkeys(value))


def _endpoint(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise api_errors.bad_request("endpoint is required", "OAUTH_173")  # UNCONFIRMED code
    return value


def _location(state: WorkspaceState, body: dict[str, Any]) -> dict[str, str | None]:
    location: dict[str, str | None] = {}
    for key in _LOCATION_KEYS:
        value = body.get(key)
        if value is None:
            location[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise api_errors.bad_request(f"{key} must be an id")
        location[key] = str(value)
    for key, known in (("space_id", state.spaces), ("folder_id", state.folders), ("list_id", state.lists)):
        if location[key] is not None and location[key] not in known:
            raise api_errors.not_found(key.removesuffix("_id").capitalize())
    if location["task_id"] is not None:
        state.live_task(str(location["task_id"]))
    return location


def create_webhook(
    state: WorkspaceState, team_id: str, body: dict[str, Any], actor: User
) -> WebhookSubscription:
    _check_team(state, team_id)
    endpoint = _endpoint(body.get("endpoint"))
    if "events" not in body:
        raise api_errors.bad_request("events is required", "OAUTH_172")
    events = _events(body["events"])
    location = _location(state, body)
    for existing in state.webhooks.values():
        same_location = all(getattr(existing, key) == location[key] for key in _LOCATION_KEYS)
        if existing.endpoint == endpoint and same_location and set(existing.events) == set(events):
            raise api_errors.webhook_exists()
    subscription = WebhookSubscription(
        id=state.ids.uuid(),
        userid=actor.id,
        team_id=int(state.team.id),
        endpoint=endpoint,
        events=events,
        secret=state.ids.webhook_secret(),
        space_id=location["space_id"],
        folder_id=location["folder_id"],
        list_id=location["list_id"],
        task_id=location["task_id"],
    )
    state.webhooks[subscription.id] = subscription
    return subscription


def list_webhooks(state: WorkspaceState, team_id: str, actor: User) -> list[WebhookSubscription]:
    """Only the caller's webhooks (reference §9.12)."""
    _check_team(state, team_id)
    return [subscription for subscription in state.webhooks.values() if subscription.userid == actor.id]


def _webhook(state: WorkspaceState, webhook_id: str) -> WebhookSubscription:
    subscription = state.webhooks.get(webhook_id)
    if subscription is None:
        raise ApiError(404, "Webhook not found", "OAUTH_174")  # UNCONFIRMED code
    return subscription


def update_webhook(state: WorkspaceState, webhook_id: str, body: dict[str, Any]) -> WebhookSubscription:
    subscription = _webhook(state, webhook_id)
    endpoint = _endpoint(body["endpoint"]) if "endpoint" in body else subscription.endpoint
    events = _events(body.get("events")) if "events" in body else subscription.events
    status = body.get("status")
    if status is not None and status not in {"active", "suspended"}:
        raise api_errors.bad_request("status must be active or suspended", "OAUTH_175")  # UNCONFIRMED code
    subscription.endpoint = endpoint
    subscription.events = events
    if status == "active":
        # reference §7.7: reactivation resets the failure count
        subscription.status = "active"
        subscription.fail_count = 0
    elif status == "suspended":
        subscription.status = "suspended"
    return subscription


def delete_webhook(state: WorkspaceState, webhook_id: str) -> None:
    _webhook(state, webhook_id)
    del state.webhooks[webhook_id]
