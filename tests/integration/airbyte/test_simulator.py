"""The Airbyte destination simulator against a real PostgreSQL: the tables, rows, swaps and locks a
service sharing the database with Airbyte would see (reference airbyte.md §3, §4.4)."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import psycopg
import pytest

from clickup_sync.airbyte.destination_sql import concatenate_raw_table_name, direct_load_temp_table_name
from clickup_sync.airbyte.simulator import (
    AirbyteDestinationSimulator,
    AirbyteSyncFailed,
    ListWithTasks,
    SyncMode,
    Version,
    records_like_airbyte,
)

TEMP_TABLE = "publicclickup_taskad533a73cf149c45437624f28e1d0665"  # §3.4, computed by the reference
V, J = "character varying", "jsonb"
# §3.3 DDL, column by column: (name, information_schema data_type, is_nullable).
DIRECT_LOAD_COLUMNS = [
    ("_airbyte_raw_id", V, "NO"),
    ("_airbyte_extracted_at", "timestamp with time zone", "NO"),
    ("_airbyte_meta", J, "NO"),
    ("_airbyte_generation_id", "bigint", "NO"),
    *[
        (name, J if kind == "J" else V, "YES")
        for name, kind in [
            ("assignees", "J"), ("checklists", "J"), ("creator", "J"), ("date_closed", "V"),
            ("date_created", "V"), ("date_updated", "V"), ("due_date", "V"), ("folder", "J"), ("id", "V"),
            ("list", "J"), ("name", "V"), ("orderindex", "V"), ("parent", "V"), ("priority", "J"),
            ("space", "J"), ("start_date", "V"), ("status", "J"), ("tags", "J"), ("time_estimate", "V"),
            ("time_spent", "V"), ("url", "V"),
        ]
    ],
]  # fmt: skip
DATA_COLUMNS = DIRECT_LOAD_COLUMNS[4:]


def clickup_task(number: int, **changes: Any) -> dict[str, Any]:
    """A task as `GET /list/{id}/task` returns it: declared properties and undeclared ones."""
    task: dict[str, Any] = {
        "id": f"86a{number:05d}",
        "custom_id": None,
        "name": f"Task {number}",
        "text_content": "body",
        "description": "body",
        "status": {"id": "sc1_open", "status": "to do", "color": "#87909e", "orderindex": 0, "type": "open"},
        "orderindex": f"{number}.00000000000000000000000000000000",
        "date_created": "1732838400000",
        "date_updated": "1732924800000",
        "date_closed": None,
        "date_done": None,
        "archived": False,
        "creator": {"id": 101, "username": "Ada", "color": "#000", "email": "a@x", "profilePicture": None},
        "assignees": [],
        "watchers": [],
        "checklists": [],
        "tags": [],
        "parent": None,
        "priority": None,
        "due_date": None,
        "start_date": None,
        "points": None,
        "time_estimate": None,
        "time_spent": 0,  # a number although the schema says string (§1.6)
        "custom_fields": [{"id": "cf-1", "name": "Budget", "type": "currency", "value": "12.5"}],
        "dependencies": [],
        "linked_tasks": [],
        "team_id": "9001",
        "url": f"https://app.clickup.com/t/86a{number:05d}",
        "list": {"id": "l1", "name": "Backlog", "access": True},
        "project": {"id": "f1", "name": "Folder", "hidden": False, "access": True},
        "folder": {"id": "f1", "name": "Folder", "hidden": False, "access": True},
        "space": {"id": "s1"},
    }
    task.update(changes)
    return task


def fetch(dsn: str, query: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def execute(dsn: str, statement: str) -> None:
    """What another service (or a person) does to the database, outside Airbyte."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement)


def columns_of(dsn: str, schema: str, table: str) -> list[tuple[str, str, str]]:
    rows = fetch(
        dsn,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, table),
    )
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def table_oid(dsn: str, qualified: str) -> int | None:
    return fetch(dsn, "SELECT to_regclass(%s)::oid::bigint", (qualified,))[0][0]  # type: ignore[no-any-return]


