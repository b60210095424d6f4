"""The channel resource of ``/channels`` and the query parameters of the channel and owner routes."""
from __future__ import annotations

from typing import Any, Mapping

from chalicelib.core.channels import OWNER_PATTERN, Channel, ChannelType
from chalicelib.core.errors import FieldError, ValidationFailed
from chalicelib.core.model import iso


def channel_view(channel: Channel) -> dict[str, Any]:
    """A channel as ``PUT``/``GET /channels`` show it: the reference, never a secret's value."""
    body: dict[str, Any] = {"name": channel.name, "type": channel.type.value}
    if channel.type is ChannelType.SNS:
        body["topicArn"] = channel.topic_arn
    elif channel.type is ChannelType.SLACK:
        body["webhook"] = {"secretRef": channel.secret_ref}
    else:
        body["url"] = channel.url
        body["signingSecret"] = {"secretRef": channel.secret_ref}
    body.update({"description": channel.description, "createdAt": iso(channel.created_at),
                 "updatedAt": iso(channel.updated_at)})
    return body


def parse_force(params: Mapping[str, str] | None) -> bool:
    raw = (params or {}).get("force")
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    raise ValidationFailed([FieldError("force", "must be true or false")])


def parse_owner_param(params: Mapping[str, str] | None) -> str | None:
    raw = (params or {}).get("owner")
    if raw is None:
        return None
    if not OWNER_PATTERN.fullmatch(raw):
        raise ValidationFailed([FieldError("owner", "must be an owner label: lowercase letters, digits and hyphens "
                                                    "(pattern ^[a-z0-9][a-z0-9-]{0,62}$)")])
    return raw
