"""Live workspace changes pushed to pages: ``hub`` (inotify, bounded) and ``routes`` (WS)."""