def raw_ids(dsn: str) -> set[str]:
    return {row[0] for row in fetch(dsn, 'SELECT "_airbyte_raw_id" FROM public.clickup_task')}


@pytest.fixture
def tasks() -> list[dict[str, Any]]:
    return [clickup_task(number) for number in range(1, 6)]


# ------------------------------------------------------------------------------------------ names


def test_temp_table_names_match_the_ones_computed_in_the_reference() -> None:
    assert direct_load_temp_table_name("public", "clickup_task") == TEMP_TABLE
    assert direct_load_temp_table_name("public", "clickup_list") == (
        "publicclickup_listc00afe0add6d7241e13f921a8397d27a"
    )
    # The CDK's own DefaultTempTableNameGeneratorTest vector: long names keep first8+last8.
    assert direct_load_temp_table_name(
        "averylongnamespacewithmanycharacters", "similarlylongstreamnamewithlotsoftest"
    ) == ("averylonaracterssimilarltsoftest81e041292e119a43ceaa439325d86a24")
    assert concatenate_raw_table_name("public", "clickup_task") == "public_raw__stream_clickup_task"
    assert concatenate_raw_table_name("a__b", "c") == "a__b_raw___stream_c"


# ----------------------------------------------------------------------------------- 3.x Direct Load


def test_first_3x_sync_creates_the_final_table_with_the_documented_columns_and_no_constraints(
    empty_database_url: str, tasks: list[dict[str, Any]]
) -> None:
    result = AirbyteDestinationSimulator(empty_database_url, version="3.x").sync(tasks)

    assert columns_of(empty_database_url, "public", "clickup_task") == DIRECT_LOAD_COLUMNS
    assert fetch(
        empty_database_url,
        "SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.clickup_task'::regclass",
    ) == [(0,)]
    assert fetch(empty_database_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'clickup_task'") == [
        ("idx_extracted_at_clickup_task",)
    ]
    assert (result.swapped, result.records_written, result.table_oid_before) == (False, 5, None)
    assert fetch(
        empty_database_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'airbyte_internal'"
    ) == [(0,)]
    row = fetch(
        empty_database_url,
        'SELECT id, time_spent, date_created, status->>\'status\', "_airbyte_meta", "_airbyte_generation_id",'
        ' "_airbyte_raw_id" FROM public.clickup_task WHERE id = %s',
        ("86a00001",),
    )[0]
    assert row[:4] == ("86a00001", "0", "1732838400000", "to do")  # dates stay epoch-ms strings (§0.7)
    assert row[4] == {"sync_id": result.sync_id, "changes": []}
    assert row[5] == result.generation_id
    assert uuid.UUID(row[6]).version == 4


def test_second_3x_overwrite_swaps_in_a_new_table_with_new_rows(
    empty_database_url: str, tasks: list[dict[str, Any]]
) -> None:
    simulator = AirbyteDestinationSimulator(empty_database_url, version="3.x")
    first = simulator.sync(tasks)
    first_raw_ids = raw_ids(empty_database_url)

    second = simulator.sync(tasks[:3])  # two tasks left the workspace

    assert second.swapped and second.temp_table_name == f"airbyte_internal.{TEMP_TABLE}"
    assert second.table_oid_before == first.table_oid_after != second.table_oid_after
    assert table_oid(empty_database_url, "public.clickup_task") == second.table_oid_after
    assert table_oid(empty_database_url, f"airbyte_internal.{TEMP_TABLE}") is None
    assert second.sync_id > first.sync_id and second.generation_id == first.generation_id + 1
    assert raw_ids(empty_database_url).isdisjoint(first_raw_ids)
    assert fetch(
        empty_database_url, 'SELECT count(*), min("_airbyte_generation_id") FROM public.clickup_task'
    ) == [(3, second.generation_id)]


