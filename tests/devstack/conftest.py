"""Fixtures of the local stack's tests: moto's DynamoDB as the store contract suite runs it."""
from __future__ import annotations

from tests.contract.conftest import aws_env, moto_dynamodb, settings  # noqa: F401 - fixtures
