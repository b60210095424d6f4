"""The handlers the worker runs: the code a job names (the contract's word).

``registry`` is the process-wide :class:`JobRegistry`. A backend feature adds its handler at
import time, in a module that ``app.py`` imports (so every Lambda has it):

    from chalicelib.jobs import registry

    @registry.handler("nightly-report", "Builds the nightly report")
    def nightly_report(ctx): ...

Built-in jobs that need settings (``http-request``,
``certification-expiry-check``) are added by :mod:`chalicelib.bootstrap`.
"""
from chalicelib.jobs.registry import JobRegistry

registry = JobRegistry()
