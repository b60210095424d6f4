"""One invocation's connection settings, and the group that turns refusals into exit codes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click

from scheduler_cli import render
from scheduler_cli.client import ApiClient, ApiError

EXAMPLE_URL = "http://127.0.0.1:8000/api/v1/scheduler"


class MissingSetting(click.ClickException):
    """The URL or the token is not set: say exactly what to set."""

    exit_code = 2


@dataclass
class Session:
    url: str | None
    token: str | None
    _client: ApiClient | None = field(default=None, repr=False)

    @property
    def client(self) -> ApiClient:
        if self._client is None:
            if not self.url:
                raise MissingSetting("SCHEDULER_URL is not set. Set it to the API's base path, for example\n"
                                     f"  export SCHEDULER_URL={EXAMPLE_URL}\n"
                                     "(make run prints this line; deployed: <EndpointURL>api/v1/scheduler), or pass --url.")
            if not self.url.startswith(("http://", "https://")):
                raise MissingSetting(f"SCHEDULER_URL must start with http:// or https://, not {self.url!r}; for example\n"
                                     f"  export SCHEDULER_URL={EXAMPLE_URL}")
            if not self.token:
                raise MissingSetting("SCHEDULER_TOKEN is not set. Set it to a bearer token, for example\n"
                                     "  export SCHEDULER_TOKEN=<the token make run prints, or a service_role key>\n"
                                     "or pass --token.")
            self._client = ApiClient(self.url, self.token)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class SchedulerGroup(click.Group):
    """Prints a refused or failed request as its problem and exits with its code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ApiError as exc:
            render.problem(render.console(stderr=True), exc.problem)
            raise click.exceptions.Exit(exc.exit_code) from None
