"""Realistic values for generated tasks and custom fields: names, texts, per-type field values.

Pure functions of a `random.Random`; the generator and the activity simulator share them so both
produce the same kinds of data.
"""

from __future__ import annotations

import random
from typing import Any

from clickup_sync.clickup.emulator.model import FieldDefinition

DAY_MS = 86_400_000

_VERBS = ["Fix", "Update", "Review", "Write", "Design", "Ship", "Test", "Refactor", "Plan", "Migrate"]
_NOUNS = [
    "login bug",
    "onboarding docs",
    "billing page",
    "API rate limiter",
    "release notes",
    "search index",
    "checkout flow",
    "mobile layout",
    "webhook retries",
    "quarterly report",
]
# Real task names hold emoji and non-Latin scripts; the mirror must keep them byte for byte.
_SPECIAL_NAMES = [
    "🚀 Launch campaign",
    "修复支付错误",
    "Préparer la démo client",
    "Überprüfung der Verträge",
    "Исправить импорт CSV",
    "تحديث صفحة الأسعار",
    "Tarea con «comillas» y 'apóstrofes'",
    "🔥 Hotfix: prod 500s",
]
_SENTENCES = [
    "Users are unable to log in when SSO is enabled.",
    "See the linked spec for acceptance criteria.",
    "Blocked until the vendor confirms the new API limits.",
    "Numbers in the dashboard do not match the export.",
    "Follow-up from the retro: automate this step.",
    "Les chiffres du tableau de bord ne correspondent pas à l'export.",
]
_NOTES = [
    "Waiting on legal review",
    "Customer asked for a call next week",
    "顧客からのフィードバックあり",
    "Needs design sign-off ✅",
    "Line one\nLine two",
]
_ADDRESSES = [
    ((-28.016667, 153.4), "Gold Coast QLD, Australia"),
    ((48.8566, 2.3522), "Paris, France"),
    ((35.6762, 139.6503), "Tokyo, Japan"),
    ((40.4168, -3.7038), "Madrid, España"),
    ((-23.5505, -46.6333), "São Paulo, Brasil"),
]
_SHORT_TEXTS = ["Fix critical auth issues", "Q3 goal", "Ready for QA", "需要更多信息", "N/A"]
_DOMAINS = ["example.com", "acme.test", "globex.example", "exemple.fr"]


def task_name(rng: random.Random, number: int) -> str:
    if rng.random() < 0.08:
        return f"{rng.choice(_SPECIAL_NAMES)} ({number})"
    return f"{rng.choice(_VERBS)} {rng.choice(_NOUNS)} #{number}"


def task_description(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return ""
    return " ".join(rng.sample(_SENTENCES, rng.randint(1, 2)))


def field_value(rng: random.Random, definition: FieldDefinition, user_ids: list[int], now_ms: int) -> Any:
    """A canonical value (see field_values.py) for a field that holds no task references."""
    kind = definition.type
    if kind == "short_text":
        return rng.choice(_SHORT_TEXTS)
    if kind == "text":
        return rng.choice(_NOTES)
    if kind == "number":
        return str(rng.choice([rng.randint(0, 13), rng.randint(-50, 500), round(rng.uniform(0, 100), 2)]))
    if kind == "currency":
        return str(rng.choice([rng.randint(100, 90_000), round(rng.uniform(10, 5000), 2)]))
    if kind == "date":
        return now_ms + rng.randint(-60, 90) * DAY_MS
    if kind == "checkbox":
        return True
    if kind == "drop_down":
        return rng.choice(definition.options).id
    if kind == "labels":
        count = min(len(definition.options), rng.randint(2, 4))
        return [option.id for option in rng.sample(definition.options, count)]
    if kind in {"users", "votes"}:
        return rng.sample(user_ids, rng.randint(2, 3) if kind == "users" else rng.randint(1, 3))
    if kind == "emoji":
        return rng.randint(1, int(definition.type_config.get("count", 5)))
    if kind == "url":
        return f"https://{rng.choice(_DOMAINS)}/docs/{rng.randint(1, 999)}"
    if kind == "email":
        return f"contact{rng.randint(1, 99)}@{rng.choice(_DOMAINS)}"
    if kind == "phone":
        return f"+1 201 555 {rng.randint(0, 9999):04d}"
    if kind == "location":
        (lat, lng), address = rng.choice(_ADDRESSES)
        return {
            "location": {"lat": lat, "lng": lng},
            "place_id": f"ChIJ{rng.getrandbits(64):016x}",
            "formatted_address": address,
        }
    if kind == "automatic_progress":
        return rng.choice([0, 0, 25, 50, 100])
    if kind == "manual_progress":
        return rng.randint(0, 100)
    if kind == "formula":
        return rng.choice([str(rng.randint(1, 30)) + " d", "N/A", rng.randint(0, 200)])
    raise ValueError(f"no generated value for field type {kind}")
