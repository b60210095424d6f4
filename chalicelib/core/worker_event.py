"""The worker's event: what the dispatcher's invoker sends and the worker entry point reads."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from chalicelib.core.definitions import validate_job_name
from chalicelib.core.errors import FieldError, ValidationFailed


@dataclass(frozen=True)
class WorkerEvent:
    """One claimed execution to run: names only, never a payload or a secret (the worker
    reads the rest from the store, so a repeated or late event cannot run stale input)."""

    job_name: str
    execution_id: str

    def to_payload(self) -> dict[str, str]:
        """The JSON object a worker Lambda is invoked with."""
        return {"jobName": self.job_name, "executionId": self.execution_id}

    @classmethod
    def parse(cls, raw: Any) -> WorkerEvent:
        """The event from a worker Lambda's input; ``ValidationFailed`` naming the field."""
        if not isinstance(raw, Mapping):
            raise ValidationFailed([FieldError("event", 'must be {"jobName": str, "executionId": str}')])
        execution_id = raw.get("executionId")
        if not isinstance(execution_id, str):
            raise ValidationFailed([FieldError("executionId", "must be a string")])
        return cls(validate_job_name(raw.get("jobName")), execution_id)
