"""Tests for emulator.aws.messaging_setup: the template's queues and topics in a real
(embedded) moto, through boto3 over HTTP."""

from __future__ import annotations

from typing import Any, AsyncIterator

import boto3
import pytest
import pytest_asyncio

from emulator.aws.embedded import EmbeddedAws
from emulator.aws.messaging_setup import create_queues_and_topics
from emulator.core.errors import StartupError
from emulator.core.model import QueueSpec, TopicSpec


@pytest_asyncio.fixture
async def aws() -> AsyncIterator[EmbeddedAws]:
    embedded = EmbeddedAws()
    await embedded.start()
    try:
        yield embedded
    finally:
        await embedded.stop()


def _client(service: str, aws: EmbeddedAws) -> Any:
    return boto3.client(service, endpoint_url=aws.endpoint_url, region_name="eu-west-1",  # type: ignore[call-overload]
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.mark.asyncio
async def test_queues_and_topics_are_created_once_with_their_attributes(aws: EmbeddedAws) -> None:
    queues = [QueueSpec("Jobs", "jobs", (("VisibilityTimeout", "45"),)),
              QueueSpec("Orders", "Orders.fifo", (("FifoQueue", "true"),))]
    topics = [TopicSpec("Alerts", "alerts")]
    for _ in range(2):  # a second time (a restart with --state-dir, a reload) keeps them
        create_queues_and_topics(queues, topics, endpoint_url=aws.endpoint_url, region="eu-west-1")
    sqs = _client("sqs", aws)
    jobs = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=jobs, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "45"}
    assert len(sqs.list_queues()["QueueUrls"]) == 2
    assert [t["TopicArn"] for t in _client("sns", aws).list_topics()["Topics"]] == [
        "arn:aws:sns:eu-west-1:123456789012:alerts"]


@pytest.mark.asyncio
async def test_a_queue_the_service_refuses_is_a_startup_error_naming_it(aws: EmbeddedAws) -> None:
    # A FIFO queue whose QueueName does not end in .fifo: SQS refuses it.
    bad = QueueSpec("Orders", "orders", (("FifoQueue", "true"),))
    with pytest.raises(StartupError, match=r"could not create queue orders \(Resources\.Orders\): "):
        create_queues_and_topics([bad], [], endpoint_url=aws.endpoint_url, region="eu-west-1")
