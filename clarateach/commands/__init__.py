"""Command groups registered on the ``clarateach`` app by ``clarateach.cli`` (import that)."""
