"""clickup-sync: a typed, historical, real-time PostgreSQL mirror of ClickUp, next to Airbyte."""

__version__ = "0.1.0"
