"""SNS adapter: publish the run notification to the pipeline's topic.

The client is injected (handlers build it lazily), so tests pass a moto-backed client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalpipe.notification import Notification


def publish(sns_client: Any, topic_arn: str, notification: Notification) -> str:
    """Publish one notification.

    Parameters
    ----------
    sns_client : botocore client
        A boto3 `sns` client.
    topic_arn : str
        The pipeline topic.
    notification : Notification
        Subject (already ASCII and short enough for SNS), body and message attributes.

    Returns
    -------
    str
        The SNS `MessageId`.

    Notes
    -----
    Errors propagate as botocore `ClientError`: a failed publish is a pipeline error, caught by
    the state machine into RecordError / NotifyError like any other task failure.
    """
    response = sns_client.publish(
        TopicArn=topic_arn,
        Subject=notification.subject,
        Message=notification.message,
        MessageAttributes=notification.sns_attributes(),
    )
    return response["MessageId"]
