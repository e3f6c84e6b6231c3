"""Tests for emulator.template.intrinsics/references/parameters: intrinsic functions
evaluated to wsgw's local values."""

from __future__ import annotations

import base64
from typing import Any, Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.core.errors import ConfigError
from emulator.template.document import read_document
from emulator.template.intrinsics import NO_VALUE, Resolver, Scope, pseudo_parameters
from emulator.template.parameters import parameter_values
from emulator.template.references import LocalReferences

RESOURCES: dict[str, Any] = {
    "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "WEBSOCKET"}},
    "OtherApi": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "WEBSOCKET"}},
    "Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {"ApiId": {"Ref": "Api"}, "StageName": {"Ref": "Env"}}},
    "Integ": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {}},
    "Auth": {"Type": "AWS::ApiGatewayV2::Authorizer", "Properties": {}},
    "Named": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": {"Fn::Sub": "${AWS::StackName}-chat"}}},
    "Anonymous": {"Type": "AWS::Lambda::Function", "Properties": {}},
    "Live": {"Type": "AWS::Lambda::Alias", "Properties": {"FunctionName": {"Ref": "Named"}, "Name": "live"}},
    "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "conns"}},
    "Unnamed": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
    "Loop": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": {"Fn::Sub": "${Loop}-x"}}},
    "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
    "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "jobs"}},
    "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
    "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
    "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
    "ProdOnly": {"Type": "AWS::DynamoDB::Table", "Condition": "IsProd", "Properties": {}},
}

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Env": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
        "Count": {"Type": "Number", "Default": 3},
        "Zones": {"Type": "CommaDelimitedList", "Default": "a,b,c"},
        "Bootstrap": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk-bootstrap/version"},
    },
    "Mappings": {"Sizes": {"dev": {"Memory": 256}, "prod": {"Memory": 1024}}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
        "ThreeOfThem": {"Fn::Equals": [{"Ref": "Count"}, 3]},
        "Both": {"Fn::And": [{"Condition": "IsDev"}, {"Condition": "ThreeOfThem"}]},
        "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Fn::Equals": ["a", "b"]}]},
        "Selfish": {"Fn::Not": [{"Condition": "Selfish"}]},
        "Weird": {"Fn::Contains": [["a"], "a"]},
    },
    "Resources": RESOURCES,
}


def resolver(overrides: Mapping[str, str] = {}, *, template: dict[str, Any] = TEMPLATE) -> Resolver:
    document = read_document(template)
    scope = Scope(
        parameters=parameter_values(document.parameters, overrides),
        pseudo=pseudo_parameters(region="eu-west-1", account_id="111122223333", stack_name="chat"),
        mappings=document.mappings,
        conditions=document.conditions,
    )
    references = LocalReferences(
        document, region="eu-west-1", account_id="111122223333", api_id="wsgwlocal1", served_api="Api"
    )
    return Resolver(scope, references)


def resolve(value: Any, overrides: Mapping[str, str] = {}) -> Any:
    return resolver(overrides).resolve(value, "X")


def error(value: Any, overrides: Mapping[str, str] = {}) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        resolver(overrides).resolve(value, "Resources.R.Properties.P")
    assert info.value.where == "Resources.R.Properties.P"
    return info.value


# --- Ref ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Env", "dev"),
        ("Count", "3"),  # parameter values are strings
        ("Zones", ["a", "b", "c"]),
        ("AWS::Region", "eu-west-1"),
        ("AWS::AccountId", "111122223333"),
        ("AWS::Partition", "aws"),
        ("AWS::URLSuffix", "amazonaws.com"),
        ("AWS::StackName", "chat"),
        ("Api", "wsgwlocal1"),
        ("OtherApi", "OtherApi"),  # not the served API: never equal to its Ref
        ("Stage", "dev"),
        ("Named", "chat-chat"),
        ("Anonymous", "Anonymous"),
        ("Live", "arn:aws:lambda:eu-west-1:111122223333:function:chat-chat:live"),
        ("Table", "conns"),
        ("Unnamed", "Unnamed"),
        ("Role", "Role"),
        ("Integ", "Integ"),
        ("Queue", "https://sqs.eu-west-1.amazonaws.com/111122223333/jobs"),
        ("Topic", "arn:aws:sns:eu-west-1:111122223333:Topic"),
        ("Bucket", "bucket"),
        ("Alarm", "Alarm"),
    ],
)
def test_ref(name: str, expected: Any) -> None:
    assert resolve({"Ref": name}) == expected


