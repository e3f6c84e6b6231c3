"""Tests for emulator.template.messaging: the template's SQS queues and SNS topics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from emulator.core.model import QueueSpec, TopicSpec
from emulator.template import load_template

PLAIN = Path(__file__).resolve().parents[1] / "templates" / "cfn_plain" / "template.json"


def _with_resources(tmp_path: Path, resources: dict[str, object], env: dict[str, object]) -> Path:
    """A copy of the plain fixture's folder (the stack is named after it) whose
    template has ``resources`` too, and ``env`` in a function."""
    folder = shutil.copytree(PLAIN.parent, tmp_path / PLAIN.parent.name)
    document = json.loads(PLAIN.read_text())
    document["Resources"].update(resources)
    document["Resources"]["ConnectFunction"]["Properties"]["Environment"]["Variables"].update(env)
    path = folder / PLAIN.name
    path.write_text(json.dumps(document))
    return path


def test_queues_and_topics_with_names_attributes_and_conditions(tmp_path: Path) -> None:
    path = _with_resources(tmp_path, {
        "Jobs": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": {"Fn::Sub": "${AWS::StackName}-jobs"}, "VisibilityTimeout": 45, "DelaySeconds": "2"}},
        "Orders": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True, "ContentBasedDeduplication": True}},
        "Plain": {"Type": "AWS::SQS::Queue"},
        "ProdOnly": {"Type": "AWS::SQS::Queue", "Condition": "IsProd"},
        "Alerts": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}},
        "Ledger": {"Type": "AWS::SNS::Topic", "Properties": {"FifoTopic": "true"}},
    }, {
        "JOBS_URL": {"Ref": "Jobs"},
        "ORDERS_NAME": {"Fn::GetAtt": ["Orders", "QueueName"]},
        "LEDGER_ARN": {"Ref": "Ledger"},
    })
    model = load_template(path)
    assert model.queues == (
        QueueSpec("Jobs", "cfn-plain-jobs", (("DelaySeconds", "2"), ("VisibilityTimeout", "45"))),
        QueueSpec("Orders", "Orders.fifo", (("FifoQueue", "true"), ("ContentBasedDeduplication", "true"))),
        QueueSpec("Plain", "Plain"),
    )  # ProdOnly's condition is false
    assert model.topics == (
        TopicSpec("Alerts", "alerts"),
        TopicSpec("Ledger", "Ledger.fifo", (("FifoTopic", "true"),)),
    )
    # Ref and GetAtt name the very queue and topic that are created.
    env = model.functions["ConnectFunction"].environment
    assert env["JOBS_URL"] == "https://sqs.us-east-1.amazonaws.com/123456789012/cfn-plain-jobs"
    assert env["ORDERS_NAME"] == "Orders.fifo"
    assert env["LEDGER_ARN"] == "arn:aws:sns:us-east-1:123456789012:Ledger.fifo"


def test_a_template_without_any_has_none() -> None:
    model = load_template(PLAIN)
    assert model.queues == () and model.topics == ()
