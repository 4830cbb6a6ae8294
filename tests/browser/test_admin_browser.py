"""The admin interface in a real headless Chromium: sign in through the form, read the dashboard,
find a task and read its timeline, replay a dead letter. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ServiceThread
from tests.integration.admin.conftest import (
    EMOJI_NAME,
    FIELD_NAME,
    PASSWORD,
    SCHEMA,
    admin_settings,
    execute,
    seed_mirror,
)

# The first test may install Chromium with apt-get (a fresh machine): allow it more than the default.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
TIMEOUT_MS = 10_000


@pytest.fixture
def service(database_url: str) -> Iterator[ServiceThread]:
    seed_mirror(database_url)
    with ServiceThread(admin_settings(database_url), database_url, SCHEMA) as running:
        yield running


@pytest.fixture
def page(browser: Browser, service: ServiceThread) -> Iterator[Page]:
    context = browser.new_context(base_url=service.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def sign_in(page: Page) -> None:
    page.goto("/admin/")
    expect(page).to_have_url("/admin/login?next=%2F")
    page.get_by_label("User").fill("admin")
    page.get_by_label("Password or token").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def add_dead_delivery(database_url: str) -> int:
    """A delivery whose processing failed for good, as the worker leaves it."""
    item = {
        "id": "browser-item", "type": 1, "date": "1764460800000", "field": "status", "parent_id": "1",
        "data": {}, "source": None, "user": {"id": 185}, "before": {"status": "to do", "type": "open"},
        "after": {"status": "done", "type": "closed"},
    }  # fmt: skip
    body = orjson.dumps(
        {"event": "taskStatusUpdated", "history_items": [item], "task_id": "t1", "webhook_id": "w1"}
    )
    [(delivery_id,)] = execute(
        database_url,
        "INSERT INTO {s}.webhook_deliveries (webhook_id, event, task_id, body, status, attempts, last_error,"
        " history_item_ids) VALUES ('w1', 'taskStatusUpdated', 't1', %s, 'dead', 6,"
        " 'OperationalError: the database went away', '{browser-item}') RETURNING id",
        (body,),
    )
    execute(
        database_url,
        "INSERT INTO {s}.webhook_history_items (webhook_id, history_item_id, delivery_id)"
        " VALUES ('w1', 'browser-item', %s)",
        (delivery_id,),
    )
    execute(
        database_url,
        "INSERT INTO {s}.procrastinate_jobs (queue_name, task_name, args, status, attempts)"
        " VALUES ('webhooks', 'process_delivery', %s, 'failed', 6)",
        (orjson.dumps({"delivery_id": delivery_id}).decode(),),
    )
    return int(delivery_id)


def test_sign_in_and_read_the_dashboard(page: Page, artifacts: Path) -> None:
    sign_in(page)
    expect(page.locator("#received")).to_have_text("3")
    expect(page.locator("#rate-limit")).to_have_text("87 of 100")
    expect(page.locator("#webhooks")).to_contain_text("failing")
    page.screenshot(path=artifacts / "dashboard.png", full_page=True)
    print(f"screenshots in {artifacts}")


def test_find_a_task_by_custom_id_and_read_its_timeline(page: Page, artifacts: Path) -> None:
    sign_in(page)
    page.get_by_role("link", name="Tasks").click()
    page.get_by_label("Task id, custom id or name").fill("DEF-43")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url("/admin/tasks/t1")
    expect(page.locator("#task-name")).to_have_text(EMOJI_NAME)
    timeline = page.locator("#timeline tbody tr")
    expect(timeline).to_have_count(2)
    expect(timeline.first).to_contain_text(FIELD_NAME)
    expect(timeline.nth(1)).to_contain_text("webhook")
    page.screenshot(path=artifacts / "task-timeline.png", full_page=True)


def test_replay_a_dead_letter(page: Page, service: ServiceThread, database_url: str, artifacts: Path) -> None:
    delivery_id = add_dead_delivery(database_url)
    sign_in(page)
    expect(page.locator("#dead-letters")).to_have_text("1")
    page.locator("#dead-letters a").click()
    row = page.locator("#dead-deliveries tbody tr")
    expect(row).to_contain_text("the database went away")
    page.screenshot(path=artifacts / "dead-letters.png", full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())  # "Replay every dead delivery now?"
    page.get_by_role("button", name="Replay all").click()
    expect(page.locator("#action-result")).to_contain_text("Replayed: 1 processed")
    expect(page.locator("#dead-deliveries")).to_have_count(0)
    page.screenshot(path=artifacts / "dead-letters-replayed.png", full_page=True)

    assert execute(
        database_url, "SELECT status FROM {s}.webhook_deliveries WHERE id = %s", (delivery_id,)
    ) == [("processed",)]
    assert execute(
        database_url, "SELECT new_value, changed_by FROM {s}.field_changes WHERE event_id = 'browser-item'"
    ) == [("done", "185")]