def test_ref_to_parameter_override() -> None:
    assert resolve({"Ref": "Env"}, {"Env": "prod"}) == "prod"
    assert resolve({"Ref": "Stage"}, {"Env": "prod"}) == "prod"


def test_stack_id_pseudo_parameter_has_the_arn_shape() -> None:
    assert resolve({"Ref": "AWS::StackId"}).startswith("arn:aws:cloudformation:eu-west-1:111122223333:stack/chat/")


def test_dangling_ref_names_the_property() -> None:
    assert error({"Ref": "Tabel"}).problem == "Ref to unknown resource 'Tabel'"


def test_unknown_pseudo_parameter() -> None:
    assert "unknown pseudo parameter AWS::Nope" in error({"Ref": "AWS::Nope"}).problem


def test_ref_to_ssm_parameter_is_unresolvable() -> None:
    assert "SSM parameter" in error({"Ref": "Bootstrap"}).problem


def test_ref_to_resource_whose_condition_is_false() -> None:
    assert "not created (condition 'IsProd' is false)" in error({"Ref": "ProdOnly"}).problem
    assert resolve({"Ref": "ProdOnly"}, {"Env": "prod"}) == "ProdOnly"


def test_circular_name_reference() -> None:
    with pytest.raises(ConfigError) as info:
        resolver().resolve({"Ref": "Loop"}, "Resources.R.Properties.P")
    # Named where the loop closes: the table's own name refers to the table.
    assert info.value.where == "Resources.Loop.Properties.TableName"
    assert info.value.problem == "circular reference through resource 'Loop'"


# --- Fn::GetAtt ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        (["Named", "Arn"], "arn:aws:lambda:eu-west-1:111122223333:function:chat-chat"),
        ("Anonymous.Arn", "arn:aws:lambda:eu-west-1:111122223333:function:Anonymous"),
        (["Table", "Arn"], "arn:aws:dynamodb:eu-west-1:111122223333:table/conns"),
        (["Table", "StreamArn"], "arn:aws:dynamodb:eu-west-1:111122223333:table/conns/stream/1970-01-01T00:00:00.000"),
        (["Role", "Arn"], "arn:aws:iam::111122223333:role/Role"),
        (["Api", "ApiEndpoint"], "wss://wsgwlocal1.execute-api.eu-west-1.amazonaws.com"),
        (["Api", "ApiId"], "wsgwlocal1"),
        (["Auth", "AuthorizerId"], "Auth"),
        (["Queue", "Arn"], "arn:aws:sqs:eu-west-1:111122223333:jobs"),
        (["Topic", "TopicName"], "Topic"),
        (["Bucket", "Arn"], "arn:aws:s3:::bucket"),
    ],
)
def test_get_att(argument: Any, expected: str) -> None:
    assert resolve({"Fn::GetAtt": argument}) == expected


def test_get_att_attribute_may_be_a_ref() -> None:
    template = {**TEMPLATE, "Parameters": {**TEMPLATE["Parameters"], "Attr": {"Type": "String", "Default": "Arn"}}}
    value = resolver(template=template).resolve({"Fn::GetAtt": ["Table", {"Ref": "Attr"}]}, "X")
    assert value == "arn:aws:dynamodb:eu-west-1:111122223333:table/conns"


def test_get_att_of_unknown_attribute() -> None:
    problem = error({"Fn::GetAtt": ["Named", "SnapStartResponse"]}).problem
    assert problem == (
        "Fn::GetAtt Named.SnapStartResponse: wsgw has no local value for attribute "
        "'SnapStartResponse' of AWS::Lambda::Function"
    )


def test_get_att_of_unknown_resource() -> None:
    assert error({"Fn::GetAtt": ["Nope", "Arn"]}).problem == "Fn::GetAtt Nope.Arn: unknown resource 'Nope'"


# --- Fn::Sub ------------------------------------------------------------------------------


def test_sub_string_form() -> None:
    text = "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Named.Arn}/invocations"
    assert resolve({"Fn::Sub": text}) == (
        "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:eu-west-1:111122223333:function:chat-chat/invocations"
    )


