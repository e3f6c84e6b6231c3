"""What ``Ref`` and ``Fn::GetAtt`` of a resource give in a local run.

On AWS they give physical ids that exist only after deployment. Locally each gets a
stand-in that the rest of wsgw agrees with: ``Ref`` of a function is the local
function name (the worker pool's key, and what ``Invoke`` by name uses), ``Ref`` of a
table is the table name created in the embedded DynamoDB, ``Ref`` of the served API
is ``ApiModel.api_id``. :class:`LocalReferences` implements
:class:`.intrinsics.References`; :func:`function_name` and :func:`table_name` are the
same rules for the loaders that build specs.

Return values follow each resource type's "Return values" section in the
CloudFormation resource reference. A resource type not listed here gives its logical
id for ``Ref`` (a plausible physical id) and no attributes.

Pure.
"""

from __future__ import annotations

from typing import Any

from ..core.arns import execute_api_host, lambda_function_arn
from ..core.errors import ConfigError
from .document import Document, Resource
from .intrinsics import Resolver

FUNCTION = "AWS::Lambda::Function"
TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
WEBSOCKET_API = "AWS::ApiGatewayV2::Api"
_APIGW_V2 = "AWS::ApiGatewayV2::"


def function_name(resolver: Resolver, resource: Resource) -> str:
    """The local name of a Lambda function: ``FunctionName`` if set, else the logical
    id (deliberate: CloudFormation would generate ``<stack>-<id>-<random>``)."""
    return _name_property(resolver, resource, "FunctionName")


def table_name(resolver: Resolver, resource: Resource) -> str:
    """The local name of a DynamoDB table: ``TableName`` if set, else the logical id."""
    return _name_property(resolver, resource, "TableName")


def queue_name(resolver: Resolver, resource: Resource) -> str:
    """The local name of an SQS queue: ``QueueName`` if set, else the logical id, with
    ``.fifo`` for a FIFO queue (SQS requires the suffix [doc] CFN-SQS; CloudFormation
    generates a name ending in it). Deliberate difference: CloudFormation's generated
    names carry the stack name and a random suffix; the logical id is stable locally."""
    return _fifo_aware_name(resolver, resource, "QueueName", "FifoQueue")


def topic_name(resolver: Resolver, resource: Resource) -> str:
    """The local name of an SNS topic: ``TopicName`` if set, else the logical id, with
    ``.fifo`` for a FIFO topic (SNS requires the suffix [doc] CFN-SNS)."""
    return _fifo_aware_name(resolver, resource, "TopicName", "FifoTopic")


def _fifo_aware_name(resolver: Resolver, resource: Resource, name_prop: str, fifo_prop: str) -> str:
    if resource.properties.get(name_prop) is not None:
        return _name_property(resolver, resource, name_prop)
    fifo = resolver.resolve(resource.properties.get(fifo_prop), resource.where(fifo_prop))
    return resource.logical_id + (".fifo" if fifo in (True, "true", "True") else "")


def _name_property(resolver: Resolver, resource: Resource, prop: str) -> str:
    raw = resource.properties.get(prop)
    if raw is None:
        return resource.logical_id
    return resolver.string(raw, resource.where(prop))


