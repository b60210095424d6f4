"""The REST routes, one module per resource, each registering on ``gateway.app``.

``app.py`` imports :data:`MODULES` for their routes; nothing else needs to.
"""
from chalicelib.api.routes import console, jobs, replays, stack, system

MODULES = (system, jobs, replays, stack, console)
