"""pytest plugin entry point (being wired up)."""
