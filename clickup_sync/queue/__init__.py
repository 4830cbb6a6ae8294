"""The durable job queue (procrastinate on PostgreSQL, in SYNC_SCHEMA): tasks, their runtime, the worker."""
