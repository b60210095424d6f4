"""Alerts and recovery notices published to an SNS topic."""
from __future__ import annotations

import json
import logging
from typing import Any

from chalicelib.core.errors import NotifierUnavailable
from chalicelib.core.model import Notice

log = logging.getLogger(__name__)


class SnsNotifier:
    """Publishes to ``topic_arn``. With no topic configured (a local or partial set-up)
    each notice is written to the log as a warning instead, and counts as delivered:
    nothing would ever deliver it, so retrying it on every tick helps nobody."""

    def __init__(self, sns_client: Any, topic_arn: str) -> None:
        self._client = sns_client
        self._topic = topic_arn

    def publish(self, notice: Notice) -> None:
        if not self._topic:
            log.warning("notice not published: SCHEDULER_ALERT_TOPIC_ARN is not set", extra={
                "notice_id": notice.notice_id, "kind": notice.kind.value, "subject": notice.subject,
                "job_name": notice.message.get("jobName")})
            return
        try:
            self._client.publish(
                TopicArn=self._topic,
                Subject=notice.subject[:100],
                Message=json.dumps({"noticeId": notice.notice_id, **notice.message}, indent=2, default=str),
                MessageAttributes={
                    "kind": {"DataType": "String", "StringValue": notice.kind.value},
                    "jobName": {"DataType": "String", "StringValue": str(notice.message.get("jobName", ""))},
                },
            )
        except Exception as exc:  # botocore ClientError, endpoint errors: all mean "not sent"
            raise NotifierUnavailable(f"SNS publish failed: {type(exc).__name__}: {exc}") from exc
