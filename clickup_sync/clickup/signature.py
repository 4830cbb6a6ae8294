"""ClickUp webhook signatures, sans-I/O: the emulator signs with these, the service verifies with them.

ClickUp puts `X-Signature: <hex HMAC-SHA256(webhook secret, request body)>` on every delivery
(clickup-api.md §7.5). The signature covers the exact bytes on the wire, so verification must run on
the raw body, never on a re-serialised copy of the parsed JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import string
from collections.abc import Iterable, Mapping
from typing import Any

_SHA256_HEX_LENGTH = 64
_HEX_DIGITS = frozenset(string.hexdigits)


def sign_clickup_body(secret: str, body: bytes) -> str:
    """The `X-Signature` value ClickUp sends for `body`: lowercase hex HMAC-SHA256 (§7.5)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_clickup_signature(body: bytes, signature_header: str | None, secrets: Iterable[str]) -> bool:
    """True if `signature_header` is the signature of `body` under any of `secrets`.

    Several secrets may be valid at once while a webhook is being rotated. Every candidate is
    compared in constant time and all of them are tried, so timing reveals neither the signature
    nor which secret matched. A missing, empty or malformed header is simply not valid.
    """
    if signature_header is None:
        return False
    candidate = signature_header.strip().lower()
    if len(candidate) != _SHA256_HEX_LENGTH or not _HEX_DIGITS.issuperset(candidate):
        return False
    received = candidate.encode("ascii")
    matched = False
    for secret in secrets:
        expected = sign_clickup_body(secret, body).encode("ascii")
        matched |= hmac.compare_digest(expected, received)
    return matched


def serialize_webhook_body(payload: Mapping[str, Any]) -> bytes:
    """The body bytes ClickUp would send for `payload`: compact JSON, key order kept, raw UTF-8.

    The docs say to stringify "without adding white spaces" to reproduce the signature (§7.5).
    Whether ClickUp escapes non-ASCII is unconfirmed (§11); raw UTF-8 is the harder case for a
    receiver that re-serialises, so the emulator sends that.
    """
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