def test_sub_refs_parameters_resources_and_escapes() -> None:
    assert resolve({"Fn::Sub": "${Env}/${Table}/${!Literal}/${!Env}"}) == "dev/conns/${Literal}/${Env}"


def test_sub_list_form_variables_win() -> None:
    value = {"Fn::Sub": ["${Env}-${Name}-${AWS::Region}", {"Env": "mine", "Name": {"Ref": "Table"}}]}
    assert resolve(value) == "mine-conns-eu-west-1"


def test_sub_of_list_parameter_is_an_error() -> None:
    assert "${Zones} is a list, not a string" in error({"Fn::Sub": "${Zones}"}).problem


def test_sub_of_unknown_name() -> None:
    assert error({"Fn::Sub": "x-${Nope}"}).problem == "Ref to unknown resource 'Nope'"


# --- Join, Select, Split, Base64, FindInMap ---------------------------------------------------


def test_join_drops_no_value_items_and_writes_numbers() -> None:
    value = {"Fn::Join": ["-", ["a", {"Ref": "AWS::NoValue"}, 7, {"Ref": "Env"}]]}
    assert resolve(value) == "a-7-dev"


def test_join_of_a_list_parameter() -> None:
    assert resolve({"Fn::Join": [";", {"Ref": "Zones"}]}) == "a;b;c"


def test_join_needs_a_list() -> None:
    assert "Fn::Join needs a list of values" in error({"Fn::Join": ["", "abc"]}).problem


def test_select_and_split() -> None:
    assert resolve({"Fn::Select": ["1", {"Fn::Split": ["/", "x/y/z"]}]}) == "y"
    assert resolve({"Fn::Select": [2, {"Ref": "Zones"}]}) == "c"
    assert "out of range" in error({"Fn::Select": [5, {"Ref": "Zones"}]}).problem


def test_base64() -> None:
    assert resolve({"Fn::Base64": {"Fn::Sub": "${Env}!"}}) == base64.b64encode(b"dev!").decode()


def test_find_in_map() -> None:
    assert resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Memory"]}) == 256
    assert resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Memory"]}, {"Env": "prod"}) == 1024
    problem = error({"Fn::FindInMap": ["Sizes", "test", "Memory"]}).problem
    assert problem == "Fn::FindInMap: Mappings.Sizes has no key 'test'"


# --- conditions, Fn::If, AWS::NoValue ------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "dev", "prod"),
    [("IsProd", False, True), ("IsDev", True, False), ("Both", True, False), ("Either", False, True),
     ("ThreeOfThem", True, True)],
)
def test_conditions(condition: str, dev: bool, prod: bool) -> None:
    assert resolver().condition(condition, "X") is dev
    assert resolver({"Env": "prod"}).condition(condition, "X") is prod


def test_if_chooses_a_branch() -> None:
    value = {"Fn::If": ["IsProd", "big", {"Fn::Sub": "small-${Env}"}]}
    assert resolve(value) == "small-dev"
    assert resolve(value, {"Env": "prod"}) == "big"


def test_no_value_removes_keys_and_items() -> None:
    value = {
        "Keep": "a",
        "Drop": {"Fn::If": ["IsProd", "x", {"Ref": "AWS::NoValue"}]},
        "List": ["a", {"Ref": "AWS::NoValue"}, "b"],
    }
    assert resolve(value) == {"Keep": "a", "List": ["a", "b"]}
    assert resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_unknown_condition() -> None:
    assert error({"Fn::If": ["Nope", 1, 2]}).problem == "unknown condition 'Nope'"


def test_self_referencing_condition() -> None:
    with pytest.raises(ConfigError) as info:
        resolver().condition("Selfish", "X")
    assert info.value.where == "Conditions.Selfish"
    assert info.value.problem == "refers to itself"


def test_unsupported_condition_function() -> None:
    with pytest.raises(ConfigError) as info:
        resolver().condition("Weird", "X")
    assert info.value.where == "Conditions.Weird"


def test_condition_functions_outside_conditions() -> None:
    assert "only allowed in Conditions" in error({"Fn::Equals": ["a", "a"]}).problem


# --- intrinsics that cannot be resolved locally ----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ({"Fn::ImportValue": "shared-table"}, "Fn::ImportValue"),
        ({"Fn::GetAZs": ""}, "Fn::GetAZs"),
        ({"Fn::Cidr": ["10.0.0.0/16", 2, 8]}, "Fn::Cidr"),
        ({"Fn::Sub": ["${X}", {"X": {"Fn::ImportValue": "y"}}]}, "Fn::ImportValue"),
    ],
)
def test_not_local(value: Any, name: str) -> None:
    assert error(value).problem.startswith(f"{name} cannot be resolved locally")


