"""Everything that speaks ClickUp: the API client, the pure protocol helpers, and the emulator."""
