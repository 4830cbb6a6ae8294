"""Deterministic identifiers in ClickUp's formats (reference §2).

Everything is drawn from one seeded generator, so the same seed and the same sequence of calls give
the same ids. Task ids are short lowercase base-36 strings ("86d3cc9fu"), hierarchy ids numeric
strings ("901102682453"), field/option/webhook ids UUIDs, history item ids 19-digit numeric strings.
"""

from __future__ import annotations

import random
import string
import uuid

_BASE36 = string.digits + string.ascii_lowercase
_TASK_ID_SPACE = 36**7
# An odd multiplier that is coprime with 36**7 scrambles the counter bijectively: ids look random
# but can never collide.
_TASK_ID_SCRAMBLE = 1_299_827
_SECRET_ALPHABET = string.ascii_uppercase + string.digits


def _base36(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 36)
        digits.append(_BASE36[remainder])
    return "".join(reversed(digits))


class IdFactory:
    """Hands out fresh ids; never repeats one within a workspace."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(f"ids:{seed}")
        self._task_counter = self._random.randrange(_TASK_ID_SPACE)
        self._numeric_counter = 901_100_000_000 + self._random.randrange(1_000_000) * 1000
        self._history_counter = 2_800_000_000_000_000_000 + self._random.randrange(10**15)

    def task_id(self) -> str:
        self._task_counter = (self._task_counter + 1) % _TASK_ID_SPACE
        return "86" + _base36(self._task_counter * _TASK_ID_SCRAMBLE % _TASK_ID_SPACE, 7)

    def numeric_id(self) -> str:
        """Ids of spaces, folders and lists: numeric strings that grow like ClickUp's."""
        self._numeric_counter += self._random.randint(1, 97)
        return str(self._numeric_counter)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def history_id(self) -> str:
        """19-digit numeric string, increasing, like "2800763136717140857" (reference §7.4)."""
        self._history_counter += self._random.randint(1, 5_000_000)
        return str(self._history_counter)

    def status_id(self, owner_prefix: str) -> str:
        """Like "p7001234_FxGmgrnk" (space statuses) or "sc901102682453_EacxDmNf" (list statuses)."""
        suffix = "".join(self._random.choice(string.ascii_letters) for _ in range(8))
        return f"{owner_prefix}_{suffix}"

    def webhook_secret(self) -> str:
        return "".join(self._random.choice(_SECRET_ALPHABET) for _ in range(64))

    def attachment_id(self, extension: str) -> str:
        return f"{self.uuid()}.{extension}"
