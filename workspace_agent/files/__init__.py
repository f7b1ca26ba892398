"""The seat files API: safe, fd-relative filesystem operations and their HTTP routes."""
