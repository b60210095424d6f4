"""``scheduler``: the command-line tool for operators and scripts.

It speaks only the REST API (``SCHEDULER_URL``, ``SCHEDULER_TOKEN``), so the same commands
work against the deployed stack and ``make run``. It is installed by the project's package
(``pip install -e .``) and never imported by the Lambda code.
"""
