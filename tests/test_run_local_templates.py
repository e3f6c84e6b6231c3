"""run-local serving apps from templates: a SAM app with handlers from the tests, and
the bundled CDK app from its synthesized cloud assembly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
from websockets.sync.client import connect

from conftest import DEADLINE_S, RunLocalProcess, RunningGateway, start_gateway, wait_until

SAM_CHAT = Path(__file__).resolve().parent / "templates" / "sam_chat" / "template.yaml"


@pytest.fixture(scope="module")
def sam_gateway(tls_dir: Path) -> Iterator[RunningGateway]:
    running = start_gateway(SAM_CHAT, tls_dir)
    yield running
    running.background.stop()


def _rows(gateway: RunningGateway) -> set[str]:
    items = gateway.dynamodb().scan(TableName="simplechat_connections")["Items"]
    return {item["connectionId"]["S"] for item in items}


def test_sam_app_end_to_end(sam_gateway: RunningGateway) -> None:
    model = sam_gateway.local.model
    assert model.stage == "Prod" and sam_gateway.ws_url.endswith("/Prod")
    assert model.route_selection_expression == "$request.body.message.type"
    with connect(sam_gateway.ws_url) as alice, connect(sam_gateway.ws_url) as bob:
        assert len(_rows(sam_gateway)) == 2  # $connect ran for both before their 101
        alice.send(json.dumps({"message": {"type": "sendmessage", "text": "hello all"}}))
        # postToConnection over the https callback reaches both; the two-way route
        # answers the sender too (order between the two is not guaranteed, as on AWS).
        assert sorted([alice.recv(timeout=10), alice.recv(timeout=10)]) == ["hello all", "sent: hello all"]
        assert bob.recv(timeout=10) == "hello all"
        bob.send(json.dumps({"message": {"type": "unknown"}}))
        forbidden = json.loads(bob.recv(timeout=10))  # no $default route in this app
        assert forbidden["message"] == "Forbidden"
    wait_until(lambda: _rows(sam_gateway) == set(), interval=0.05)  # $disconnect ran for both


def test_sam_function_environment_resolves_to_local_values(sam_gateway: RunningGateway) -> None:
    functions = sam_gateway.local.model.functions
    send = next(spec for name, spec in functions.items() if name.endswith("-send"))
    assert send.environment["TABLE_NAME"] == "simplechat_connections"
    assert send.environment["LOG_LEVEL"] == "INFO"  # from Globals
    assert send.timeout_s == 20 and send.memory_mb == 256


def test_bundled_app_is_served_from_its_synthesized_template(chat_gateway: RunningGateway) -> None:
    model = chat_gateway.local.model
    assert set(model.routes) == {"$connect", "$disconnect", "$default", "whoAmI", "sendMessage"}
    assert {key for key, route in model.routes.items() if route.two_way} == {"whoAmI", "$default"}
    assert model.stage == "dev"
    # The code runs from handlers/ itself (not a staged copy), so edits apply.
    assert {spec.code_dir for spec in model.functions.values()} == {Path(__file__).resolve().parent.parent / "handlers"}
    assert {spec.environment.get("CONNECTIONS_TABLE") for spec in model.functions.values()} == {"ConnectionsTable", None}


def test_a_change_to_the_stack_shows_up_with_no_other_edit(tmp_path: Path) -> None:
    # A copy of the project whose stack gains a route: the next synth (which
    # run-local does at start) serves it; nothing else is edited.
    import shutil

    from emulator.template import cdk_cli
    from emulator.template import load_template

    root = Path(__file__).resolve().parent.parent
    project = tmp_path / "project"
    shutil.copytree(root / "handlers", project / "handlers", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "deploy").mkdir(parents=True)
    for name in ("app.py", "stack.py", "cdk.json", "package.json"):
        shutil.copy(root / "deploy" / name, project / "deploy" / name)
    (project / "deploy" / "node_modules").symlink_to(root / "deploy" / "node_modules")
    stack = project / "deploy" / "stack.py"
    source = stack.read_text(encoding="utf-8")
    marker = 'api.add_route("whoAmI"'
    assert marker in source
    stack.write_text(source.replace(marker, 'api.add_route("ping", integration=integration("WhoAmIFunction"), '
                                            'return_response=True)\n        ' + marker, 1), encoding="utf-8")
    model = load_template(cdk_cli.synth(tmp_path / "cdk.out", project=project))
    assert "ping" in model.routes and model.routes["ping"].two_way
    assert model.functions[model.routes["ping"].function].code_dir == project / "handlers"


def test_stack_name_flag_feeds_aws_stack_name(tls_dir: Path) -> None:
    # SendMessageFunction's FunctionName is !Sub ${AWS::StackName}-send: the invocation
    # line names it by the stack name given (the default would be the folder's, sam-chat).
    server = RunLocalProcess("--template", str(SAM_CHAT), "--stack-name", "chat-prod", "--port", "0",
                             "--no-reload", "--tls-dir", str(tls_dir))
    try:
        url = server.wait_for(r"WebSocket URL: (ws://\S+)", timeout=DEADLINE_S).group(1)
        server.wait_for("Ready", timeout=DEADLINE_S)
        with connect(url, open_timeout=DEADLINE_S) as ws:
            ws.send('{"message": {"type": "sendmessage", "text": "hello"}}')
            ws.recv(timeout=DEADLINE_S)
        server.wait_for(r"  sendmessage  chat-prod-send  ok  ", timeout=DEADLINE_S)
    finally:
        assert server.close() == 0


def test_an_invalid_stack_name_is_a_usage_error() -> None:
    server = RunLocalProcess("--template", str(SAM_CHAT), "--stack-name", "chat_prod", "--port", "0")
    try:
        server.wait_for(r"--stack-name: 'chat_prod' is not a stack name", timeout=DEADLINE_S)
        assert server.process.wait(DEADLINE_S) == 2
    finally:
        server.close()
