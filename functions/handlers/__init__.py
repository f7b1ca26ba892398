"""The router's handlers, one module per area, imported only when one of their routes runs.

``functions.http.ROUTES`` names each handler as ``"module:function"``; the router imports the
module on the route's first request. A split function therefore loads only the handlers (and
the services, schemas and libraries behind them) of the operations it serves: ``join_workshop``
never imports the workshop services, pydantic models of other routes, or httpx
(``tests/api/test_entrypoint_imports.py``). Each handler only parses, calls one service
function and serialises (docs/protocol.md §1).
"""
