-- When the worker last re-fetched each task for a webhook. A delivery whose history items describe
-- the whole change needs no re-fetch; it asks for an opportunistic one (to catch what ClickUp sends
-- no event for: dependencies, links) only when the last one is older than the reconcile interval.
CREATE TABLE {schema}.task_refreshes (
    task_id      text PRIMARY KEY,
    refreshed_at timestamptz NOT NULL
);

-- Tasks Airbyte never copies (subtasks, tasks of folderless or archived lists, archived tasks) are not
-- parked waiting for a base record that cannot come; parked ones are released with this reason.
ALTER TABLE {schema}.parked_changes DROP CONSTRAINT parked_changes_release_reason_check;
ALTER TABLE {schema}.parked_changes ADD CONSTRAINT parked_changes_release_reason_check
    CHECK (release_reason IN ('base_record', 'max_wait', 'airbyte_off', 'replay', 'not_in_airbyte'));
