"""Webhook signatures as ClickUp computes them (clickup-api.md §7.5)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from clickup_sync.clickup.signature import (
    serialize_webhook_body,
    sign_clickup_body,
    verify_clickup_signature,
)

# The official Node example of §7.5, byte for byte.
NODE_EXAMPLE_SECRET = "secret"
NODE_EXAMPLE_BODY = (
    b'{"webhook_id":"7689a169-a000-4985-8676-6902b96d6627","event":"taskCreated","task_id":"c0j"}'
)
# Computed once and pinned: a change in how secrets or bodies are encoded would move it.
NODE_EXAMPLE_SIGNATURE = "4830bf524f6e29a3e8da953936c6f21c1fea2b9669b825d3e1be293ef3416c8c"

UNICODE_PAYLOAD = {
    "event": "taskUpdated",
    "history_items": [
        {
            "field": "custom_field",
            "custom_field": {"name": "🗓️ Add to calendar"},
            "after": "PM 期望完成日",
        }
    ],
}
UNICODE_SIGNATURE = "13b45bda95e9b79bff02350047b0ae148289126bf35f2cf708e787670b7cc06a"


def test_signs_the_official_node_example_like_node_does() -> None:
    expected = hmac.new(b"secret", NODE_EXAMPLE_BODY, hashlib.sha256).hexdigest()

    signature = sign_clickup_body(NODE_EXAMPLE_SECRET, NODE_EXAMPLE_BODY)

    assert signature == expected
    assert signature == NODE_EXAMPLE_SIGNATURE


def test_serializes_the_official_example_to_the_exact_bytes_clickup_signs() -> None:
    payload = {"webhook_id": "7689a169-a000-4985-8676-6902b96d6627", "event": "taskCreated", "task_id": "c0j"}

    assert serialize_webhook_body(payload) == NODE_EXAMPLE_BODY


def test_non_latin_text_is_sent_and_signed_as_raw_utf8() -> None:
    body = serialize_webhook_body(UNICODE_PAYLOAD)

    assert "🗓️ Add to calendar".encode() in body
    assert "期望完成日".encode() in body
    assert b"\\u" not in body
    assert sign_clickup_body("secret", body) == UNICODE_SIGNATURE
    assert verify_clickup_signature(body, UNICODE_SIGNATURE, ["secret"])


def test_ascii_escaped_copy_of_a_unicode_body_does_not_verify() -> None:
    body = serialize_webhook_body(UNICODE_PAYLOAD)
    escaped = json.dumps(UNICODE_PAYLOAD, separators=(",", ":")).encode("ascii")

    assert not verify_clickup_signature(escaped, sign_clickup_body("secret", body), ["secret"])


def test_body_reserialized_with_spaces_fails_verification() -> None:
    reserialized = json.dumps(json.loads(NODE_EXAMPLE_BODY)).encode()

    assert reserialized != NODE_EXAMPLE_BODY
    assert not verify_clickup_signature(reserialized, NODE_EXAMPLE_SIGNATURE, [NODE_EXAMPLE_SECRET])


def test_serialization_keeps_key_order() -> None:
    body = serialize_webhook_body({"task_id": "c0j", "event": "taskDeleted", "webhook_id": "w"})

    assert body == b'{"task_id":"c0j","event":"taskDeleted","webhook_id":"w"}'


@pytest.mark.parametrize(
    "header",
    [
        NODE_EXAMPLE_SIGNATURE,
        NODE_EXAMPLE_SIGNATURE.upper(),
        f"  {NODE_EXAMPLE_SIGNATURE}\r\n",
    ],
    ids=["lowercase", "uppercase", "surrounding-whitespace"],
)
def test_accepts_the_right_signature_however_the_header_is_cased_or_padded(header: str) -> None:
    assert verify_clickup_signature(NODE_EXAMPLE_BODY, header, [NODE_EXAMPLE_SECRET])


def test_accepts_either_secret_while_rotating() -> None:
    old_signature = sign_clickup_body("old-secret", NODE_EXAMPLE_BODY)
    new_signature = sign_clickup_body("new-secret", NODE_EXAMPLE_BODY)
    rotating = ["new-secret", "old-secret"]

    assert verify_clickup_signature(NODE_EXAMPLE_BODY, old_signature, rotating)
    assert verify_clickup_signature(NODE_EXAMPLE_BODY, new_signature, rotating)
    assert not verify_clickup_signature(NODE_EXAMPLE_BODY, old_signature, ["new-secret"])


def test_accepts_secrets_from_a_one_shot_iterator() -> None:
    secrets = iter(["wrong", NODE_EXAMPLE_SECRET])

    assert verify_clickup_signature(NODE_EXAMPLE_BODY, NODE_EXAMPLE_SIGNATURE, secrets)


def test_rejects_a_signature_made_with_another_secret() -> None:
    assert not verify_clickup_signature(NODE_EXAMPLE_BODY, NODE_EXAMPLE_SIGNATURE, ["not-the-secret"])


def test_rejects_everything_when_no_secret_is_configured() -> None:
    assert not verify_clickup_signature(NODE_EXAMPLE_BODY, NODE_EXAMPLE_SIGNATURE, [])


def test_rejects_a_tampered_body() -> None:
    tampered = NODE_EXAMPLE_BODY.replace(b"c0j", b"c0k")

    assert not verify_clickup_signature(tampered, NODE_EXAMPLE_SIGNATURE, [NODE_EXAMPLE_SECRET])


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "not-hex-at-all",
        "z" * 64,
        NODE_EXAMPLE_SIGNATURE[:-1],
        NODE_EXAMPLE_SIGNATURE + "0",
        "sha256=" + NODE_EXAMPLE_SIGNATURE,
        NODE_EXAMPLE_SIGNATURE[:-1] + "é",
    ],
    ids=["missing", "empty", "blank", "words", "non-hex", "short", "long", "prefixed", "non-ascii"],
)
def test_rejects_missing_or_malformed_headers_without_raising(header: str | None) -> None:
    assert not verify_clickup_signature(NODE_EXAMPLE_BODY, header, [NODE_EXAMPLE_SECRET])
