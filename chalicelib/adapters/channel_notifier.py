"""Delivers a notice to a notification channel: SNS, Slack, or a signed webhook.

The stack's own topic stays with :class:`~chalicelib.adapters.sns.SnsNotifier`; this
notifier wraps it and adds the job's channels (:mod:`chalicelib.core.channels`):

* ``sns``: published to the channel's topic, as the stack's topic is;
* ``slack``: the incoming-webhook URL is read by ``secretRef`` at delivery, and the
  message names the job, its owner, what happened, the consecutive failures, the last
  error (scrubbed) and a link to the job in the console (``SCHEDULER_CONSOLE_URL``);
* ``webhook``: the notice as JSON, signed ``X-Scheduler-Signature: t=<unix time>,v1=<hex
  HMAC-SHA256 of "t.body">`` with the channel's signing secret (Stripe's scheme), so a
  receiver can verify it and refuse a replay (an old ``t``).

Slack and webhook requests go through the ``http-request`` destination policy (https,
the allow-list, no private or link-local address, DNS pinned); ``hooks.slack.com`` is
allowed for Slack whatever the allow-list says. A failure no retry can fix raises
:class:`~chalicelib.core.channels.ChannelUnusable`; any other raises
``NotifierUnavailable`` and the outbox retries that delivery with a backoff.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any, Callable
from urllib.parse import quote, urlsplit

from chalicelib.core.channels import Channel, ChannelType, ChannelUnusable
from chalicelib.core.errors import NotifierUnavailable, SecretUnavailable
from chalicelib.core.model import Notice
from chalicelib.core.ports import Clock

SIGNATURE_HEADER = "X-Scheduler-Signature"
SLACK_HOST = "hooks.slack.com"

_CREDENTIALS = re.compile(
    r"(?i:\b(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]+)|\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
    r"|\bsb_secret_[A-Za-z0-9_-]+|https://hooks\.slack\.com/[^\s\"'<>\\]+")
"""Credential-looking text in an error message: a bearer token, a JWT, a Supabase secret key, a Slack
webhook. No match holds a quote or a backslash, so scrubbing JSON text keeps it JSON."""

_KIND_TEXT = {
    "alert": "is failing", "recovery": "recovered", "set-aside": "cannot be dispatched",
    "restored": "dispatches again", "resumed": "resumed after its pause",
}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Scheduler-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def scrub_credentials(text: str) -> str:
    return _CREDENTIALS.sub("***", text)


def notice_body(notice: Notice) -> bytes:
    """The notice as a webhook receives it: ``noticeId``, ``kind``, ``subject`` and its message,
    credential-looking text scrubbed."""
    return scrub_credentials(json.dumps({"noticeId": notice.notice_id, "kind": notice.kind.value,
                                         "subject": notice.subject, **notice.message},
                                        separators=(",", ":"), default=str)).encode()


def slack_message(notice: Notice, console_url: str) -> dict[str, Any]:
    """A Slack incoming-webhook body (``text`` for notifications, ``blocks`` for the channel)."""
    message = notice.message
    job = str(message.get("jobName", "?"))
    owner = message.get("owner") or "(no owner)"
    what = _KIND_TEXT.get(notice.kind.value, notice.kind.value)
    failures = message.get("consecutiveFailures", message.get("failuresInStreak"))
    error = message.get("lastError") or {}
    error_text = scrub_credentials(f"{error.get('type', '')}: {error.get('message', '')}")[:500] if error else None
    lines = [f"*{notice.subject}*", f"*Job:* `{job}`   *Owner:* {owner}   *What happened:* {what}"]
    if failures is not None:
        lines.append(f"*Consecutive failures:* {failures}")
    if error_text:
        lines.append(f"*Last error:* {error_text}")
    if message.get("reason"):
        lines.append(f"*Reason:* {scrub_credentials(str(message['reason']))[:500]}")
    if message.get("note"):
        lines.append(f"_{message['note']}_")
    if console_url:
        lines.append(f"<{console_url.rstrip('/')}#/jobs/{quote(job)}|Open {job} in the console>")
    lines.append(f"notice `{notice.notice_id}`")
    text = "\n".join(lines)
    return {"text": f"{notice.subject} (owner: {owner})",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


class ChannelNotifier:
    """``publish(notice)`` to the stack's topic (``stack``: the SNS notifier's ``publish``),
    ``publish(notice, channel)`` to a channel.

    ``resolve_secret`` is the jobs' resolver (confined to their namespace); ``post`` is
    ``PinnedConnection.post_once`` of a connection built with the allow-list, and
    ``post_slack`` that of one whose allow-list also holds ``hooks.slack.com``;
    ``sns_client`` builds the SNS client on first use.
    """

    def __init__(self, *, stack: Callable[[Notice], None], sns_client: Callable[[], Any], resolve_secret: Callable[[str], str],
                 post: Callable[..., int], post_slack: Callable[..., int], clock: Clock, console_url: str = "",
                 timeout_seconds: float = 10.0) -> None:
        self._stack = stack
        self._sns = sns_client
        self._resolve = resolve_secret
        self._post = post
        self._post_slack = post_slack
        self._clock = clock
        self._console_url = console_url
        self._timeout = timeout_seconds

    def publish(self, notice: Notice, channel: Channel | None = None) -> None:
        if channel is None:
            self._stack(notice)
        elif channel.type is ChannelType.SNS:
            self._publish_sns(notice, channel)
        elif channel.type is ChannelType.SLACK:
            url = self._secret(channel)
            parts = urlsplit(url)
            body = json.dumps(slack_message(notice, self._console_url)).encode()
            self._send(self._post_slack, channel, url, {"Content-Type": "application/json"}, body,
                       secrets=(url, parts.path, parts.path.rsplit("/", 1)[-1]))
        else:
            secret = self._secret(channel)
            body = notice_body(notice)
            timestamp = int(self._clock.now().timestamp())
            headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, timestamp, body),
                       "X-Scheduler-Notice": notice.notice_id}
            self._send(self._post, channel, str(channel.url), headers, body, secrets=(secret,))

    def _secret(self, channel: Channel) -> str:
        try:
            return self._resolve(str(channel.secret_ref))
        except SecretUnavailable as exc:
            if exc.retryable:
                raise NotifierUnavailable(f"channel '{channel.name}': {exc}") from exc
            raise ChannelUnusable(f"its secretRef cannot be read: {exc}") from exc

    def _send(self, post: Callable[..., int], channel: Channel, url: str, headers: dict[str, str], body: bytes,
              *, secrets: tuple[str, ...]) -> None:
        from chalicelib.jobs.http_request.errors import DestinationRefused, HttpRequestError

        try:
            status = post(url, headers, body, timeout=self._timeout, secrets=[s for s in secrets if len(s) > 3])
        except DestinationRefused as exc:
            raise ChannelUnusable(f"its destination is refused: {exc}") from None
        except HttpRequestError as exc:
            raise NotifierUnavailable(f"channel '{channel.name}' ({channel.type.value}): {exc}") from None
        if not 200 <= status < 300:
            raise NotifierUnavailable(f"channel '{channel.name}' ({channel.type.value}) answered HTTP {status}")

    def _publish_sns(self, notice: Notice, channel: Channel) -> None:
        try:
            self._sns().publish(
                TopicArn=channel.topic_arn, Subject=notice.subject[:100],
                Message=scrub_credentials(json.dumps({"noticeId": notice.notice_id, **notice.message}, indent=2,
                                                     default=str)),
                MessageAttributes={"kind": {"DataType": "String", "StringValue": notice.kind.value},
                                   "jobName": {"DataType": "String",
                                               "StringValue": str(notice.message.get("jobName", ""))}})
        except Exception as exc:  # botocore ClientError, endpoint errors: all mean "not sent"
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "") if hasattr(exc, "response") else ""
            if code in ("AuthorizationError", "NotFound", "InvalidParameter", "AccessDenied", "AccessDeniedException"):
                raise ChannelUnusable(f"SNS refused topic {channel.topic_arn} ({code}); the deployed roles publish "
                                      "only to topics listed in the stack parameter NotifyTopicArns") from exc
            raise NotifierUnavailable(f"SNS publish to channel '{channel.name}' failed: {type(exc).__name__}") from exc


def build_channel_notifier(settings: Any, stack: Callable[[Notice], None], clock: Clock, resolve_secret: Callable[[str], str],
                           sns_client: Callable[[], Any]) -> ChannelNotifier:
    """The notifier bootstrap installs: ``stack`` for the stack's topic, the channels beside it."""
    from chalicelib.jobs.http_request.wire import PinnedConnection

    def poster(hosts: tuple[str, ...]) -> Callable[..., int]:
        return PinnedConnection(allowed_hosts=hosts, local_mode=settings.local_mode).post_once

    return ChannelNotifier(stack=stack, sns_client=sns_client, resolve_secret=resolve_secret,
                           post=poster(settings.http_allowed_hosts),
                           post_slack=poster((*settings.http_allowed_hosts, SLACK_HOST)),
                           clock=clock, console_url=settings.console_url)


def destination_problem(settings: Any) -> Callable[[Any, ChannelType], str | None]:
    """A webhook channel's ``url`` checked at ``PUT`` as ``http-request`` checks a job's
    (scheme, allow-list, address literals; DNS is checked at each delivery)."""
    from chalicelib.jobs.http_request.destinations import BadUrl, as_allow_list, parse_url, policy_refusal

    def problem(url: Any, kind: ChannelType) -> str | None:
        try:
            target = parse_url(url)
        except BadUrl as exc:
            return str(exc)
        hosts = (*settings.http_allowed_hosts, SLACK_HOST) if kind is ChannelType.SLACK else settings.http_allowed_hosts
        return policy_refusal(target, as_allow_list(hosts), settings.local_mode)

    return problem
