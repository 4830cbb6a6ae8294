"""The tables Airbyte's destination-postgres uses for the ClickUp task stream, by name.

The final table is the one Airbyte's connection writes (`AIRBYTE_TASK_TABLE`); the others only exist
while a sync runs, or hold rows it has not typed yet (reference airbyte.md §3.2, §3.4, §3.7). Names
come from the same functions the destination simulator uses, so both agree on every name.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickup_sync.airbyte.destination_sql import (
    TMP_TABLE_SUFFIX,
    TableName,
    concatenate_raw_table_name,
    direct_load_temp_table_name,
)

DEFAULT_RAW_SCHEMA = "airbyte_internal"  # destination config `raw_data_schema` (§3.10)
SOFT_RESET_SUFFIX = "_ab_soft_reset"  # §3.7


@dataclass(frozen=True)
class AirbyteTables:
    """The final table and every table of the same stream a sync creates on the way."""

    final: TableName
    raw_schema: str = DEFAULT_RAW_SCHEMA

    @classmethod
    def from_qualified_name(cls, qualified: str, *, raw_schema: str = DEFAULT_RAW_SCHEMA) -> AirbyteTables:
        """`public.clickup_task` (as `AIRBYTE_TASK_TABLE` holds it); a bare name is in `public`."""
        namespace, _, name = qualified.rpartition(".")
        return cls(TableName(namespace or "public", name), raw_schema)

    @property
    def direct_load_temp(self) -> TableName:
        """3.x: overwrite and dedupe syncs stage here, then rename it over the final table (§3.4)."""
        return TableName(self.raw_schema, direct_load_temp_table_name(self.final.namespace, self.final.name))

    @property
    def direct_load_temp_temp(self) -> TableName:
        """3.x overwrite + dedupe: the deduped copy of the temp table that is swapped in (§3.4)."""
        temp = self.direct_load_temp
        return TableName(temp.namespace, direct_load_temp_table_name(temp.namespace, temp.name))

    @property
    def raw(self) -> TableName:
        """2.x: raw records wait here, `_airbyte_loaded_at IS NULL`, until typed (§3.7)."""
        return TableName(
            self.raw_schema, concatenate_raw_table_name(self.final.namespace, self.final.name).lower()
        )

    @property
    def raw_tmp(self) -> TableName:
        """2.x overwrite: the new raw records, renamed over the raw table when the stream succeeds."""
        return self.raw.with_suffix(TMP_TABLE_SUFFIX)

    @property
    def final_tmp(self) -> TableName:
        """2.x overwrite: the typed copy renamed over the final table (in the final table's schema)."""
        return self.final.with_suffix(TMP_TABLE_SUFFIX)

    @property
    def soft_reset(self) -> TableName:
        """2.x: the final table rebuilt after a schema mismatch, then renamed over it (§3.7)."""
        return self.final.with_suffix(SOFT_RESET_SUFFIX)

    def staging(self) -> tuple[TableName, ...]:
        """Tables that exist only while a sync runs (or after one failed, until the next)."""
        return (
            self.direct_load_temp,
            self.direct_load_temp_temp,
            self.raw_tmp,
            self.final_tmp,
            self.soft_reset,
        )
