"""Terminals: a PTY per viewer attached to the seat's persistent tmux session.

``pty`` spawns and reaps the attach process, ``viewer`` pumps bytes between the PTY and one
WebSocket with flow control, ``registry`` enforces socket caps and closes viewers on token
expiry and shutdown, ``routes`` is the ``WS /seats/{seat}/terminal`` endpoint.
"""
