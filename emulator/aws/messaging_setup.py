"""Create the template's SQS queues and SNS topics in the AWS services run-local uses.

Call :func:`create_queues_and_topics` once the embedded moto answers (and again with
the new ones after a reload). Both calls are idempotent on SQS and SNS: a queue or a
topic that exists with the same attributes is kept (and so survives ``--state-dir``).
It talks to the endpoint over HTTP with boto3, imported only when a template has any.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Iterable

from ..core.credentials import DUMMY_CLIENT_ARGUMENTS
from ..core.errors import StartupError
from ..core.model import QueueSpec, TopicSpec


def create_queues_and_topics(queues: Iterable[QueueSpec], topics: Iterable[TopicSpec], *,
                             endpoint_url: str, region: str) -> None:
    """Create each queue and topic at ``endpoint_url``; :class:`StartupError` naming
    the resource if the service refuses one (e.g. a FIFO name without ``.fifo``)."""
    queues, topics = list(queues), list(topics)
    if not queues and not topics:
        return
    import boto3  # deferred: ~0.2 s, only for templates with queues or topics
    from botocore.exceptions import ClientError

    where: dict[str, Any] = dict(endpoint_url=endpoint_url, region_name=region, **DUMMY_CLIENT_ARGUMENTS)
    # (what, its name, its logical id, the call that creates it)
    creations: list[tuple[str, str, str, Callable[[], object]]] = []
    if queues:
        sqs = boto3.client("sqs", **where)
        creations += [("queue", queue.queue_name, queue.logical_id,
                       partial(sqs.create_queue, QueueName=queue.queue_name, Attributes=dict(queue.attributes)))
                      for queue in queues]
    if topics:
        sns = boto3.client("sns", **where)
        creations += [("topic", topic.topic_name, topic.logical_id,
                       partial(sns.create_topic, Name=topic.topic_name, Attributes=dict(topic.attributes)))
                      for topic in topics]
    for kind, name, logical_id, create in creations:
        try:
            create()
        except ClientError as exc:
            raise StartupError(f"could not create {kind} {name} (Resources.{logical_id}): {_message(exc)}") from None


def _message(exc: Any) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Message") or error.get("Code") or exc)
