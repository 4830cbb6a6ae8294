"""Custom field values → the columns of `task_custom_field_values` (clickup-api.md §5, §7.4, §9 item 5).

Payloads are the documented ones: the §3.1 Get Task example, the §5.5 real-world reads, the §7.6 webhook
`custom_field` item and the per-type R (read) and H (webhook) columns of §5.3.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from clickup_sync.sync.normalize import (
    FieldDefinition,
    NormalizedValue,
    custom_field_values_from_task,
    normalize_custom_field_value,
    read_task_custom_fields,
)

# §3.1 Get Task example, custom_fields verbatim.
GET_TASK_CUSTOM_FIELDS = json.loads(r"""
[
 {"id": "d2ab17e0-41d3-4d28-bdbb-f3f0f2c62f8b", "name": "Sprint Goal", "type": "short_text",
  "type_config": {}, "date_created": "1621915186877", "hide_from_guests": false,
  "value": "Fix critical auth issues", "value_richtext": "", "required": false},
 {"id": "1f3cc395-3448-4264-bedd-590a3b3fa178", "name": "Story Points", "type": "number",
  "type_config": {}, "date_created": "1627004071219", "hide_from_guests": false, "value": "8",
  "value_richtext": "", "required": false},
 {"id": "f4d2a20d-6759-4420-b897-222dbe2587d4", "name": "Assigned Reviewer", "type": "users",
  "type_config": {"include_guests": false, "include_team_members": true, "single_user": false},
  "date_created": "1618440378816", "hide_from_guests": false,
  "value": [
    {"id": 2772463, "username": "Alex Johnson", "email": "user@company.com", "color": "#FC575E",
     "initials": "AJ", "profilePicture": null}
   ],
  "value_richtext": "", "required": false},
 {"id": "b2e4be70-c4d3-4726-985b-46ac25375b28", "name": "Marketing Requirements", "type": "drop_down",
  "type_config": {"sorting": "manual", "new_drop_down": true,
    "options": [
      {"id": "f8249998-9c0a-4b1d-a8b7-67a072aca05a", "name": "No Marketing Needed", "color": "#b5bcc2",
       "orderindex": 0},
      {"id": "97704092-e5aa-4005-a87f-677b764d2e4c", "name": "Internal Announcement",
       "color": "#02BCD4", "orderindex": 1},
      {"id": "c3d4e5f6-a7b8-4c9d-0e1f-a2b3c4d5e6f7", "name": "Release Notes Only", "color": "#7b68ee",
       "orderindex": 2}
     ]},
  "date_created": "1762838079415", "hide_from_guests": false, "value": 2, "value_richtext": "",
  "required": false}
]
""")

# §3.3 second task: the same fields, unset, so without a "value" key.
UNSET_CUSTOM_FIELDS = json.loads(r"""
[
 {"id": "d2ab17e0-41d3-4d28-bdbb-f3f0f2c62f8b", "name": "Sprint Goal", "type": "short_text",
  "type_config": {}, "date_created": "1621915186877", "hide_from_guests": false, "required": false},
 {"id": "1f3cc395-3448-4264-bedd-590a3b3fa178", "name": "Story Points", "type": "number",
  "type_config": {}, "date_created": "1627004071219", "hide_from_guests": false, "required": false}
]
""")

# §5.5 real-world reads: a live Get Task (emoji in a name; unset checkbox and phone without "value")
# followed by a 2022 Get Tasks (automatic progress, unset rating, formula "N/A"; formula text trimmed).
REAL_CUSTOM_FIELDS = json.loads(r"""
[
 {"id": "4c62f9c4-34a1-4b4c-91de-a09ff2caf4ab", "name": "🗓️ Add to calendar", "type": "checkbox",
  "type_config": {}, "date_created": "1738168644520", "hide_from_guests": false, "required": false},
 {"id": "372810e6-9260-4a2d-8b3d-56cfc27f94ec", "name": "Casework", "type": "drop_down",
  "type_config": {"default": 0, "sorting": "manual", "placeholder": null, "new_drop_down": true,
    "options": [
      {"id": "72095b6a-9d66-493b-a377-37033cb03ecc", "name": "New Assignment", "color": "#b7ff0d",
       "orderindex": 0},
      {"id": "802ceb24-1799-4f97-b2fd-92bf45ff8950", "name": "Assistance Complete",
       "color": "#001901", "orderindex": 4}
     ]},
  "date_created": "1682630484065", "hide_from_guests": false, "value": 4, "value_richtext": null,
  "required": false},
 {"id": "cc2c56d8-5bd6-47c3-ae15-b53e1b4d186d", "name": "First Name", "type": "short_text",
  "type_config": {}, "date_created": "1721251735301", "hide_from_guests": false, "value": "First",
  "value_richtext": null, "required": false},
 {"id": "1c22edaa-ee48-46cd-8db1-a42b470aabb5", "name": "Phone #", "type": "phone",
  "type_config": {}, "date_created": "1682951493718", "hide_from_guests": false, "required": false},
 {"id": "b2461142-f074-435d-bc08-3258baaf0610", "name": "Completeness",
  "type": "automatic_progress",
  "type_config": {"tracking": {"subtasks": true, "checklists": true, "assigned_comments": true},
    "complete_on": 3, "subtask_rollup": false},
  "date_created": "1595291046029", "hide_from_guests": false, "value": {"percent_complete": 0},
  "required": null},
 {"id": "7552d46b-3be4-447b-942c-d7eea15c0f9d", "name": "Value", "type": "emoji",
  "type_config": {"count": 5, "code_point": "2b50"}, "date_created": "1595287633290",
  "hide_from_guests": false, "required": null},
 {"id": "2a861ab6-b21f-402c-bf21-f0b463df74f1", "name": "days left", "type": "formula",
  "type_config": {"simple": false, "formula": "IF(SUM(1, DAYS(TASK_DUE_DATE,TODAY())), …, \"N/A\")"},
  "date_created": "1595649126918", "hide_from_guests": false, "value": "N/A", "required": false}
]
""")

# §7.6: the `custom_field` object of a webhook history item whose "after" is "5048f827-…".
WEBHOOK_CUSTOM_FIELD = json.loads(r"""
{"id": "862a38bb-eaba-4b9b-a4b5-c09d2a8c082f", "name": "Selection Dropdown", "type": "drop_down",
 "type_config": {"default": 0, "placeholder": null, "new_drop_down": true,
   "options": [
     {"id": "5048f827-f16a-47b0-afec-5fd0e51b5f50", "name": "Monthly", "value": "Monthly",
      "type": "text", "color": null, "orderindex": 0},
     {"id": "5c69d237-f440-4498-ae46-3b3948db931b", "name": "Quarterly", "value": "Quarterly",
      "type": "text", "color": null, "orderindex": 1}
    ]},
 "values_set": null, "userid": "2770032", "date_created": "1611729648993", "hide_from_guests": false,
 "team_id": "6931406", "deleted": false, "deleted_by": null, "pinned": true, "required": false,
 "required_on_subtasks": false, "linked_subcategory": null}
