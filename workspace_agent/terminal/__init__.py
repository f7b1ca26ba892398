"""Terminals: ``WS /seats/{seat}/terminal`` over one of two backends.

``flow`` is the WebSocket half every viewer shares (frames, ack window, socket bound),
``registry`` enforces socket caps and closes viewers on token expiry and shutdown, ``routes``
is the endpoint, ``pty`` spawns and reaps a child on a PTY. Backends
(``CLARATEACH_AGENT_TERMINAL_BACKEND``): ``shell`` + ``fanout`` + ``ring`` — buffered (the
default), the agent owns each seat's shell PTY and fans a replay ring out to every viewer;
``viewer`` — tmux, one ``tmux attach`` PTY per viewer, sessions that survive agent restarts.
"""