class LocalReferences:
    """``Ref``/``Fn::GetAtt`` for the resources of ``document``.

    ``served_api`` is the logical id of the WebSocket API being loaded: its ``Ref`` is
    ``api_id``; other APIs give their logical ids, so routes of another API never match.
    """

    def __init__(
        self, document: Document, *, region: str, account_id: str, api_id: str,
        served_api: str | None,
    ) -> None:
        self.document = document
        self.region = region
        self.account_id = account_id
        self.api_id = api_id
        self.served_api = served_api
        self._active: set[str] = set()

    def ref(self, resolver: Resolver, logical_id: str, where: str) -> Any:
        resource = self._existing(resolver, logical_id, where, f"Ref to {logical_id!r}")
        with _Guard(self._active, logical_id, where):
            return self._ref(resolver, resource)

    def get_att(self, resolver: Resolver, logical_id: str, attribute: str, where: str) -> Any:
        what = f"Fn::GetAtt {logical_id}.{attribute}"
        resource = self._existing(resolver, logical_id, where, what)
        with _Guard(self._active, logical_id, where):
            value = self._attribute(resolver, resource, attribute)
        if value is None:
            raise ConfigError(
                where, f"{what}: wsgw has no local value for attribute {attribute!r} of {resource.type}"
            )
        return value

    def _existing(self, resolver: Resolver, logical_id: str, where: str, what: str) -> Resource:
        resource = self.document.get(logical_id)
        if resource is None:
            if what.startswith("Ref"):  # neither a parameter nor a resource
                raise ConfigError(where, f"Ref to unknown resource {logical_id!r}")
            raise ConfigError(where, f"{what}: unknown resource {logical_id!r}")
        if not resolver.creates(resource):
            # A resource whose Condition is false is not created (Conditions section).
            raise ConfigError(
                where, f"{what}: resource {logical_id!r} is not created (condition "
                f"{resource.condition!r} is false)"
            )
        return resource

    def _ref(self, resolver: Resolver, resource: Resource) -> Any:
        kind = resource.type
        if kind == FUNCTION:
            return function_name(resolver, resource)
        if kind in TABLE_TYPES:
            return table_name(resolver, resource)
        if kind == WEBSOCKET_API:
            return self.api_id if resource.logical_id == self.served_api else resource.logical_id
        if kind == "AWS::ApiGatewayV2::Stage":
            return resolver.string(resource.properties.get("StageName"), resource.where("StageName"))
        if kind in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
            # Ref gives the qualified function ARN (`...:function:name:alias`).
            target = resolver.string(
                resource.properties.get("FunctionName"), resource.where("FunctionName")
            )
            name = target.split(":")[6] if target.startswith("arn:") else target
            qualifier = (
                resolver.string(resource.properties.get("Name"), resource.where("Name"))
                if kind == "AWS::Lambda::Alias" else "1"
            )
            return f"{lambda_function_arn(self.region, self.account_id, name)}:{qualifier}"
        if kind == "AWS::SQS::Queue":
            name = queue_name(resolver, resource)
            return f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{name}"
        if kind == "AWS::SNS::Topic":
            return self._topic_arn(resolver, resource)
        if kind == "AWS::S3::Bucket":
            raw = resource.properties.get("BucketName")
            if raw is None:
                return resource.logical_id.lower()  # bucket names are lower case
            return resolver.string(raw, resource.where("BucketName"))
        return resource.logical_id

    def _attribute(self, resolver: Resolver, resource: Resource, attribute: str) -> Any:
        kind, region, account = resource.type, self.region, self.account_id
        if kind == FUNCTION and attribute == "Arn":
            return lambda_function_arn(region, account, function_name(resolver, resource))
        if kind in TABLE_TYPES and attribute in ("Arn", "StreamArn"):
            arn = f"arn:aws:dynamodb:{region}:{account}:table/{table_name(resolver, resource)}"
            # A stream ARN ends in the stream's creation time; this one is fixed.
            return arn if attribute == "Arn" else f"{arn}/stream/1970-01-01T00:00:00.000"
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{account}:role/{resource.logical_id}"
        if kind == WEBSOCKET_API and attribute in ("ApiEndpoint", "ApiId"):
            api_id = self._ref(resolver, resource)
            if attribute == "ApiId":
                return api_id
            return f"wss://{execute_api_host(api_id, region)}"
        if kind.startswith(_APIGW_V2) and attribute == kind[len(_APIGW_V2):] + "Id":
            return resource.logical_id  # AuthorizerId, IntegrationId, DeploymentId ...
        if kind == "AWS::SQS::Queue":
            name = queue_name(resolver, resource)
            values = {
                "Arn": f"arn:aws:sqs:{region}:{account}:{name}",
                "QueueName": name,
                "QueueUrl": self._ref(resolver, resource),
            }
            return values.get(attribute)
        if kind == "AWS::SNS::Topic" and attribute in ("TopicArn", "TopicName"):
            arn = self._topic_arn(resolver, resource)
            return arn if attribute == "TopicArn" else arn.rsplit(":", 1)[1]
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{self._ref(resolver, resource)}"
        return None

    def _topic_arn(self, resolver: Resolver, resource: Resource) -> str:
        return f"arn:aws:sns:{self.region}:{self.account_id}:{topic_name(resolver, resource)}"


class _Guard:
    """Detects a resource whose name refers back to itself (``TableName: !Ref Table``)."""

    def __init__(self, active: set[str], logical_id: str, where: str) -> None:
        self.active, self.logical_id, self.where = active, logical_id, where

    def __enter__(self) -> None:
        if self.logical_id in self.active:
            raise ConfigError(self.where, f"circular reference through resource {self.logical_id!r}")
        self.active.add(self.logical_id)

    def __exit__(self, *exc: object) -> None:
        self.active.discard(self.logical_id)