def test_unknown_function() -> None:
    assert error({"Fn::Frobnicate": 1}).problem == "unknown intrinsic function Fn::Frobnicate"


def test_nested_errors_name_the_nested_property() -> None:
    with pytest.raises(ConfigError) as info:
        resolver().resolve({"Variables": {"TABLE": {"Ref": "Tabel"}}}, "Resources.Fn.Properties.Environment")
    assert info.value.where == "Resources.Fn.Properties.Environment.Variables.TABLE"
    with pytest.raises(ConfigError) as info:
        resolver().resolve(["ok", {"Fn::GetAZs": ""}], "Resources.Fn.Properties.List")
    assert info.value.where == "Resources.Fn.Properties.List[1]"


# --- parameters -------------------------------------------------------------------------------


def parameter_error(declared: dict[str, Any], overrides: Mapping[str, str] = {}) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parameter_values(declared, overrides)
    return info.value


def test_parameter_without_default_or_value() -> None:
    failure = parameter_error({"Stage": {"Type": "String"}})
    assert failure.where == "Parameters.Stage"
    assert "no Default and no value was given" in failure.problem
    assert parameter_values({"Stage": {"Type": "String"}}, {"Stage": "dev"}) == {"Stage": "dev"}


def test_override_of_undeclared_parameter() -> None:
    failure = parameter_error({"Stage": {"Type": "String", "Default": "x"}}, {"Stsge": "dev"})
    assert failure.where == "parameters.Stsge"
    assert "declared: Stage" in failure.problem


def test_allowed_values_and_pattern() -> None:
    failure = parameter_error({"Env": {"Type": "String", "Default": "dev", "AllowedValues": ["dev"]}}, {"Env": "qa"})
    assert failure.where == "Parameters.Env"
    assert "not one of AllowedValues ['dev']" in failure.problem
    failure = parameter_error({"Name": {"Type": "String", "Default": "a-b", "AllowedPattern": "[a-z]+"}})
    assert failure.where == "Parameters.Name"
    assert "does not match AllowedPattern" in failure.problem


def test_parameter_defaults_become_strings() -> None:
    declared = {"N": {"Type": "Number", "Default": 10}, "B": {"Type": "String", "Default": True}}
    assert parameter_values(declared, {}) == {"N": "10", "B": "true"}


# --- properties (hypothesis) -------------------------------------------------------------------

# Text without `${`, so Fn::Sub has nothing to substitute.
_plain = st.text(st.characters(exclude_categories=["Cs"]), max_size=30).filter(lambda s: "${" not in s)
_names = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}", fullmatch=True)


@given(_plain)
def test_sub_without_placeholders_is_identity(text: str) -> None:
    assert resolve({"Fn::Sub": text}) == text


@given(st.lists(st.tuples(_plain.filter(lambda s: not s.endswith("$")), _names, st.text(max_size=10)), max_size=5))
def test_sub_with_variables_concatenates(parts: list[tuple[str, str, str]]) -> None:
    template = "".join(f"{literal}${{{name}}}" for literal, name, _ in parts)
    variables = {name: value for _, name, value in parts}
    expected = "".join(literal + variables[name] for literal, name, _ in parts)
    assert resolve({"Fn::Sub": [template, variables]}) == expected


@given(_names)
def test_sub_escape_writes_the_placeholder(name: str) -> None:
    assert resolve({"Fn::Sub": "${!" + name + "}"}) == "${" + name + "}"


@given(st.text(max_size=3), st.lists(st.text(max_size=10), max_size=6))
def test_join_is_str_join(delimiter: str, items: list[str]) -> None:
    assert resolve({"Fn::Join": [delimiter, items]}) == delimiter.join(items)


@given(st.text(min_size=1, max_size=3), st.lists(st.text(max_size=10), min_size=1, max_size=6))
def test_split_undoes_join(delimiter: str, items: list[str]) -> None:
    if any(delimiter in item for item in items):
        return
    joined = {"Fn::Join": [delimiter, items]}
    assert resolve({"Fn::Split": [delimiter, joined]}) == items