def test_3x_swap_fails_with_the_documented_error_when_a_view_depends_on_the_table(
    empty_database_url: str, tasks: list[dict[str, Any]]
) -> None:
    simulator = AirbyteDestinationSimulator(empty_database_url, version="3.x")
    first = simulator.sync(tasks)
    execute(empty_database_url, "CREATE VIEW svc_open_tasks AS SELECT id FROM public.clickup_task")
    before = raw_ids(empty_database_url)

    with pytest.raises(
        AirbyteSyncFailed, match="cannot drop table clickup_task because other objects depend on it"
    ) as failure:
        simulator.sync(tasks[:1])

    assert failure.value.sqlstate == "2BP01" and "drop_cascade" in str(failure.value)
    assert table_oid(empty_database_url, "public.clickup_task") == first.table_oid_after
    assert raw_ids(empty_database_url) == before
    assert fetch(empty_database_url, "SELECT count(*) FROM svc_open_tasks") == [(5,)]
    # Nothing is left holding the table: another session can take even the strongest lock at once.
    execute(
        empty_database_url, "BEGIN; LOCK TABLE public.clickup_task IN ACCESS EXCLUSIVE MODE NOWAIT; COMMIT"
    )


def test_3x_swap_with_drop_cascade_drops_the_dependent_view(
    empty_database_url: str, tasks: list[dict[str, Any]]
) -> None:
    AirbyteDestinationSimulator(empty_database_url, version="3.x").sync(tasks)
    execute(empty_database_url, "CREATE VIEW svc_open_tasks AS SELECT id FROM public.clickup_task")

    result = AirbyteDestinationSimulator(empty_database_url, version="3.x", drop_cascade=True).sync(tasks[:1])

    assert result.swapped and result.sync_id == 2
    assert table_oid(empty_database_url, "public.svc_open_tasks") is None
    assert fetch(empty_database_url, "SELECT count(*) FROM public.clickup_task") == [(1,)]


@pytest.mark.parametrize(
    ("version", "mode", "table_kept"),
    [
        ("3.x", "append", True),
        ("3.x", "overwrite", False),
        ("2.x", "append", False),
        ("2.x", "overwrite", False),
    ],
)
def test_a_column_added_by_someone_else_is_gone_after_the_next_sync(
    empty_database_url: str, tasks: list[dict[str, Any]], version: Version, mode: SyncMode, table_kept: bool
) -> None:
    simulator = AirbyteDestinationSimulator(empty_database_url, version=version)
    first = simulator.sync(tasks, mode=mode)
    execute(empty_database_url, "ALTER TABLE public.clickup_task ADD COLUMN svc_extra text")

    second = simulator.sync(tasks, mode=mode)

    names = [name for name, _, _ in columns_of(empty_database_url, "public", "clickup_task")]
    assert "svc_extra" not in names
    # 3.x append drops the column in place (§3.5); the others replace the whole table (§3.4, §3.7).
    assert (second.table_oid_after == first.table_oid_after) is table_kept


def test_3x_refuses_a_same_named_table_that_airbyte_does_not_own(empty_database_url: str) -> None:
    execute(
        empty_database_url,
        "CREATE TABLE public.clickup_task (id text); INSERT INTO public.clickup_task VALUES ('x')",
    )

    with pytest.raises(AirbyteSyncFailed, match="does not contain Airbyte's internal columns"):
        AirbyteDestinationSimulator(empty_database_url, version="3.x").sync([clickup_task(1)], mode="append")


# ----------------------------------------------------------------------------------------------- 2.x