""")


def definition(field_type: str, type_config: dict[str, Any] | None = None) -> FieldDefinition:
    return FieldDefinition(f"field-{field_type}", f"A {field_type} field", field_type, type_config or {})


def from_entry(entries: list[dict[str, Any]], name: str) -> FieldDefinition:
    return FieldDefinition.from_clickup(next(entry for entry in entries if entry["name"] == name))


MARKETING = from_entry(GET_TASK_CUSTOM_FIELDS, "Marketing Requirements")
CASEWORK = from_entry(REAL_CUSTOM_FIELDS, "Casework")
SELECTION = FieldDefinition.from_clickup(WEBHOOK_CUSTOM_FIELD)
# The docs' type_config examples give option orderindexes as strings ("0", §5.3).
MARKETING_WITH_STRING_ORDERINDEXES = FieldDefinition(
    MARKETING.field_id,
    MARKETING.name,
    "drop_down",
    {
        "options": [
            {**option, "orderindex": str(option["orderindex"])} for option in MARKETING.type_config["options"]
        ]
    },
)
# §5.3 labels type_config: options carry `label` (not `name`) and a string orderindex.
LABELS = definition(
    "labels",
    {
        "sorting": "manual",
        "options": [
            {"id": "a1-uuid", "label": "🔥 Urgent", "color": "#123456", "orderindex": "0"},
            {"id": "b2-uuid", "label": "PM 期望完成日", "color": "#654321", "orderindex": "1"},
            {"id": "c3-uuid", "label": "Órdenes de Compra", "color": None, "orderindex": "2"},
        ],
    },
)
CURRENCY = definition("currency", {"precision": 2, "currency_type": "USD"})
RATING = definition("emoji", {"count": 5, "code_point": "2b50"})
MANUAL_PROGRESS = definition("manual_progress", {"start": 0, "end": 100})
RELEASE_NOTES_ID = "c3d4e5f6-a7b8-4c9d-0e1f-a2b3c4d5e6f7"
RELEASE_NOTES = {"id": RELEASE_NOTES_ID, "name": "Release Notes Only", "orderindex": 2}
NO_MARKETING_ID = "f8249998-9c0a-4b1d-a8b7-67a072aca05a"
MONTHLY_ID = "5048f827-f16a-47b0-afec-5fd0e51b5f50"
QUARTERLY_ID = "5c69d237-f440-4498-ae46-3b3948db931b"
CASEWORK_DONE_ID = "802ceb24-1799-4f97-b2fd-92bf45ff8950"
ATTACHMENT_ID = "62447c77-2086-4cda-b274-f53eccf0547b.txt"
GOLD_COAST = "Gold Coast QLD, Australia"
PLACE_ID = "ChIJt2BwZIrfk2sRQEhMlfQUYQk"
LOCATION = {
    "location": {"lat": -28.016667, "lng": 153.4},
    "place_id": PLACE_ID,
    "formatted_address": GOLD_COAST,
}
ALEX = GET_TASK_CUSTOM_FIELDS[2]["value"]  # [{"id": 2772463, "username": "Alex Johnson", ...}]


def columns(normalized: NormalizedValue | None) -> dict[str, Any]:
    """Every normalized column, so a case also proves the other typed columns stay NULL."""
    assert normalized is not None
    return {
        "value": normalized.value,
        "value_text": normalized.value_text,
        "value_number": normalized.value_number,
        "value_date": normalized.value_date,
        "value_bool": normalized.value_bool,
        "value_ids": normalized.value_ids,
        "value_labels": normalized.value_labels,
    }


def expected(value: Any, **typed: Any) -> dict[str, Any]:
    typed_columns = ["value_text", "value_number", "value_date", "value_bool", "value_ids", "value_labels"]
    return {"value": value, **dict.fromkeys(typed_columns), **typed}


def case(field: FieldDefinition, raw: Any, origin: str, value: Any, **typed: Any) -> Any:
    return pytest.param(field, raw, origin, expected(value, **typed), id=f"{field.type}-{origin}-{raw!r:.40}")


@pytest.mark.parametrize(
    ("field", "raw", "origin", "want"),
    [
        # text types: a string on read and webhook (§5.3)
        case(definition("short_text"), "Fix critical auth issues", "read", "Fix critical auth issues",
             value_text="Fix critical auth issues"),
        case(definition("text"), "good", "webhook", "good", value_text="good"),
        case(definition("url"), "https://clickup.com/api", "read", "https://clickup.com/api",
             value_text="https://clickup.com/api"),
        case(definition("email"), "user@company.com", "read", "user@company.com",
             value_text="user@company.com"),
        case(definition("phone"), "+1 201 555 0123", "read", "+1 201 555 0123", value_text="+1 201 555 0123"),
        case(definition("short_text"), "Órden ✅ 期望", "read", "Órden ✅ 期望", value_text="Órden ✅ 期望"),
        # numbers arrive as strings ("8" in §3.1) or as numbers; value_number is exact
        case(definition("number"), "8", "read", 8, value_number=Decimal(8)),
        case(definition("number"), "-28.5", "webhook", -28.5, value_number=Decimal("-28.5")),
        case(definition("number"), -28, "read", -28, value_number=Decimal(-28)),
        case(definition("number"), "0.1", "read", 0.1, value_number=Decimal("0.1")),
        case(CURRENCY, 8000, "read", 8000, value_number=Decimal(8000)),
        case(CURRENCY, "10.50", "read", 10.5, value_number=Decimal("10.50")),
        case(RATING, 4, "read", 4, value_number=Decimal(4)),
        case(RATING, "3", "webhook", 3, value_number=Decimal(3)),
        # progress objects: automatic (§5.5), manual with `current` as a string (§5.3)
        case(definition("automatic_progress"), {"percent_complete": 0}, "read", {"percent_complete": 0},
             value_number=Decimal(0)),
        case(definition("automatic_progress"), {"percent_complete": 62.5}, "read", {"percent_complete": 62.5},
             value_number=Decimal("62.5")),
        case(MANUAL_PROGRESS, {"current": "20", "percent_completed": 20}, "read",
             {"percent_completed": 20, "current": 20}, value_number=Decimal(20)),
        # formula: text, plus a number when the result is numeric ("N/A" is from §5.5)
        case(definition("formula"), "N/A", "read", "N/A", value_text="N/A"),
        case(definition("formula"), "12.5", "read", "12.5", value_text="12.5", value_number=Decimal("12.5")),
        case(definition("formula"), 42, "read", 42, value_text="42", value_number=Decimal(42)),
        # date: a ms string on read and webhook, an integer on write (§5.3)
        case(definition("date"), "1700006400000", "read", "2023-11-15T00:00:00+00:00",
             value_date=datetime(2023, 11, 15, tzinfo=UTC)),
        case(definition("date"), "1782167400000", "webhook", "2026-06-22T22:30:00+00:00",
             value_date=datetime(2026, 6, 22, 22, 30, tzinfo=UTC)),
        case(definition("date"), 1565993299379, "read", "2019-08-16T22:08:19.379000+00:00",
             value_date=datetime(2019, 8, 16, 22, 8, 19, 379000, tzinfo=UTC)),
        # checkbox: "true" on read and webhook, a boolean in the write shape
        case(definition("checkbox"), "true", "read", True, value_bool=True),
        case(definition("checkbox"), True, "read", True, value_bool=True),
        case(definition("checkbox"), "true", "webhook", True, value_bool=True),
        # location (§5.3, go-clickup's parser shape)
        case(definition("location"), LOCATION, "read",
             {"lat": -28.016667, "lng": 153.4, "formatted_address": GOLD_COAST, "place_id": PLACE_ID},
             value_text=GOLD_COAST),
        # drop_down: the orderindex on read (§3.1 value 2, §5.5 value 4), the option uuid on webhook (§7.6)
        case(MARKETING, 2, "read", RELEASE_NOTES, value_ids=(RELEASE_NOTES_ID,),
             value_labels=("Release Notes Only",)),
        case(MARKETING, "2", "read", RELEASE_NOTES, value_ids=(RELEASE_NOTES_ID,),
             value_labels=("Release Notes Only",)),
        case(MARKETING, 0, "read", {"id": NO_MARKETING_ID, "name": "No Marketing Needed", "orderindex": 0},
             value_ids=(NO_MARKETING_ID,), value_labels=("No Marketing Needed",)),
        case(CASEWORK, 4, "read", {"id": CASEWORK_DONE_ID, "name": "Assistance Complete", "orderindex": 4},
             value_ids=(CASEWORK_DONE_ID,), value_labels=("Assistance Complete",)),
        case(SELECTION, MONTHLY_ID, "webhook", {"id": MONTHLY_ID, "name": "Monthly", "orderindex": 0},
             value_ids=(MONTHLY_ID,), value_labels=("Monthly",)),
        # labels: every selected option, in the order ClickUp sent them, emoji and non-Latin labels intact
        case(LABELS, ["c3-uuid", "a1-uuid", "b2-uuid"], "read",
             [{"id": "c3-uuid", "label": "Órdenes de Compra", "orderindex": 2},
              {"id": "a1-uuid", "label": "🔥 Urgent", "orderindex": 0},
              {"id": "b2-uuid", "label": "PM 期望完成日", "orderindex": 1}],
             value_ids=("c3-uuid", "a1-uuid", "b2-uuid"),
             value_labels=("Órdenes de Compra", "🔥 Urgent", "PM 期望完成日")),
        # users: ids as text, usernames as labels, every user kept (§3.1)
        case(definition("users"), ALEX, "read", [{"id": "2772463", "username": "Alex Johnson"}],
             value_ids=("2772463",), value_labels=("Alex Johnson",)),
        case(definition("users"), [{"id": 183, "username": "Alex"}, {"id": 184, "username": "Sam"}], "read",
             [{"id": "183", "username": "Alex"}, {"id": "184", "username": "Sam"}],
             value_ids=("183", "184"), value_labels=("Alex", "Sam")),
        # task stubs (§5.3), the live list_relationship read (§5.5), bare ids (webhook shape unconfirmed)
        case(definition("tasks"), [{"id": "abcd1234", "name": "Design", "status": "open"},
                                   {"id": "efghi5678", "name": "Build"}], "read",
             [{"id": "abcd1234", "name": "Design"}, {"id": "efghi5678", "name": "Build"}],
             value_ids=("abcd1234", "efghi5678"), value_labels=("Design", "Build")),
        case(definition("list_relationship"), [{"id": "86eya3gqt", "name": "Órden 17", "status": "abierta"}],
             "read", [{"id": "86eya3gqt", "name": "Órden 17"}],
             value_ids=("86eya3gqt",), value_labels=("Órden 17",)),
        case(definition("tasks"), ["abcd1234", "efghi5678"], "webhook",
             [{"id": "abcd1234", "name": None}, {"id": "efghi5678", "name": None}],
             value_ids=("abcd1234", "efghi5678")),
        case(definition("attachment"), [{"id": ATTACHMENT_ID, "title": "error-logs.txt", "size": 140970}],
             "read", [{"id": ATTACHMENT_ID, "title": "error-logs.txt"}],
             value_ids=(ATTACHMENT_ID,), value_labels=("error-logs.txt",)),
        # votes: the voters' ids and how many voted
        case(definition("votes"), [183, 2772463], "read", ["183", "2772463"],
             value_ids=("183", "2772463"), value_number=Decimal(2)),
    ],
)  # fmt: skip
def test_each_type_lands_in_its_typed_columns(
    field: FieldDefinition, raw: Any, origin: Any, want: dict[str, Any]
) -> None:
    normalized = normalize_custom_field_value(field, raw, origin=origin)

    assert columns(normalized) == want
    assert normalized is not None
    assert normalized.problems == ()
    assert normalized.raw_value is raw  # stored exactly as received
    assert (normalized.field_id, normalized.field_type) == (field.field_id, field.type)
    json.dumps(normalized.value, allow_nan=False)  # the jsonb column accepts it


@pytest.mark.parametrize(
    ("field", "raw", "origin"),
    [
        (definition("short_text"), None, "webhook"),  # text cleared on a webhook (§5.3 H)
        (definition("short_text"), "", "read"),  # documented choice: "" is no value
        (definition("text"), "", "webhook"),
        (definition("number"), None, "webhook"),
        (definition("number"), "", "read"),
        (definition("date"), None, "webhook"),
        (definition("checkbox"), None, "webhook"),  # unticked: "after": null (§5.3 H)
        (definition("checkbox"), False, "read"),
        (definition("checkbox"), "false", "read"),
        (MARKETING, None, "webhook"),
        (LABELS, [], "read"),
        (definition("users"), [], "read"),
        (definition("tasks"), [], "read"),
        (definition("list_relationship"), None, "read"),  # null when empty (§5.3)
        (definition("attachment"), [], "read"),
        (definition("votes"), [], "read"),
        (definition("location"), {}, "read"),
        (definition("button"), None, "webhook"),
    ],
)
def test_no_value_means_no_row(field: FieldDefinition, raw: Any, origin: Any) -> None:
    assert normalize_custom_field_value(field, raw, origin=origin) is None


@pytest.mark.parametrize(
    ("field", "read_raw", "webhook_raw"),
    [
        (MARKETING, 2, RELEASE_NOTES_ID),
        (MARKETING, "2", RELEASE_NOTES_ID),
        (MARKETING_WITH_STRING_ORDERINDEXES, 1, "97704092-e5aa-4005-a87f-677b764d2e4c"),
        (SELECTION, 0, MONTHLY_ID),
        (SELECTION, 1, QUARTERLY_ID),
        (definition("number"), "8", 8),
        (definition("date"), "1782167400000", 1782167400000),
        (definition("checkbox"), True, "true"),
    ],
)
def test_one_value_through_two_encodings_is_the_same_value(
    field: FieldDefinition, read_raw: Any, webhook_raw: Any
) -> None:
    read = normalize_custom_field_value(field, read_raw, origin="read")
    webhook = normalize_custom_field_value(field, webhook_raw, origin="webhook")

    assert read is not None and webhook is not None
    assert read.same_value(webhook)
    assert columns(read) == columns(webhook)
    assert read.raw_value != webhook.raw_value


@pytest.mark.parametrize(
    ("field", "before", "after"),
    [
        (MARKETING, 2, NO_MARKETING_ID),
        (SELECTION, MONTHLY_ID, QUARTERLY_ID),
        (LABELS, ["a1-uuid", "b2-uuid"], ["b2-uuid", "a1-uuid"]),  # the order is part of the value
        (LABELS, ["a1-uuid", "b2-uuid"], ["a1-uuid"]),  # the second label counts (the original bug)
        (definition("users"), [{"id": 183}, {"id": 184}], [{"id": 183}]),
        (definition("number"), "8", "8.5"),
        (definition("button"), {"clicks": 1}, {"clicks": 2}),  # unknown types still show their changes
    ],
)
def test_a_different_value_is_not_the_same_value(field: FieldDefinition, before: Any, after: Any) -> None:
    old = normalize_custom_field_value(field, before, origin="read")
    new = normalize_custom_field_value(field, after, origin="webhook")

    assert old is not None and new is not None
    assert not old.same_value(new)


def test_a_webhook_item_normalizes_before_and_after_with_its_own_definition() -> None:
    # §7.6: {"field": "custom_field", "custom_field": {...}, "before": null, "after": "5048f827-…"}
    field = FieldDefinition.from_clickup(WEBHOOK_CUSTOM_FIELD)

    before = normalize_custom_field_value(field, None, origin="webhook")
    after = normalize_custom_field_value(field, MONTHLY_ID, origin="webhook")

    assert before is None
    assert after is not None and after.value_labels == ("Monthly",)


@pytest.mark.parametrize(
    "raw", [True, {"url": "https://example.com/signature.png", "signed_by": 183}, [1, 2], "clicked"]
)
@pytest.mark.parametrize("field_type", ["button", "signature", "made_up_type", ""])
def test_unknown_types_keep_the_raw_value_and_leave_typed_columns_null(field_type: str, raw: Any) -> None:
    normalized = normalize_custom_field_value(definition(field_type), raw, origin="read")

    assert normalized is not None
    assert normalized.raw_value is raw
    assert columns(normalized) == expected(raw)
    assert normalized.problems and "not normalized" in normalized.problems[0]


@pytest.mark.parametrize(
    ("field", "raw", "problem"),
    [
        (definition("number"), "abc", "expected a number"),
        (definition("number"), True, "expected a number"),
        (definition("number"), {"amount": 1}, "expected a number"),
        (definition("number"), "NaN", "expected a number"),
        (definition("number"), float("nan"), "finite"),
        (definition("number"), "1e999", "out of range"),
        (definition("currency"), [8000], "expected a number"),
        (definition("date"), "yesterday", "timestamp"),
        (definition("date"), True, "timestamp"),
        (definition("date"), "99999999999999999999", "outside"),
        (MARKETING, 9, "unknown option orderindex 9"),
        (MARKETING, "no-such-uuid", "unknown option id 'no-such-uuid'"),
        (MARKETING, [1], "option id or orderindex"),
        (MARKETING, True, "option id or orderindex"),
        (definition("drop_down", {"options": None}), 0, "unknown option orderindex 0"),
        (LABELS, "a1-uuid", "expected a list"),
        (LABELS, ["a1-uuid", "gone-uuid"], "unknown option id 'gone-uuid'"),
        (definition("users"), "bob", "expected a list"),
        (definition("users"), [{"username": "no id"}], "without a usable id"),
        (definition("tasks"), [None], "without a usable id"),
        (definition("votes"), {"count": 2}, "expected a list"),
        (definition("checkbox"), "maybe", "checkbox"),
        (definition("checkbox"), 1, "checkbox"),
        (definition("location"), "Gold Coast", "location object"),
        (definition("location"), {"lat": "north"}, "lat"),
        (definition("automatic_progress"), "abc", "progress object"),
        (definition("automatic_progress"), 50, "bare number"),
        (definition("manual_progress"), {"current": "x"}, "percent_completed"),
        (definition("short_text"), {"text": "x"}, "expected text"),
        (definition("short_text"), 42, "expected text"),
        (definition("formula"), {"result": 1}, "formula result"),
        (definition("formula"), float("inf"), "formula result"),
    ],
)
def test_garbage_never_raises_and_is_reported(field: FieldDefinition, raw: Any, problem: str) -> None:
    normalized = normalize_custom_field_value(field, raw, origin="read")

    assert normalized is not None  # the field holds *something*: the row keeps it
    assert normalized.raw_value is raw
    assert any(problem in reported for reported in normalized.problems), normalized.problems
    json.dumps(normalized.value, allow_nan=False)  # storable even when it could not be understood


def test_an_option_missing_from_the_definition_keeps_what_is_known() -> None:
    by_uuid = normalize_custom_field_value(MARKETING, "9f0e-new-option", origin="webhook")
    by_orderindex = normalize_custom_field_value(MARKETING, 7, origin="read")
    labels = normalize_custom_field_value(LABELS, ["a1-uuid", "gone-uuid"], origin="read")

    assert by_uuid is not None and by_uuid.value_ids == ("9f0e-new-option",)
    assert by_uuid.value_labels is None
    assert by_orderindex is not None and by_orderindex.value == {"id": None, "name": None, "orderindex": 7}
    assert labels is not None and labels.value_ids == ("a1-uuid", "gone-uuid")
    assert labels.value_labels == ("🔥 Urgent", "")  # still aligned with value_ids


def test_a_renamed_option_shows_its_new_name() -> None:
    # Option lookups are cached per definition: a changed type_config must not serve the old name.
    options = MARKETING.type_config["options"]
    renamed = FieldDefinition(
        MARKETING.field_id,
        MARKETING.name,
        MARKETING.type,
        {"options": [{**option, "name": f"{option['name']} ✨"} for option in options]},
    )

    first = normalize_custom_field_value(MARKETING, 2, origin="read")
    second = normalize_custom_field_value(renamed, 2, origin="read")

    assert first is not None and first.value_labels == ("Release Notes Only",)
    assert second is not None and second.value_labels == ("Release Notes Only ✨",)
    assert not first.same_value(second)


@pytest.mark.parametrize(
    ("entries", "expected_values"),
    [
        (
            GET_TASK_CUSTOM_FIELDS,
            {
                "d2ab17e0-41d3-4d28-bdbb-f3f0f2c62f8b": "Fix critical auth issues",
                "1f3cc395-3448-4264-bedd-590a3b3fa178": 8,
                "f4d2a20d-6759-4420-b897-222dbe2587d4": [{"id": "2772463", "username": "Alex Johnson"}],
                "b2e4be70-c4d3-4726-985b-46ac25375b28": RELEASE_NOTES,
            },
        ),
        (
            REAL_CUSTOM_FIELDS,  # the checkbox, phone and rating fields have no "value" key: unset
            {
                "372810e6-9260-4a2d-8b3d-56cfc27f94ec": {
                    "id": CASEWORK_DONE_ID,
                    "name": "Assistance Complete",
                    "orderindex": 4,
                },
                "cc2c56d8-5bd6-47c3-ae15-b53e1b4d186d": "First",
                "b2461142-f074-435d-bc08-3258baaf0610": {"percent_complete": 0},
                "2a861ab6-b21f-402c-bf21-f0b463df74f1": "N/A",
            },
        ),
        (UNSET_CUSTOM_FIELDS, {}),
        ([{**entry, "value": None} for entry in GET_TASK_CUSTOM_FIELDS], {}),
    ],
)
def test_a_task_gives_every_definition_and_one_value_per_set_field(
    entries: list[dict[str, Any]], expected_values: dict[str, Any]
) -> None:
    definitions, values = custom_field_values_from_task({"id": "9hx", "custom_fields": entries})

    assert [d.field_id for d in definitions] == [entry["id"] for entry in entries]
    assert [d.name for d in definitions] == [entry["name"] for entry in entries]
    assert {value.field_id: value.value for value in values} == expected_values


def test_names_keep_emoji_and_variation_selectors_byte_for_byte() -> None:
    definitions, _ = custom_field_values_from_task({"id": "t", "custom_fields": REAL_CUSTOM_FIELDS})

    assert (
        definitions[0].name.encode() == b"\xf0\x9f\x97\x93\xef\xb8\x8f Add to calendar"
    )  # 🗓️ = U+1F5D3 U+FE0F
    assert definitions[4].type_config["tracking"] == {
        "subtasks": True,
        "checklists": True,
        "assigned_comments": True,
    }


@pytest.mark.parametrize(
    ("obj", "expected_definition"),
    [
        (WEBHOOK_CUSTOM_FIELD, ("862a38bb-eaba-4b9b-a4b5-c09d2a8c082f", "Selection Dropdown", "drop_down")),
        # a /list/{id}/field entry (§5.1)
        (
            {
                "id": "03efda77-c7a0-42d3-8afd-fd546353c2f5",
                "name": "Text Field",
                "type": "text",
                "type_config": {},
            },
            ("03efda77-c7a0-42d3-8afd-fd546353c2f5", "Text Field", "text"),
        ),
        ({"id": 42, "name": None, "type": "number", "type_config": None}, ("42", "", "number")),
        ({"id": "f", "name": "PM 期望完成日", "type": "date"}, ("f", "PM 期望完成日", "date")),
    ],
)
def test_definitions_read_from_every_clickup_shape(
    obj: dict[str, Any], expected_definition: tuple[str, str, str]
) -> None:
    field = FieldDefinition.from_clickup(obj)

    assert (field.field_id, field.name, field.type) == expected_definition
    assert isinstance(field.type_config, dict)


@pytest.mark.parametrize("obj", [{}, {"id": None, "name": "x"}, {"id": ""}, {"id": ["a"]}, {"id": True}])
def test_a_definition_without_an_id_is_refused(obj: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="no usable 'id'"):
        FieldDefinition.from_clickup(obj)


@pytest.mark.parametrize(
    ("custom_fields", "definition_count", "problem"),
    [
        ("not a list", 0, "not a list"),
        ([None, "x"], 0, "not an object"),
        ([{"name": "no id", "type": "text", "value": "x"}, GET_TASK_CUSTOM_FIELDS[0]], 1, "no usable 'id'"),
        ([GET_TASK_CUSTOM_FIELDS[0], GET_TASK_CUSTOM_FIELDS[0]], 1, "appears twice"),
    ],
)
def test_bad_custom_field_lists_are_reported_not_raised(
    custom_fields: Any, definition_count: int, problem: str
) -> None:
    read = read_task_custom_fields({"id": "9hx", "custom_fields": custom_fields})

    assert len(read.definitions) == definition_count
    assert any(problem in reported for reported in read.problems), read.problems


def test_users_from_a_webhook_equal_the_same_users_read_with_names() -> None:
    """Webhook items carry bare user ids, reads carry user objects with names: the same people."""
    field = FieldDefinition.from_clickup(
        {"id": "f-users", "name": "Reviewers", "type": "users", "type_config": {}}
    )
    read = normalize_custom_field_value(
        field, [{"id": 183, "username": "Alex"}, {"id": 184, "username": "Sam"}], origin="read"
    )
    webhook = normalize_custom_field_value(field, [183, 184], origin="webhook")
    assert read is not None and webhook is not None
    assert read.same_value(webhook)
    other = normalize_custom_field_value(field, [184], origin="webhook")
    assert other is not None and not read.same_value(other)
