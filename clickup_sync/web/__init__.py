"""The HTTP side: ClickUp and Airbyte webhooks, health, metrics, admin."""
