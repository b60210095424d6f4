"""The one marker that stands for a secret wherever one is removed from text or data."""
from __future__ import annotations

REDACTED = "***"
"""Replaces a secret in results, error messages, logs and the API's views of payloads."""