def test_2x_sync_writes_the_raw_table_then_types_it_into_the_final_table(
    empty_database_url: str, tasks: list[dict[str, Any]]
) -> None:
    tasks[0]["status"] = "not an object"  # T+D nulls it and records the change
    result = AirbyteDestinationSimulator(empty_database_url, version="2.x").sync(tasks)

    assert columns_of(empty_database_url, "airbyte_internal", "public_raw__stream_clickup_task") == [
        ("_airbyte_raw_id", V, "NO"),
        ("_airbyte_data", J, "YES"),
        ("_airbyte_extracted_at", "timestamp with time zone", "YES"),
        ("_airbyte_loaded_at", "timestamp with time zone", "YES"),
        ("_airbyte_meta", J, "YES"),
        ("_airbyte_generation_id", "bigint", "YES"),
    ]
    assert columns_of(empty_database_url, "public", "clickup_task") == [
        *DATA_COLUMNS,
        ("_airbyte_raw_id", V, "NO"),
        ("_airbyte_extracted_at", "timestamp with time zone", "NO"),
        ("_airbyte_meta", J, "NO"),
        ("_airbyte_generation_id", "bigint", "YES"),
    ]
    raw = fetch(
        empty_database_url,
        "SELECT _airbyte_data, _airbyte_loaded_at IS NOT NULL"
        " FROM airbyte_internal.public_raw__stream_clickup_task WHERE _airbyte_data->>'id' = '86a00002'",
    )
    assert raw == [(tasks[1], True)]  # the whole record, undeclared fields included; marked loaded by T+D
    typed = fetch(
        empty_database_url,
        'SELECT id, time_spent, status, "_airbyte_meta" FROM public.clickup_task ORDER BY id LIMIT 2',
    )
    nulled = {"field": "status", "change": "NULLED", "reason": "DESTINATION_TYPECAST_ERROR"}
    assert typed[0] == ("86a00001", "0", None, {"changes": [nulled], "sync_id": result.sync_id})
    assert typed[1][2] == tasks[1]["status"] and typed[1][3] == {"changes": [], "sync_id": result.sync_id}
    state = fetch(
        empty_database_url,
        "SELECT name, namespace, destination_state FROM airbyte_internal._airbyte_destination_state",
    )
    assert [(name, namespace, json.loads(blob)["needsSoftReset"]) for name, namespace, blob in state] == [
        ("clickup_task", "public", False)
    ]


def test_2x_overwrite_swaps_both_the_raw_table_and_the_final_table(
    empty_database_url: str, tasks: list[dict[str, Any]]
) -> None:
    simulator = AirbyteDestinationSimulator(empty_database_url, version="2.x")
    first = simulator.sync(tasks)
    raw_before = table_oid(empty_database_url, "airbyte_internal.public_raw__stream_clickup_task")

    second = simulator.sync(tasks[:2])

    assert second.swapped and second.temp_table_name == "public.clickup_task_airbyte_tmp"
    assert second.table_oid_after != first.table_oid_after
    assert table_oid(empty_database_url, "airbyte_internal.public_raw__stream_clickup_task") != raw_before
    leftovers = fetch(
        empty_database_url, "SELECT tablename FROM pg_tables WHERE tablename LIKE '%airbyte_tmp'"
    )
    assert leftovers == []
    assert fetch(
        empty_database_url,
        "SELECT count(*), count(_airbyte_loaded_at), min(_airbyte_generation_id)"
        " FROM airbyte_internal.public_raw__stream_clickup_task",
    ) == [(2, 2, second.generation_id)]
    assert fetch(
        empty_database_url, 'SELECT count(*), min("_airbyte_generation_id") FROM public.clickup_task'
    ) == [(2, second.generation_id)]


# ----------------------------------------------------------------------------------- both versions


@pytest.mark.parametrize("version", ["3.x", "2.x"])
@pytest.mark.parametrize("mode", ["append_dedup", "overwrite_dedup"])
def test_dedupe_modes_keep_one_row_per_task_with_the_latest_values(
    empty_database_url: str, tasks: list[dict[str, Any]], version: Version, mode: SyncMode
) -> None:
    simulator = AirbyteDestinationSimulator(empty_database_url, version=version)
    simulator.sync(tasks, mode=mode)

    simulator.sync([clickup_task(1, name="Renamed"), clickup_task(9)], mode=mode)

    rows = fetch(empty_database_url, "SELECT id, name FROM public.clickup_task ORDER BY id")
    expected = {"append_dedup": [*[(t["id"], t["name"]) for t in tasks[1:]], ("86a00009", "Task 9")]}
    expected["overwrite_dedup"] = [("86a00009", "Task 9")]
    assert rows == sorted([("86a00001", "Renamed"), *expected[mode]])


