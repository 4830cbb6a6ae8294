"""Each admin page renders the real rows: the dashboard's figures, a task with its custom values,
relationships and timeline (names escaped, emoji and CJK intact), the change log filtered and
exported as CSV, and Airbyte coverage by reason."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import markupsafe
import pytest

from clickup_sync.ops.changes import CSV_COLUMNS
from tests.integration.admin.conftest import (
    EMOJI_NAME,
    FIELD_NAME,
    HTML_NAME,
    OLD_NAME,
    AdminService,
    execute,
)

pytestmark = pytest.mark.anyio


def escaped(text: str) -> str:
    """As Jinja's autoescape writes it."""
    return str(markupsafe.escape(text))


def cell(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    assert match, f"#{element_id} not on the page"
    return html.unescape(re.sub(r"<[^>]+>", "", match[1])).strip()


async def test_dashboard_shows_the_figures(service: AdminService, seeded: str) -> None:
    page = (await service.http.get("/admin/")).text
    assert (cell(page, "received"), cell(page, "rejected"), cell(page, "duplicate")) == ("3", "2", "1")
    assert (cell(page, "queue-depth"), cell(page, "parked"), cell(page, "dead-letters")) == ("0", "0", "0")
    assert cell(page, "rate-limit") == "87 of 100"
    assert cell(page, "airbyte-syncs").startswith("2, last started 2026-11-29T00:00:00Z")
    assert "2026-11-29T02:00:30Z</time>, succeeded, 12 changes" in page  # the last finished reconcile
    webhooks = page.split('id="webhooks"')[1]
    assert "wh-active" in webhooks and ">failing<" in webhooks and ">7<" in webhooks


async def test_task_page_shows_fields_values_relationships_and_timeline(
    service: AdminService, seeded: str
) -> None:
    answer = await service.http.get("/admin/tasks/t1")
    assert answer.status_code == 200
    page = answer.text
    assert cell(page, "task-name") == EMOJI_NAME  # exactly, emoji, CJK and quote included
    assert escaped(EMOJI_NAME) in page
    fields = page.split('id="task-fields"')[1].split("</table>")[0]
    assert "in progress" in fields and "urgent, 日本" in fields and "DEF-43" in page
    values = page.split('id="custom-values"')[1].split("</table>")[0]
    assert FIELD_NAME in values and "高い" in values and "drop_down" in values
    relationships = page.split('id="relationships"')[1].split("</table>")[0]
    assert "subtask of" in relationships and "waiting on" in relationships and "t-other" in relationships
    assert escaped(HTML_NAME) in relationships and "<script>" not in page  # the parent's name, escaped
    timeline = page.split('id="timeline"')[1].split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", timeline, re.S)
    assert len(rows) == 2
    assert "2026-11-02T11:30:00Z" in rows[0] and FIELD_NAME in rows[0] and ">poll<" in rows[0]  # newest first
    assert "2026-11-01T10:00:00Z" in rows[1] and "183" in rows[1] and ">webhook<" in rows[1]
    assert escaped('"to do"') in rows[1] and "hist-1" in rows[1]

    parent = (await service.http.get("/admin/tasks/t-parent")).text
    assert "<script>alert" not in parent and escaped(HTML_NAME) in parent
    assert "t1" in parent.split('id="relationships"')[1]  # its subtask, seen from the parent
    assert (await service.http.get("/admin/tasks/nope")).status_code == 404
    # Known only from a webhook's history (never fetched yet): the timeline still shows.
    execute(
        seeded,
        "INSERT INTO {s}.field_changes (task_id, field_name, new_value, changed_at, source, event_id)"
        " VALUES ('t-unfetched', 'status', '\"done\"', now(), 'webhook', 'hist-9')",
    )
    unfetched = await service.http.get("/admin/tasks/t-unfetched")
    assert unfetched.status_code == 200 and "hist-9" in unfetched.text and "not fetched yet" in unfetched.text


async def test_search_by_custom_id_opens_the_task_and_by_name_lists_matches(
    service: AdminService, seeded: str
) -> None:
    exact = await service.http.get("/admin/tasks", params={"q": "def-43"})
    assert exact.status_code == 303 and exact.headers["location"] == "/admin/tasks/t1"
    assert (await service.http.get("/admin/tasks", params={"q": "t-parent"})).headers["location"] == (
        "/admin/tasks/t-parent"
    )
    by_name = (await service.http.get("/admin/tasks", params={"q": "発射"})).text
    assert 'href="/admin/tasks/t1"' in by_name
    # LIKE metacharacters are text: "%" matches only a literal percent sign.
    assert "No task matches." in (await service.http.get("/admin/tasks", params={"q": "%"})).text


async def test_changes_are_filtered_by_field_user_source_and_time(service: AdminService, seeded: str) -> None:
    async def tasks_and_fields(**params: str) -> list[tuple[str, str]]:
        page = (await service.http.get("/admin/changes", params=params)).text
        if 'id="changes"' not in page:
            return []
        body = page.split('id="changes"')[1].split("</table>")[0]
        return [
            (html.unescape(task), html.unescape(field))
            for task, field in re.findall(r'">([^<]+)</a></td>\s*<td title="[^"]*">([^<]+)</td>', body)
        ]

    assert await tasks_and_fields() == [("t-parent", "name"), ("t1", FIELD_NAME), ("t1", "status")]
    assert await tasks_and_fields(field="status") == [("t1", "status")]
    assert await tasks_and_fields(field="f-prio") == [("t1", FIELD_NAME)]  # by field id too
    assert await tasks_and_fields(field=FIELD_NAME) == [("t1", FIELD_NAME)]  # or its name
    assert await tasks_and_fields(user="184") == [("t-parent", "name")]
    assert await tasks_and_fields(source="poll") == [("t1", FIELD_NAME)]
    assert await tasks_and_fields(since="2026-11-02", until="2026-11-03") == [("t1", FIELD_NAME)]
    assert await tasks_and_fields(since="2026-11-03T12:00:00+00:00") == [("t-parent", "name")]
    bad = await service.http.get("/admin/changes", params={"since": "yesterday"})
    assert bad.status_code == 400 and "since: not a date" in bad.text
    assert (await service.http.get("/admin/changes", params={"source": "x'; --"})).status_code == 400


async def test_csv_export_streams_every_match_exactly(service: AdminService, seeded: str) -> None:
    answer = await service.http.get("/admin/changes.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"].startswith('attachment; filename="field_changes-')
    rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert [(r["task_id"], r["field_name"], r["source"]) for r in rows] == [
        ("t-parent", "name", "backfill"), ("t1", FIELD_NAME, "poll"), ("t1", "status", "webhook"),
    ]  # fmt: skip
    renamed = rows[0]
    assert json.loads(renamed["old_value"]) == OLD_NAME  # commas, quotes, newline survive the round trip
    assert json.loads(renamed["new_value"]) == HTML_NAME
    assert renamed["changed_at"] == "2026-11-03T12:00:00+00:00" and renamed["changed_by"] == "184"
    assert rows[1]["old_value"] == "" and json.loads(rows[1]["new_value"]) == {"id": "o-high", "name": "高い"}
    assert rows[2]["event_id"] == "hist-1"

    filtered = await service.http.get("/admin/changes.csv", params={"source": "webhook"})
    assert [r["event_id"] for r in csv.DictReader(io.StringIO(filtered.text, newline=""))] == ["hist-1"]


async def test_csv_export_of_many_rows_is_complete(service: AdminService, seeded: str) -> None:
    execute(
        seeded,
        "INSERT INTO {s}.field_changes (task_id, field_name, new_value, changed_at, source)"
        " SELECT 'bulk', 'points', to_jsonb(n), '2026-10-01'::timestamptz + n * interval '1 second', 'poll'"
        " FROM generate_series(1, 5000) AS n",
    )
    answer = await service.http.get("/admin/changes.csv", params={"task": "bulk"})
    rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    assert [int(r["new_value"]) for r in rows] == list(range(5000, 0, -1))


async def test_coverage_groups_missing_tasks_by_reason(service: AdminService, seeded: str) -> None:
    assert "unavailable" in (await service.http.get("/admin/coverage")).text  # no Airbyte table yet
    execute(
        seeded,
        "CREATE TABLE public.clickup_task (id text, _airbyte_raw_id text, _airbyte_extracted_at timestamptz,"
        " _airbyte_meta jsonb, _airbyte_generation_id bigint)",
    )
    execute(seeded, "INSERT INTO public.clickup_task VALUES ('t-parent', 'r1', now(), '{}', 1)")
    page = (await service.http.get("/admin/coverage")).text
    table = page.split('id="coverage"')[1]
    folderless = re.search(r"folderless list</strong>.*?</tr>", table, re.S)
    assert folderless and ">1<" in folderless[0] and 'href="/admin/tasks/t1"' in folderless[0]
    assert cell(page, "coverage-total") == "1"


async def test_a_stored_delivery_shows_its_exact_payload(service: AdminService, seeded: str) -> None:
    body = json.dumps(
        {"event": "taskUpdated", "task_id": "t1", "note": "<b>ünïcödé 🚀</b>"}, ensure_ascii=False
    )
    [(delivery_id,)] = execute(
        seeded,
        "INSERT INTO {s}.webhook_deliveries (event, task_id, body, status, attempts, last_error)"
        " VALUES ('taskUpdated', 't1', convert_to(%s, 'UTF8'), 'dead', 6, 'KeyError: ''x''') RETURNING id",
        (body,),
    )
    page = (await service.http.get(f"/admin/deliveries/{delivery_id}")).text
    payload = html.unescape(page.split('id="payload">')[1].split("</pre>")[0])
    assert json.loads(payload) == json.loads(body)
    assert "<b>ünïcödé" not in page and "KeyError: &#39;x&#39;" in page
    assert (await service.http.get("/admin/deliveries/999999")).status_code == 404


async def test_pages_say_when_the_database_is_unreachable(service: AdminService) -> None:
    await service.runtime.pool.close()
    answer = await service.http.get("/admin/")
    assert answer.status_code == 503 and answer.text == "The database is unreachable; try again shortly.\n"
