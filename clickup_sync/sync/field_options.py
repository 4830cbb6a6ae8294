"""drop_down and labels options: which option a value designates.

Reads give a drop_down's option `orderindex` and a labels field's option ids; webhooks give option ids.
Both resolve through the definition's `type_config.options` to the same option (reference §5.3).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from clickup_sync.sync.coercions import clickup_id, integer_or_none, is_integer_text, short_repr

if TYPE_CHECKING:
    from clickup_sync.sync.normalize import FieldDefinition, FieldOrigin

_OPTION_INDEX_CACHE_SIZE = 2048


class Option(NamedTuple):
    id: str | None
    label: str | None  # drop_down options call it "name", labels options "label" (§5.3)
    orderindex: int | str | None  # an int in reads, a string ("0") in some type_config examples


class OptionIndex:
    def __init__(self, options: Any, label_keys: tuple[str, ...]) -> None:
        self.by_id: dict[str, Option] = {}
        self.by_orderindex: dict[int, Option] = {}
        for entry in options if isinstance(options, list) else ():
            if not isinstance(entry, Mapping):
                continue
            label = next((entry[key] for key in label_keys if isinstance(entry.get(key), str)), None)
            raw_orderindex = entry.get("orderindex")
            orderindex = integer_or_none(raw_orderindex)
            kept_orderindex = (
                raw_orderindex if orderindex is None and isinstance(raw_orderindex, str) else orderindex
            )
            option = Option(clickup_id(entry.get("id")), label, kept_orderindex)
            if option.id is not None:
                self.by_id.setdefault(option.id, option)
            if orderindex is not None:
                self.by_orderindex.setdefault(orderindex, option)

    def resolve(self, raw: Any, origin: FieldOrigin) -> tuple[Option | None, str]:
        """The option `raw` designates: an option id (string), an orderindex (int or numeric string),
        or an option object. Ids are tried first: a uuid never looks like an integer."""
        if isinstance(raw, Mapping):
            raw = raw.get("id", raw.get("orderindex"))
        if isinstance(raw, str) and raw in self.by_id:
            return self.by_id[raw], ""
        orderindex = integer_or_none(raw)
        if orderindex is not None:
            option = self.by_orderindex.get(orderindex)
            return option, "" if option else f"unknown option orderindex {orderindex} ({origin})"
        if isinstance(raw, str):
            return None, f"unknown option id {raw!r} ({origin})"
        return None, f"expected an option id or orderindex, got {short_repr(raw)}"


# field id and type → (the options the index was built from, the index)
_option_index_cache: dict[tuple[str, str], tuple[Any, OptionIndex]] = {}


def option_index(field: FieldDefinition) -> OptionIndex:
    # Every task in a backfill carries its own copy of the same definitions: build each lookup once,
    # and rebuild it when the options change (comparing lists is far cheaper than hashing them).
    options = field.type_config.get("options")
    key = (field.field_id, field.type)
    cached = _option_index_cache.get(key)
    if cached is not None and cached[0] == options:
        return cached[1]
    if len(_option_index_cache) >= _OPTION_INDEX_CACHE_SIZE:
        _option_index_cache.clear()
    label_keys = ("label", "name") if field.type == "labels" else ("name", "label")
    index = OptionIndex(options, label_keys)
    # A private copy: a caller mutating its payload later must not change what the index was built from.
    _option_index_cache[key] = (copy.deepcopy(options), index)
    return index


def unknown_option(raw: Any) -> Option:
    """What is known of an option missing from type_config: its id (a uuid) or its orderindex."""
    unknown_id = raw if isinstance(raw, str) and not is_integer_text(raw) else None
    return Option(unknown_id, None, integer_or_none(raw))
