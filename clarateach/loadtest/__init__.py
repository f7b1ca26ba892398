"""``clarateach loadtest``: rehearse a workshop day against a deployment.

Modules: ``schedule`` (when each simulated learner arrives), ``stats`` (percentiles),
``terminal`` (the terminal WebSocket client, docs/protocol.md section 3), ``learner`` (one
simulated learner), ``hosts`` (the agents' ``/healthz`` load samples), ``runner`` (the whole
run: workshop, learners, cleanup), ``report`` (numbers, verdict, rendering), ``local_target``
(a private local platform with a fake Anthropic upstream) and ``fake_upstream``.
The command line is ``clarateach.commands.loadtest``.
"""
