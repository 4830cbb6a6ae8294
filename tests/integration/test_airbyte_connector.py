"""Airbyte's own ClickUp source connector (PyPI 0.2.0) reads our emulator, with its known limits.

The slow tests install the connector into `<repo>/.cache/` (about a minute, once per machine or CI
run), start the emulator, point a patched copy of the connector's manifest at it and read seven
streams. Every expectation is computed from the emulator's ground truth. The connector's limits
asserted here are exactly what clickup-sync must cover itself: only the first 100 tasks of a list,
no folderless lists, no subtasks, no archived tasks.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clickup_sync.airbyte.source_connector import (
    ConnectorError,
    ConnectorReadResult,
    configured_catalog,
    ensure_connector_venv,
    parse_connector_output,
    patched_manifest,
    read,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
STREAMS = ["user", "team", "space", "folder", "list", "task", "list_custom_fields"]
CLICKUP_PAGE_SIZE = 100


# ---------------------------------------------------------------------------------------------
# Fast: the runner's own logic, no connector install
# ---------------------------------------------------------------------------------------------


def test_connector_errors_and_records_are_told_apart_in_its_output() -> None:
    lines = [
        "a stray print from some library",
        json.dumps({"type": "LOG", "log": {"level": "INFO", "message": "Starting syncing"}}),
        json.dumps({"type": "RECORD", "record": {"stream": "task", "data": {"id": "a"}, "emitted_at": 1}}),
        json.dumps({"type": "RECORD", "record": {"stream": "task", "data": {"id": "b"}, "emitted_at": 2}}),
        json.dumps({"type": "RECORD", "record": {"stream": "team", "data": {"id": "9"}, "emitted_at": 3}}),
        json.dumps({"type": "LOG", "log": {"level": "ERROR", "message": "Check failed"}}),
        json.dumps(
            {
                "type": "TRACE",
                "trace": {"type": "ERROR", "error": {"message": "boom", "internal_message": "KeyError"}},
            }
        ),
        json.dumps({"type": "TRACE", "trace": {"type": "STREAM_STATUS", "stream_status": {}}}),
        '{"truncated": ',
    ]

    parsed = parse_connector_output(lines)

    assert parsed.records == {"task": [{"id": "a"}, {"id": "b"}], "team": [{"id": "9"}]}
    assert parsed.errors == ["LOG ERROR: Check failed", "TRACE ERROR: boom (KeyError)"]


def test_a_manifest_without_the_clickup_url_is_refused_rather_than_left_pointing_at_clickup(
    tmp_path: Path,
) -> None:
    manifest_dir = tmp_path / "venv/lib/python3.11/site-packages/source_clickup_api"
    manifest_dir.mkdir(parents=True)
    (manifest_dir / "manifest.yaml").write_text("url_base: https://api.example.com/v3/\n", encoding="utf-8")

    with pytest.raises(ConnectorError, match=r"api\.clickup\.com"):
        patched_manifest(tmp_path / "venv", "http://127.0.0.1:1/api/v2", tmp_path / "manifest.yaml")


def test_reading_a_stream_the_connector_does_not_offer_is_refused() -> None:
    discovered: dict[str, dict[str, Any]] = {"task": {"name": "task"}, "team": {"name": "team"}}

    with pytest.raises(ConnectorError, match="tasks"):
        configured_catalog(discovered, ["tasks"])
    assert configured_catalog(discovered, ["task"]) == {
        "streams": [
            {"stream": {"name": "task"}, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
        ]
    }


# ---------------------------------------------------------------------------------------------
# Slow: the real connector against the real emulator
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def connector_venv() -> Path:
    return ensure_connector_venv(REPO_ROOT / ".cache")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    from clickup_sync.clickup.emulator import EmulatorConfig, EmulatorServer

    config = EmulatorConfig(seed=7, tasks=400, rate_limit_per_minute=None)
    with EmulatorServer(config, host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture(scope="module")
def ground_truth(emulator: Any) -> dict[str, Any]:
    truth: dict[str, Any] = emulator.workspace.ground_truth()
    return truth


@pytest.fixture(scope="module")
def connector_read(
    connector_venv: Path, emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> ConnectorReadResult:
    manifest = patched_manifest(
        connector_venv, emulator.base_url, tmp_path_factory.mktemp("airbyte") / "manifest.yaml"
    )
    config = {"api_token": emulator.token, "include_closed_tasks": True}
    return read(connector_venv, manifest, config, STREAMS)


def _ids(records: list[dict[str, Any]]) -> set[str]:
    return {str(record["id"]) for record in records}


def _visible_spaces(truth: dict[str, Any]) -> set[str]:
    # The connector sends no `archived` parameter, so ClickUp's default (archived=false) applies.
    return {space["id"] for space in truth["spaces"] if not space["archived"]}


def _visible_folders(truth: dict[str, Any]) -> set[str]:
    """Non-archived folders of non-archived spaces (ground truth leaves the hidden folders out)."""
    spaces = _visible_spaces(truth)
    return {
        folder["id"] for folder in truth["folders"] if folder["space_id"] in spaces and not folder["archived"]
    }


def _visible_folder_lists(truth: dict[str, Any]) -> list[dict[str, Any]]:
    """Lists the connector reaches: it walks team → space → folder → `folder/{id}/list` only."""
    folders = _visible_folders(truth)
    return [
        task_list
        for task_list in truth["lists"]
        if not task_list["folderless"] and task_list["folder_id"] in folders and not task_list["archived"]
    ]


def _tasks(truth: dict[str, Any]) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = list(truth["tasks"].values())
    return tasks


def _list_page_tasks_by_list(truth: dict[str, Any]) -> dict[str, list[str]]:
    """Per list, every task `GET /list/{id}/task?include_closed=true` pages through, in ClickUp's
    default order: top-level, non-archived tasks whose home list it is, closed ones included,
    order_by=created newest first (the emulator's reading of ClickUp's default, queries.py)."""
    by_list: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for task in _tasks(truth):
        if task["parent"] is None and not task["archived"]:
            by_list[task["list"]["id"]].append(task)
    return {
        list_id: [task["id"] for task in sorted(tasks, key=_creation_key, reverse=True)]
        for list_id, tasks in by_list.items()
    }


def _creation_key(task: dict[str, Any]) -> tuple[int, str]:
    return (int(task["date_created"]), str(task["id"]))


def _read_task_ids_by_list(result: ConnectorReadResult) -> dict[str, list[str]]:
    by_list: dict[str, list[str]] = defaultdict(list)
    for task in result.records["task"]:
        by_list[str(task["list"]["id"])].append(str(task["id"]))
    return by_list


@pytest.mark.slow
def test_the_connector_reads_every_stream_without_error(connector_read: ConnectorReadResult) -> None:
    counts = {stream: len(records) for stream, records in connector_read.records.items()}
    print(f"connector read {counts} in {connector_read.elapsed_seconds:.1f} s")
    assert connector_read.errors == []
    assert all(counts.values()), counts


@pytest.mark.slow
def test_the_connector_sees_the_hierarchy_the_emulator_holds(
    connector_read: ConnectorReadResult, ground_truth: dict[str, Any]
) -> None:
    records = connector_read.records
    owner = next(user for user in ground_truth["users"] if user["role"] == 1)  # the token's user

    assert _ids(records["user"]) == {str(owner["id"])}
    assert _ids(records["team"]) == {ground_truth["team"]["id"]}
    assert _ids(records["space"]) == _visible_spaces(ground_truth)
    assert _ids(records["folder"]) == _visible_folders(ground_truth)
    assert _ids(records["list"]) == _ids(_visible_folder_lists(ground_truth))


@pytest.mark.slow
def test_the_connector_reads_the_field_definitions_of_every_list_it_reaches(
    connector_read: ConnectorReadResult, ground_truth: dict[str, Any]
) -> None:
    # One record per (list, usable field): workspace, space, folder and list level fields.
    expected: Counter[str] = Counter()
    for task_list in _visible_folder_lists(ground_truth):
        scopes = {
            ("team", ground_truth["team"]["id"]),
            ("space", task_list["space_id"]),
            ("folder", task_list["folder_id"]),
            ("list", task_list["id"]),
        }
        expected.update(
            field["id"] for field in ground_truth["fields"] if (field["scope"], field["scope_id"]) in scopes
        )

    assert Counter(str(field["id"]) for field in connector_read.records["list_custom_fields"]) == expected


@pytest.mark.slow
def test_the_connector_reads_only_the_first_100_tasks_of_a_large_list(
    connector_read: ConnectorReadResult, ground_truth: dict[str, Any]
) -> None:
    listed = _list_page_tasks_by_list(ground_truth)
    large_lists = [
        task_list["id"]
        for task_list in _visible_folder_lists(ground_truth)
        if len(listed.get(task_list["id"], [])) > CLICKUP_PAGE_SIZE
    ]
    assert large_lists, "the emulator workspace should hold a foldered list with more than 100 tasks"

    read_by_list = _read_task_ids_by_list(connector_read)
    for list_id in large_lists:
        assert read_by_list[list_id] == listed[list_id][:CLICKUP_PAGE_SIZE]


@pytest.mark.slow
def test_the_connector_reads_small_foldered_lists_completely_closed_tasks_included(
    connector_read: ConnectorReadResult, ground_truth: dict[str, Any]
) -> None:
    listed = _list_page_tasks_by_list(ground_truth)
    expected = {
        task_list["id"]: listed.get(task_list["id"], [])[:CLICKUP_PAGE_SIZE]
        for task_list in _visible_folder_lists(ground_truth)
    }
    read_by_list = _read_task_ids_by_list(connector_read)

    assert dict(read_by_list) == {list_id: ids for list_id, ids in expected.items() if ids}
    closed = {task["id"] for task in _tasks(ground_truth) if task["status"]["type"] in {"closed", "done"}}
    assert not closed.isdisjoint(_ids(connector_read.records["task"])), "include_closed_tasks is honoured"


@pytest.mark.slow
def test_the_connector_misses_folderless_lists_subtasks_and_archived_tasks(
    connector_read: ConnectorReadResult, ground_truth: dict[str, Any]
) -> None:
    folderless_lists = {task_list["id"] for task_list in ground_truth["lists"] if task_list["folderless"]}
    tasks = _tasks(ground_truth)
    in_folderless_lists = {task["id"] for task in tasks if task["list"]["id"] in folderless_lists}
    subtasks = {task["id"] for task in tasks if task["parent"] is not None}
    archived = {task["id"] for task in tasks if task["archived"]}
    assert in_folderless_lists and subtasks and archived, "the workspace should hold each kind of task"

    read_task_ids = _ids(connector_read.records["task"])
    assert read_task_ids.isdisjoint(in_folderless_lists)
    assert read_task_ids.isdisjoint(subtasks)
    assert read_task_ids.isdisjoint(archived)
    assert _ids(connector_read.records["list"]).isdisjoint(folderless_lists)


@pytest.mark.slow
def test_the_simulators_feed_holds_exactly_what_the_real_connector_read(
    connector_read: ConnectorReadResult, ground_truth: dict[str, Any]
) -> None:
    """The demo fills Airbyte's table from the emulator's ground truth: the same tasks, list by list
    in the same order, as Airbyte's own connector reads over HTTP."""
    from clickup_sync.airbyte.simulator_feed import airbyte_records_from_ground_truth

    fed: dict[str, list[str]] = defaultdict(list)
    for record in airbyte_records_from_ground_truth(ground_truth, include_closed=True):
        fed[str(record["list"]["id"])].append(str(record["id"]))
    assert dict(fed) == dict(_read_task_ids_by_list(connector_read))
    assert fed
