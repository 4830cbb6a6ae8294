"""Airbyte awareness: the destination simulator, sync detection, and a runner for Airbyte's ClickUp source connector."""  # noqa: E501
