"""The CDK side: the bundled stack synthesizes (real ``cdk synth``), lints clean and says
what ``wsgw.json`` says; ``emulator.template.cdk_cli`` skips a synth when nothing changed and
reports deploy prerequisites in plain lines.

One real synth per module (``assembly``); tests that need more synths fake the CLI.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from emulator.template import bundled_app, cdk_cli, load_template
from emulator.template.cdk_cli import CdkError
from emulator.template.loader import load_model

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = ROOT / "handlers"
STACK = cdk_cli.DEFAULT_STACK_NAME
TABLE_WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:DeleteItem"}


def test_cdk_tools_are_installed() -> None:
    # `make test` installs node packages and aws-cdk-lib; their absence is a failure.
    assert cdk_cli.tool_problems() == []

Template = dict[str, Any]


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cdk_cli.synth(tmp_path_factory.mktemp("cdk") / "cdk.out")


@pytest.fixture(scope="module")
def template(assembly: Path) -> Template:
    return json.loads((assembly / f"{STACK}.template.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def of_type(template: Template, type_: str) -> dict[str, Any]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == type_}


def only(template: Template, type_: str) -> tuple[str, dict[str, Any]]:
    found = of_type(template, type_)
    assert len(found) == 1, sorted(found)
    return next(iter(found.items()))


def functions_by_handler(template: Template) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{"connect.handler": (logical id, resource), ...}``"""
    return {res["Properties"]["Handler"]: (name, res) for name, res in of_type(template, "AWS::Lambda::Function").items()}


