"""The seat side of workshop content packs (docs/content-packs.md, "In the seat").

* ``starter``: the pack's ``starter/`` copied into a seat's workspace once, before its first
  shell (again after a reset), optionally committed as the repository's first commit;
* ``progress``: each seat's guide position and passed checks, persisted under the agent's
  state directory (``<state>/guide/seat-<n>.json``) and reported in ``host.usage``;
* ``checks``: a step's check script run in the seat as the learner, bounded in time and
  output, one at a time per seat;
* ``routes``: the learner's guide API (``/seats/{seat}/guide...``);
* ``service``: the one object the app keeps (``CONTENT``) tying them to the runtime.
"""
