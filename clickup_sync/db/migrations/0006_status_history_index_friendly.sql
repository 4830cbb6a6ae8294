-- task_status_history read every status change of every task even when asked about one task: its
-- CTE is referenced twice, so PostgreSQL materialized it and could not push `task_id = …` into it.
-- NOT MATERIALIZED lets the filter reach field_changes_task_idx (tests/integration/sync/test_query_plans.py).
CREATE OR REPLACE VIEW {schema}.task_status_history AS
WITH status_changes AS NOT MATERIALIZED (
    SELECT task_id,
           changed_at,
           old_value #>> '{}' AS old_status,
           new_value #>> '{}' AS new_status,
           row_number() OVER (PARTITION BY task_id ORDER BY changed_at, id) AS position
    FROM {schema}.field_changes
    WHERE field_id IS NULL AND field_name = 'status'
),
intervals AS (
    SELECT t.task_id,
           coalesce(first_change.old_status, t.status) AS status,
           t.date_created AS entered_at,
           first_change.changed_at AS left_at
    FROM {schema}.tasks t
    LEFT JOIN status_changes first_change ON first_change.task_id = t.task_id AND first_change.position = 1
    WHERE t.date_created IS NOT NULL
      AND coalesce(first_change.old_status, t.status) IS NOT NULL
    UNION ALL
    SELECT c.task_id,
           c.new_status,
           c.changed_at,
           lead(c.changed_at) OVER (PARTITION BY c.task_id ORDER BY c.position)
    FROM status_changes c
    WHERE c.new_status IS NOT NULL
)
SELECT i.task_id,
       i.status,
       i.entered_at,
       coalesce(i.left_at, t.deleted_at) AS left_at,
       coalesce(i.left_at, t.deleted_at, now()) - i.entered_at AS duration
FROM intervals i
LEFT JOIN {schema}.tasks t ON t.task_id = i.task_id;
