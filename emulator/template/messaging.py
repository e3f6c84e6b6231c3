"""``AWS::SQS::Queue`` and ``AWS::SNS::Topic`` resources -> :class:`QueueSpec` and
:class:`TopicSpec`.

Call :func:`build_queues` and :func:`build_topics` once per load; run-local creates
these in the embedded AWS services (``emulator/aws/messaging_setup.py``), as it creates
the template's DynamoDB tables, so that an ``AWS`` integration writing to a queue or a
topic works without a set-up step.

Properties read: the name (``QueueName``/``TopicName``, else the logical id, see
references.py) and the ones that are also ``CreateQueue``/``CreateTopic``
attributes of the same name (AWS::SQS::Queue and AWS::SNS::Topic references):
``FifoQueue``, ``ContentBasedDeduplication``, ``DelaySeconds``,
``MaximumMessageSize``, ``MessageRetentionPeriod``,
``ReceiveMessageWaitTimeSeconds``, ``VisibilityTimeout``; ``FifoTopic``,
``ContentBasedDeduplication``. Not read (the resource is still created): SQS
``RedrivePolicy`` (its dead-letter queue would have to exist first), encryption and
policies; SNS ``Subscription`` (nothing is delivered from a topic locally).

Pure.
"""

from __future__ import annotations

from typing import Any

from ..core.model import QueueSpec, TopicSpec
from .document import Document, Resource
from .intrinsics import NO_VALUE, Resolver
from .references import queue_name, topic_name

QUEUE = "AWS::SQS::Queue"
TOPIC = "AWS::SNS::Topic"
_QUEUE_ATTRIBUTES = ("FifoQueue", "ContentBasedDeduplication", "DelaySeconds", "MaximumMessageSize",
                     "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout")
_TOPIC_ATTRIBUTES = ("FifoTopic", "ContentBasedDeduplication")


def build_queues(resolver: Resolver, document: Document) -> tuple[QueueSpec, ...]:
    """Every created SQS queue of the template, in template order."""
    return tuple(
        QueueSpec(resource.logical_id, queue_name(resolver, resource),
                  _attributes(resolver, resource, _QUEUE_ATTRIBUTES))
        for resource in _created(resolver, document, QUEUE)
    )


def build_topics(resolver: Resolver, document: Document) -> tuple[TopicSpec, ...]:
    """Every created SNS topic of the template, in template order."""
    return tuple(
        TopicSpec(resource.logical_id, topic_name(resolver, resource),
                  _attributes(resolver, resource, _TOPIC_ATTRIBUTES))
        for resource in _created(resolver, document, TOPIC)
    )


def _created(resolver: Resolver, document: Document, kind: str) -> list[Resource]:
    return [resource for resource in document.of_type(kind) if resolver.creates(resource)]


def _attributes(resolver: Resolver, resource: Resource, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    attributes = []
    for name in names:
        if name not in resource.properties:
            continue
        value: Any = resolver.resolve(resource.properties[name], resource.where(name))
        if value is NO_VALUE or value is None:
            continue
        # The APIs take every attribute as a string: booleans as "true"/"false".
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        attributes.append((name, text))
    return tuple(attributes)