def handler_imports(module: str, seen: set[str] | None = None) -> set[str]:
    """The modules of handlers/ that ``module`` imports, transitively."""
    seen = set() if seen is None else seen
    for node in ast.walk(ast.parse((HANDLERS / f"{module}.py").read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
        for name in names:
            if (HANDLERS / f"{name}.py").is_file() and name not in seen:
                seen.add(name)
                handler_imports(name, seen)
    return seen


def policy_actions(template: Template, function: dict[str, Any]) -> dict[str, Any]:
    """``{action: resource}`` over the inline policies attached to ``function``'s role."""
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    actions: dict[str, Any] = {}
    for policy in of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                actions.update({action: statement["Resource"] for action in listed})
    return actions


# --- the synthesized template --------------------------------------------------------------


def test_synth_writes_an_assembly_whose_assets_are_the_source_folder(assembly: Path, template: Template) -> None:
    assert (assembly / "manifest.json").is_file()
    functions = of_type(template, "AWS::Lambda::Function")
    assert functions
    for res in functions.values():
        # --no-staging: run-local executes handlers/ itself, so an edit is what runs next.
        assert res["Metadata"]["aws:asset:path"] == str(HANDLERS)
        assert res["Metadata"]["aws:asset:property"] == "Code"


def test_template_is_cfn_lint_clean(assembly: Path) -> None:
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or "cfn-lint"
    proc = subprocess.run([cfn_lint, "--ignore-checks", "W3005", "--", str(assembly / f"{STACK}.template.json")],
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_connection_table(template: Template) -> None:
    _, table = only(template, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "connectionId", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "connectionId", "AttributeType": "S"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert table["DeletionPolicy"] == "Delete"


def test_functions_match_wsgw_json(template: Template) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    described = json.loads((ROOT / "tests" / "apps" / "chat" / "wsgw.json").read_text(encoding="utf-8"))["functions"]
    functions = functions_by_handler(template)
    assert set(functions) == {spec["handler"] for spec in described.values()}
    for spec in described.values():
        _, res = functions[spec["handler"]]
        props = res["Properties"]
        assert (HANDLERS / f"{spec['handler'].split('.')[0]}.py").is_file()
        assert props["Runtime"] == "python3.12"
        assert props["Timeout"] == spec["timeout"] and props["MemorySize"] == spec["memorySize"]
        env = props.get("Environment", {}).get("Variables", {})
        if "CONNECTIONS_TABLE" in spec.get("environment", {}):
            assert env == {"CONNECTIONS_TABLE": {"Ref": table_id}}
        else:
            assert env == {}


def test_websocket_api_routes_and_two_way_routes(template: Template) -> None:
    api_id, api = only(template, "AWS::ApiGatewayV2::Api")
    assert api["Properties"]["ProtocolType"] == "WEBSOCKET"
    assert api["Properties"]["RouteSelectionExpression"] == "$request.body.action"
    routes = {res["Properties"]["RouteKey"]: (name, res["Properties"])
              for name, res in of_type(template, "AWS::ApiGatewayV2::Route").items()}
    assert set(routes) == {"$connect", "$disconnect", "$default", "whoAmI", "sendMessage"}
    integrations = of_type(template, "AWS::ApiGatewayV2::Integration")
    functions = {name: res["Properties"]["Handler"] for name, res in of_type(template, "AWS::Lambda::Function").items()}
    described = json.loads((ROOT / "tests" / "apps" / "chat" / "wsgw.json").read_text(encoding="utf-8"))
    for key, (_, props) in routes.items():
        assert props["ApiId"] == {"Ref": api_id}
        integration_id = props["Target"]["Fn::Join"][1][1]["Ref"]
        uri_parts = integrations[integration_id]["Properties"]["IntegrationUri"]["Fn::Join"][1]
        target = next(part["Fn::GetAtt"][0] for part in uri_parts if isinstance(part, dict) and "Fn::GetAtt" in part)
        function_name = described["routes"][key]["function"]
        assert functions[target] == described["functions"][function_name]["handler"], key
    two_way = {key for key, (_, props) in routes.items() if props.get("RouteResponseSelectionExpression") == "$default"}
    assert two_way == {"whoAmI", "$default"}
    responded = {res["Properties"]["RouteId"]["Ref"] for res in of_type(template, "AWS::ApiGatewayV2::RouteResponse").values()}
    assert responded == {routes[key][0] for key in two_way}


def test_dev_stage_deploys_itself(template: Template) -> None:
    api_id, _ = only(template, "AWS::ApiGatewayV2::Api")
    _, stage = only(template, "AWS::ApiGatewayV2::Stage")
    assert stage["Properties"] == {"ApiId": {"Ref": api_id}, "StageName": "dev", "AutoDeploy": True}


def test_iam_is_least_privilege_per_handler(template: Template) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    api_id, _ = only(template, "AWS::ApiGatewayV2::Api")
    for handler, (_, res) in functions_by_handler(template).items():
        uses = handler_imports(handler.split(".")[0])
        actions = policy_actions(template, res)
        table_actions = {a for a in actions if a.startswith("dynamodb:")}
        if "connection_table" in uses:
            assert TABLE_WRITE_ACTIONS <= table_actions, handler
            assert all(actions[a] == [{"Fn::GetAtt": [table_id, "Arn"]}] for a in table_actions)
        else:
            assert not table_actions, handler
        if "callbacks" in uses:
            resource = actions["execute-api:ManageConnections"]["Fn::Join"][1]
            assert {"Ref": api_id} in resource and resource[-1].endswith("/@connections/*")
        else:
            assert "execute-api:ManageConnections" not in actions, handler
        assert not any(a.endswith(":*") or a == "*" for a in actions), handler
    assert "callbacks" in handler_imports("send_message")  # the check above checks something


def test_outputs(template: Template) -> None:
    outputs = template["Outputs"]
    assert {"WebSocketUrl", "CallbackUrl"} <= set(outputs)
    assert outputs["WebSocketUrl"]["Value"]["Fn::Join"][1][0] == "wss://"
    assert outputs["CallbackUrl"]["Value"]["Fn::Join"][1][0] == "https://"
    assert outputs["WebSocketUrl"]["Value"]["Fn::Join"][1][-1] == "/dev"
    # wsgw connections/broadcast --deployed find the table through this output.
    assert outputs["ConnectionsTableName"]["Value"] == {"Ref": "ConnectionsTable"}


# --- the snapshot served without the CDK tools (emulator/template/bundled_app.py) ------------


def test_the_snapshot_is_the_stack_as_synthesized_now(assembly: Path, template: Template) -> None:
    snapshot = bundled_app.snapshot_path()
    stored = json.loads((snapshot / f"{STACK}.template.json").read_text(encoding="utf-8"))
    assert stored == bundled_app.normalized_template(template), (
        "deploy/snapshot.out is out of date with deploy/stack.py or handlers/: run `make snapshot`")
    manifest = json.loads((snapshot / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["version"] == json.loads((assembly / "manifest.json").read_text(encoding="utf-8"))["version"]


def test_without_the_cdk_tools_run_local_serves_the_snapshot(assembly: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synthesized = load_template(assembly)
    monkeypatch.setattr(cdk_cli, "can_synthesize", lambda *args: False)
    monkeypatch.setattr(cdk_cli, "synth", lambda *args, **kwargs: pytest.fail("synthesized"))
    served = load_model()
    assert served.routes == synthesized.routes and served.stage == synthesized.stage
    assert {name: (spec.handler, spec.code_dir, dict(spec.environment)) for name, spec in served.functions.items()} == {
        name: (spec.handler, spec.code_dir, dict(spec.environment)) for name, spec in synthesized.functions.items()}
    assert {spec.code_dir for spec in served.functions.values()} == {HANDLERS}


# --- synth is a no-op when nothing changed ---------------------------------------------------


def test_second_synth_with_nothing_changed_runs_nothing(assembly: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    template_file = assembly / f"{STACK}.template.json"
    before = template_file.stat().st_mtime_ns

    def no_cdk(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"cdk ran: {args}")

    monkeypatch.setattr(cdk_cli, "run_cdk", no_cdk)
    assert cdk_cli.synth(assembly) == assembly  # no cdk run: how fast that is belongs in bench/
    assert template_file.stat().st_mtime_ns == before


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A throwaway copy of the app (the real handlers/ are never touched)."""
    (tmp_path / "deploy").mkdir()
    for name in ("app.py", "stack.py", "cdk.json"):
        shutil.copy2(ROOT / "deploy" / name, tmp_path / "deploy" / name)
    shutil.copytree(HANDLERS, tmp_path / "handlers", ignore=shutil.ignore_patterns("__pycache__"))
    if (ROOT / "deploy" / "node_modules").is_dir():
        (tmp_path / "deploy" / "node_modules").symlink_to(ROOT / "deploy" / "node_modules")
    return tmp_path


@pytest.fixture
def fake_cdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """Replace the CLI run by one that writes a manifest; yields the commands run."""
    calls: list[list[str]] = []

    def run(command: list[str], **kwargs: Any) -> str:
        calls.append(command)
        out = Path(command[command.index("--output") + 1])
        (out / "manifest.json").write_text("{}", encoding="utf-8")
        return ""

    monkeypatch.setattr(cdk_cli, "run_cdk", run)
    yield calls


def test_what_shapes_the_template_resynthesizes(project_copy: Path, tmp_path: Path, fake_cdk: list[list[str]]) -> None:
    out = tmp_path / "out"
    cdk_cli.synth(out, project=project_copy)
    cdk_cli.synth(out, project=project_copy)
    assert len(fake_cdk) == 1 and "--no-staging" in fake_cdk[0]

    handler = project_copy / "handlers" / "whoami.py"
    stat = handler.stat()
    os.utime(handler, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touch
    cdk_cli.synth(out, project=project_copy)
    assert len(fake_cdk) == 2

    (project_copy / "handlers" / "__pycache__").mkdir()  # bytecode from local runs: ignored
    (project_copy / "handlers" / "__pycache__" / "whoami.cpython-311.pyc").write_bytes(b"x")
    cdk_cli.synth(out, project=project_copy)
    assert len(fake_cdk) == 2

    stack = project_copy / "deploy" / "stack.py"
    stack.write_text(stack.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    cdk_cli.synth(out, project=project_copy)
    assert len(fake_cdk) == 3

    cdk_cli.synth(out, staging=True, project=project_copy)
    assert len(fake_cdk) == 4 and "--no-staging" not in fake_cdk[3]


def test_a_missing_cli_without_npm_says_what_to_install(
    project_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cdk_cli, "find_cli", lambda *args: None)
    monkeypatch.setattr(cdk_cli.shutil, "which", lambda name, *a, **k: "/usr/bin/node" if name == "node" else None)
    with pytest.raises(CdkError, match=r"CDK CLI is not installed and npm is not on PATH"):
        cdk_cli.synth(tmp_path / "out", project=project_copy)


def test_missing_node_is_reported(project_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cdk_cli.shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(CdkError, match=r"^node is not on PATH"):
        cdk_cli.synth(tmp_path / "out", project=project_copy)


def test_failed_synth_is_one_line_from_stderr() -> None:
    stderr = (
        "85 feature flags are not configured. Run 'cdk flags --unstable=flags' to learn more.\n"
        "Traceback (most recent call last):\n  File \"app.py\", line 3, in <module>\n"
        "TypeError: Function.__init__() got an unexpected keyword argument 'bogus'\n"
        "\nSubprocess exited with error 1\n"
    )
    assert cdk_cli.first_meaningful_line(stderr) == (
        "TypeError: Function.__init__() got an unexpected keyword argument 'bogus'")
    assert cdk_cli.first_meaningful_line("!!!!!!\n\nUnable to resolve AWS account\n") == "Unable to resolve AWS account"


def test_module_is_cheap_to_import() -> None:
    code = "import sys, emulator.template.cdk_cli; assert not {'aws_cdk', 'boto3', 'jsii'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


# --- deploy ---------------------------------------------------------------------------------



@pytest.mark.usefixtures("no_aws")
def test_prerequisites_without_credentials() -> None:
    problems = cdk_cli.check_deploy_prerequisites()
    assert "no AWS credentials: set AWS_PROFILE or run aws configure" in problems
    assert not any("bootstrap" in line for line in problems)  # not checked without credentials


@pytest.mark.usefixtures("no_aws")
def test_unverifiable_bootstrap_says_run_cdk_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:9")  # nothing listens: refused
    problems = cdk_cli.check_deploy_prerequisites(region="eu-west-1")
    assert any(line.startswith("could not verify the CDK bootstrap in eu-west-1") and "cdk bootstrap" in line
               for line in problems), problems


def test_deploy_and_destroy_command_lines(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    command = cdk_cli.deploy_command(outputs_file=outputs)
    assert command[0] == str(ROOT / "deploy" / "node_modules" / ".bin" / "cdk")
    assert command[1:3] == ["deploy", STACK]
    joined = " ".join(command)
    assert "--require-approval never" in joined and f"--outputs-file {outputs}" in joined
    assert command[command.index("--app") + 1].endswith(" app.py")
    assert cdk_cli.deploy_cwd() == ROOT / "deploy"

    other = cdk_cli.deploy_command("Other", profile="dev")
    assert other[1:3] == ["deploy", "Other"] and "stackName=Other" in other
    assert other[other.index("--profile") + 1] == "dev"

    destroy = cdk_cli.destroy_command()
    assert destroy[1:3] == ["destroy", STACK] and "--force" in destroy