@pytest.mark.parametrize("version", ["3.x", "2.x"])
def test_hold_swap_holds_an_access_exclusive_lock_until_released(
    empty_database_url: str, tasks: list[dict[str, Any]], version: Version
) -> None:
    simulator = AirbyteDestinationSimulator(empty_database_url, version=version)
    first = simulator.sync(tasks)
    hold = threading.Event()
    handle = simulator.start_sync(tasks[:2], hold_swap=hold)
    try:
        assert handle.wait_until_swap_locked(timeout=10)
        # §4.4: while the swap is pending, the table about to replace the final one is visible.
        stand_in = f"airbyte_internal.{TEMP_TABLE}" if version == "3.x" else "public.clickup_task_airbyte_tmp"
        assert table_oid(empty_database_url, stand_in) is not None
        locks = fetch(
            empty_database_url,
            "SELECT mode FROM pg_locks WHERE relation = %s AND granted",
            (first.table_oid_after,),
        )
        assert ("AccessExclusiveLock",) in locks
        with psycopg.connect(empty_database_url, autocommit=True) as service:
            service.execute("SET lock_timeout = '100ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                service.execute("SELECT count(*) FROM public.clickup_task")
            hold.set()
            result = handle.wait(timeout=10)
            assert service.execute("SELECT count(*) FROM public.clickup_task").fetchone() == (2,)
    finally:
        hold.set()
    assert result.swapped and not handle.swap_locked.is_set()


@pytest.mark.parametrize("version", ["3.x", "2.x"])
def test_swap_succeeds_next_to_the_service_schema(
    database_url: str, tasks: list[dict[str, Any]], version: Version
) -> None:
    service_tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'clickup_sync'"
    before = fetch(database_url, service_tables)
    simulator = AirbyteDestinationSimulator(database_url, version=version)
    simulator.sync(tasks)

    result = simulator.sync(tasks)

    assert result.swapped
    assert fetch(database_url, service_tables) == before != [(0,)]


def test_sync_ids_keep_growing_across_simulators_sharing_a_database(
    empty_database_url: str, tasks: list[dict[str, Any]]
) -> None:
    first = AirbyteDestinationSimulator(empty_database_url, version="3.x").sync(tasks, mode="append")
    second = AirbyteDestinationSimulator(empty_database_url, version="3.x").sync(tasks, mode="append")

    assert (first.sync_id, second.sync_id) == (1, 2)
    assert first.generation_id == second.generation_id  # appends stay in one generation


# --------------------------------------------------------------------------------- the connector side


@pytest.fixture
def workspace() -> list[ListWithTasks]:
    big = [clickup_task(n, list={"id": "big"}) for n in range(150)]
    big.insert(3, clickup_task(900, list={"id": "big"}, parent="86a00001"))  # a subtask
    big.insert(5, clickup_task(901, list={"id": "big"}, archived=True))
    big.insert(7, clickup_task(902, list={"id": "big"}, status={"status": "complete", "type": "closed"}))
    return [
        ListWithTasks("big", folder_hidden=False, tasks=big),
        ListWithTasks("loose", folder_hidden=True, tasks=[clickup_task(950, list={"id": "loose"})]),
        ListWithTasks("small", folder_hidden=False, tasks=[clickup_task(960, list={"id": "small"})]),
    ]


def test_records_like_airbyte_keep_folder_lists_and_their_first_100_top_level_open_tasks(
    workspace: list[ListWithTasks],
) -> None:
    records = records_like_airbyte(workspace)

    assert [r["id"] for r in records] == [f"86a{n:05d}" for n in range(100)] + ["86a00960"]


def test_records_like_airbyte_counts_closed_tasks_in_the_100_when_include_closed(
    workspace: list[ListWithTasks],
) -> None:
    records = records_like_airbyte(workspace, include_closed=True)

    ids = [r["id"] for r in records]
    assert len(ids) == 101 and "86a00902" in ids and "86a00099" not in ids
