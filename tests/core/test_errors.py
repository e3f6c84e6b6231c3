"""emulator.core.errors: one tree, and every error on the wire knows its answer."""

from __future__ import annotations

import json

import pytest

from emulator.core import errors
from emulator.core.lambda_api import error_response as lambda_error_response
from emulator.core.management import error_response as management_error_response


def _leaves(base: type) -> list[type]:
    found = []
    for cls in base.__subclasses__():
        found += _leaves(cls) or [cls]
    return found


WIRE_ERRORS = _leaves(errors.WireError)


def test_every_error_descends_from_wsgw_error() -> None:
    for cls in (errors.ConfigError, errors.StartupError, errors.WireError, *WIRE_ERRORS):
        assert issubclass(cls, errors.WsgwError)


@pytest.mark.parametrize("cls", WIRE_ERRORS, ids=lambda cls: cls.__name__)
def test_wire_errors_are_named_for_the_aws_error_type_and_carry_a_status(cls: type[errors.WireError]) -> None:
    assert cls.error_type == cls.__name__
    assert 400 <= cls.status <= 599


def test_both_apis_have_their_errors_in_the_tree() -> None:
    assert {cls.__name__ for cls in _leaves(errors.ManagementError)} == {
        "BadRequestException", "ForbiddenException", "GoneException", "PayloadTooLargeException",
        "LimitExceededException",
    }
    assert {cls.__name__ for cls in _leaves(errors.LambdaApiError)} == {
        "ResourceNotFoundException", "InvalidParameterValueException", "InvalidRequestContentException",
    }


def test_each_api_serialises_its_own_errors() -> None:
    gone = management_error_response(errors.GoneException(), "r1")
    assert (gone.status, gone.body, dict(gone.headers)["x-amzn-ErrorType"]) == (410, b"", "GoneException")
    missing = lambda_error_response(errors.ResourceNotFoundException("Function not found: x"), "r2")
    assert missing.status == 404 and dict(missing.headers)["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert json.loads(missing.body) == {"Type": "User", "message": "Function not found: x"}
