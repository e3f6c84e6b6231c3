"""emulator.runtime.environment: what a handler worker's process gets."""

from __future__ import annotations

import os
from pathlib import Path

from emulator.core.model import FunctionSpec
from emulator.runtime.environment import (
    INHERITED, LocalServices, lambda_variables, services_environment, worker_environment,
)

SERVICES = LocalServices(
    aws_endpoint_url="http://127.0.0.1:9999", embedded=True, gateway="127.0.0.1:3001", stage="dev",
    api_hostname="abc123.execute-api.eu-west-1.amazonaws.com", ca_bundle=Path("/tmp/wsgw/ca-bundle.pem"),
)
CALLER = {
    "PATH": "/usr/bin", "HOME": "/home/me", "AWS_PROFILE": "my-real-account", "SECRET_OF_THE_SHELL": "x",
    "AWS_ACCESS_KEY_ID": "AKIAREAL", "AWS_SECRET_ACCESS_KEY": "real", "AWS_CA_BUNDLE": "/etc/ssl/system.pem",
}


def test_only_the_basics_are_inherited() -> None:
    env = services_environment(SERVICES, CALLER)
    assert env["PATH"] == "/usr/bin" and env["HOME"] == "/home/me"
    assert "SECRET_OF_THE_SHELL" not in env and "AWS_PROFILE" not in env
    assert set(CALLER) - set(env) == {"SECRET_OF_THE_SHELL", "AWS_PROFILE"}
    assert set(INHERITED) >= {"PATH", "HOME"}


def test_endpoints_trust_and_redirect_point_at_the_local_world() -> None:
    env = services_environment(SERVICES, CALLER)
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9999"
    assert env["AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"] == "http://127.0.0.1:3001/dev"
    assert env["AWS_ENDPOINT_URL_LAMBDA"] == "http://127.0.0.1:3001"
    assert env["WSGW_REDIRECT_HOSTS"] == "abc123.execute-api.eu-west-1.amazonaws.com"
    assert env["WSGW_REDIRECT_TARGET"] == "https://127.0.0.1:3001"
    # The machine's own AWS_CA_BUNDLE (system roots only) must not win over ours.
    assert env["AWS_CA_BUNDLE"] == env["REQUESTS_CA_BUNDLE"] == "/tmp/wsgw/ca-bundle.pem"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"


def test_embedded_services_get_dummy_credentials_and_no_profile_files() -> None:
    env = services_environment(SERVICES, CALLER)
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]) == ("testing",) * 3
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull


def test_a_user_endpoint_gets_the_callers_credentials_or_the_dummy_ones() -> None:
    user = LocalServices(**{**SERVICES.__dict__, "embedded": False})
    env = services_environment(user, CALLER)
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_PROFILE"]) == ("AKIAREAL", "real", "my-real-account")
    assert "AWS_CONFIG_FILE" not in env
    bare = services_environment(user, {"PATH": "/usr/bin"})
    assert bare["AWS_ACCESS_KEY_ID"] == "testing"


def test_lambda_reserved_variables(tmp_path: Path) -> None:
    spec = FunctionSpec("Chat", "app.handler", tmp_path, runtime="python3.12", memory_mb=256)
    env = lambda_variables(spec, "eu-west-1")
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "Chat"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/Chat"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["LAMBDA_TASK_ROOT"] == str(tmp_path.resolve())
    assert (env["_HANDLER"], env["TZ"]) == ("app.handler", ":UTC")


def test_each_worker_gets_its_own_log_stream_and_the_functions_variables_last(tmp_path: Path) -> None:
    spec = FunctionSpec("Chat", "app.handler", tmp_path, environment={"TABLE": "t", "AWS_ENDPOINT_URL": "http://other"})
    common = {**services_environment(SERVICES, CALLER), **lambda_variables(spec, "us-east-1")}
    first, second = worker_environment(common, spec), worker_environment(common, spec)
    assert first["AWS_LAMBDA_LOG_STREAM_NAME"] != second["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert "/[$LATEST]" in first["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert first["TABLE"] == "t"
    assert first["AWS_ENDPOINT_URL"] == "http://other"  # the template's own value wins
