"""``python -m scheduler_cli``: the same as the ``scheduler`` console script."""
from scheduler_cli.commands import main

main()
