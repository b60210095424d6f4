"""Alerts and recovery notices published to an SNS topic."""
from __future__ import annotations

import json
from typing import Any

from chalicelib.core.errors import NotifierUnavailable
from chalicelib.core.model import Notice


class SnsNotifier:
    def __init__(self, sns_client: Any, topic_arn: str) -> None:
        self._client = sns_client
        self._topic = topic_arn

    def publish(self, notice: Notice) -> None:
        if not self._topic:
            raise NotifierUnavailable("SCHEDULER_ALERT_TOPIC_ARN is not set; notice kept in the outbox")
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
