"""Read-only views of the service's state for operators: the dashboard's figures (`status.py`),
dead letters, a task's timeline, the change log. Shared by the admin pages and the metrics."""
