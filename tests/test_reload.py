"""Hot reload: real worker processes, real file edits in a temporary app, one real
WebSocket connection that must stay open through every reload."""

from __future__ import annotations

import json
import statistics
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from websockets.protocol import State
from websockets.sync.client import ClientConnection, connect

from emulator.app import GatewayThread, GatewayOptions, LocalGateway
from emulator.reload import ReloadSource, change_filter, module_files, syntax_problem
from emulator.template.loader import load_model

ECHO = '''\
import json, os, time

VERSION = "{version}"
{extra}

def handler(event, context):
    body = json.loads(event.get("body") or "{{}}")
    if body.get("gate"):  # hold the invocation until the test creates this file
        print("waiting for the gate: " + str(body.get("tag")) + " in " + str(os.getpid()), flush=True)
        for _ in range(6000):
            if os.path.exists(body["gate"]):
                break
            time.sleep(0.01)
    return {{"statusCode": 200, "body": json.dumps({{
        "version": VERSION, "tag": body.get("tag"), "pid": os.getpid(),
        "greeting": os.environ.get("GREETING"),
        "connectionId": event["requestContext"]["connectionId"],
    }})}}
'''
PING = '''\
def handler(event, context):
    return {"statusCode": 200, "body": "pong"}
'''


def app_description(*, greeting: str = "hello", ping: bool = False) -> dict[str, Any]:
    functions: dict[str, Any] = {
        "Echo": {"handler": "echo.handler", "codeUri": ".", "timeout": 60, "environment": {"GREETING": greeting}},
    }
    routes: dict[str, Any] = {"echo": {"function": "Echo", "twoWay": True}}
    if ping:
        functions["Ping"] = {"handler": "ping.handler", "codeUri": "."}
        routes["ping"] = {"function": "Ping", "twoWay": True}
    return {"name": "reload", "stage": "test", "functions": functions, "routes": routes}


class Reloading:
    """A gateway with reload on, serving the app in ``folder``; its reload log lines
    and its functions' output lines."""

    def __init__(self, folder: Path, tls_dir: Path) -> None:
        self.folder = folder
        self.lines: list[str] = []
        self.output: list[str] = []
        self._lock = threading.Lock()
        app = folder / "wsgw.json"
        options = GatewayOptions(
            port=0, tls_dir=tls_dir, aws_endpoint_url="http://127.0.0.1:9",  # no AWS calls here
            reload=True, reload_source=ReloadSource(app),
        )
        local = LocalGateway(load_model(app), options, function_log=lambda f, line: self.output.append(line),
                             reload_log=self._log)
        self.background = GatewayThread(local)
        self.local = self.background.start()

    def _log(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)

    def mark(self) -> int:
        """Where the reload log is now: :meth:`logged` ``after=`` this sees only later lines."""
        with self._lock:
            return len(self.lines)

    def logged(self, text: str, timeout: float = 30.0, *, after: int = 0) -> str:
        """The first reload log line (from line ``after`` on) containing ``text``, waiting for it."""
        line: str = until(lambda: next((line for line in list(self.lines)[after:] if text in line), None), timeout)
        return line

    def write_echo(self, version: str, extra: str = "") -> None:
        (self.folder / "echo.py").write_text(ECHO.format(version=version, extra=extra), encoding="utf-8")

    def write_app(self, **kwargs: Any) -> None:
        (self.folder / "wsgw.json").write_text(json.dumps(app_description(**kwargs)), encoding="utf-8")

    def pids(self) -> dict[str, list[int]]:
        invoker = self.local.invoker
        assert invoker is not None
        return self.background.call(invoker.worker_pids)


def until(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout} s")


def ask(ws: ClientConnection, action: str, **fields: Any) -> Any:
    ws.send(json.dumps({"action": action, **fields}))
    text = ws.recv(timeout=30)
    assert isinstance(text, str)
    try:
        return json.loads(text)
    except ValueError:
        return text


def version_after_edit(ws: ClientConnection, version: str, timeout: float = 30.0) -> float:
    """Seconds from now (just after a save) until ``echo`` answers with ``version`` (a
    figure to print: how fast is measured in bench/, not asserted here)."""
    saved = time.perf_counter()
    until(lambda: ask(ws, "echo")["version"] == version, timeout, interval=0.005)
    return time.perf_counter() - saved


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls")


@pytest.fixture
def served(tmp_path: Path, tls: Path) -> Iterator[Reloading]:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "wsgw.json").write_text(json.dumps(app_description()), encoding="utf-8")
    (folder / "echo.py").write_text(ECHO.format(version="v1", extra=""), encoding="utf-8")
    running = Reloading(folder, tls)
    yield running
    running.background.stop()


def test_code_edits_apply_on_the_open_connection(served: Reloading) -> None:
    with connect(served.local.ws_url) as ws:
        first = ask(ws, "echo")
        assert first["version"] == "v1"
        seconds = []
        for n in range(2, 6):
            mark = served.mark()
            served.write_echo(f"v{n}")
            seconds.append(version_after_edit(ws, f"v{n}"))
            served.logged("wsgw: reloaded Echo (code)", after=mark)  # this reload is over
        median = statistics.median(seconds)
        print(f"\nsave -> new code answering: {', '.join(f'{s * 1000:.0f}' for s in seconds)} ms; "
              f"median {median * 1000:.0f} ms")

        mark = served.mark()
        served.write_echo("v6", extra="def broken(:\n    pass")
        problem = served.logged("reload failed", after=mark)
        assert "echo.py:4: invalid syntax" in problem and "still serving" in problem
        for _ in range(5):
            assert ask(ws, "echo")["version"] == "v5"
            time.sleep(0.05)

        mark = served.mark()
        served.write_echo("v7", extra="raise RuntimeError('boom at import')")
        failed_init = served.logged("RuntimeError: boom at import", after=mark)
        assert "Echo" in failed_init and "still serving" in failed_init
        assert ask(ws, "echo")["version"] == "v5"

        served.write_echo("v8")
        version_after_edit(ws, "v8")
        last = ask(ws, "echo")
        assert last["connectionId"] == first["connectionId"]
        assert ws.protocol.state is State.OPEN
    until(lambda: len(served.pids()["Echo"]) == 1)  # every older worker stops


def test_definition_edit_adds_routes_and_environment_on_the_open_connection(served: Reloading) -> None:
    with connect(served.local.ws_url) as ws:
        before = ask(ws, "echo")
        assert before["greeting"] == "hello"
        assert ask(ws, "ping")["message"] == "Forbidden"

        # Each edit is followed by waiting for its reload's log line (written once the
        # new routes serve), not by polling a route across the swap: a reply whose route
        # a reload removes while its invocation runs is dropped (lifecycle.message_finished).
        (served.folder / "ping.py").write_text(PING, encoding="utf-8")
        mark = served.mark()
        served.write_app(greeting="bonjour", ping=True)
        served.logged("reloaded the app definition", after=mark)
        assert ask(ws, "ping") == "pong"
        assert ask(ws, "echo")["greeting"] == "bonjour"

        mark = served.mark()
        (served.folder / "wsgw.json").write_text("{not json", encoding="utf-8")
        assert "still serving" in served.logged("reload failed: ", after=mark)
        assert ask(ws, "ping") == "pong"

        mark = served.mark()
        served.write_app(greeting="hallo")
        served.logged("reloaded the app definition", after=mark)
        assert ask(ws, "ping")["message"] == "Forbidden"
        after = ask(ws, "echo")
        assert after["greeting"] == "hallo" and after["connectionId"] == before["connectionId"]
        assert ws.protocol.state is State.OPEN
    until(lambda: "Ping" not in served.pids())


def test_in_flight_invocation_finishes_on_the_old_code(served: Reloading, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    with connect(served.local.ws_url) as ws:
        ws.send(json.dumps({"action": "echo", "gate": str(gate), "tag": "slow"}))
        # Running (in the worker whose PID it printed), held at the gate.
        held = until(lambda: next((line for line in list(served.output) if line.startswith("waiting for the gate: slow in ")), None))
        slow_pid = int(held.rsplit(" ", 1)[1])
        assert slow_pid in served.pids()["Echo"]
        mark = served.mark()
        served.write_echo("v2")
        replies: dict[str, list[dict[str, Any]]] = {"slow": [], "poll": []}

        def polled_v2() -> bool:
            ws.send(json.dumps({"action": "echo", "tag": "poll"}))
            while True:  # replies to the slow and the poll invocations may cross
                reply = json.loads(ws.recv(timeout=30))
                replies[reply["tag"]].append(reply)
                if reply["tag"] == "poll":
                    return bool(reply["version"] == "v2")

        until(polled_v2, interval=0.005)
        # (A worker started for a poll before the reload may already load v2 from disk:
        # the reload is over only once it says so.)
        served.logged("wsgw: reloaded Echo (code)", after=mark)
        assert not replies["slow"], "the slow invocation is held at its gate"
        gate.touch()
        slow = json.loads(ws.recv(timeout=30))
        assert slow["tag"] == "slow" and slow["version"] == "v1" and slow["pid"] == slow_pid
        assert ask(ws, "echo", tag="after")["version"] == "v2"
        until(lambda: slow_pid not in served.pids()["Echo"])  # retired once it finished
        assert ws.protocol.state is State.OPEN


def test_syntax_problem_names_file_and_line(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text("x = 1\n")
    bad.write_text("x = 1\nif x\n    pass\n")
    assert syntax_problem([good]) is None
    problem = syntax_problem([good, bad])
    assert problem is not None and problem.startswith(f"{bad}:2: ")


def test_filter_ignores_caches_below_a_root_only(tmp_path: Path) -> None:
    root = tmp_path / "cdk.out"
    keep = change_filter([root])
    assert keep(None, str(root / "manifest.json"))
    assert not keep(None, str(root / "asset.1" / "__pycache__" / "a.cpython-311.pyc"))
    assert not keep(None, str(root / "node_modules" / "x.js"))
    assert not keep(None, str(root / ".git" / "HEAD"))
    assert not keep(None, str(root / "handler.py.swp"))


@pytest.mark.parametrize("name", [
    ".wsgw/run-local.json", ".wsgw/state/dynamodb.journal", "cdk.out/manifest.json",  # wsgw's own and synth output
    "handler.py___jb_tmp___", "handler.py___jb_old___", ".DS_Store", "flycheck_handler.py",  # editors' safe writes
    ".hg/store/data", ".svn/entries", ".#handler.py", "handler.py~", "handler.py.swp",
])
def test_filter_ignores_wsgw_state_and_editor_and_vcs_files(tmp_path: Path, name: str) -> None:
    assert not change_filter([tmp_path])(None, str(tmp_path / name))


@pytest.mark.parametrize("name", ["handler.py", "template.yaml", "src/app.py", "cdk.json", "requirements.txt"])
def test_filter_keeps_real_edits(tmp_path: Path, name: str) -> None:
    assert change_filter([tmp_path])(None, str(tmp_path / name))


def test_reload_source_knows_what_defines_the_app(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    source = ReloadSource(template)
    assert source.watched() == [tmp_path.resolve()]
    assert source.defines(template.resolve()) and not source.defines(tmp_path.resolve() / "handler.py")
    bundled = ReloadSource(None)
    deploy = bundled.deploy_dir
    assert bundled.watched() == [deploy]
    assert bundled.defines(deploy / "stack.py") and bundled.defines(deploy / "cdk.json")
    assert not bundled.defines(deploy / "cdk.out" / "manifest.json")
    assert not bundled.defines(deploy.parent / "handlers" / "whoami.py")


def test_a_reload_keeps_the_stack_name_and_parameters() -> None:
    template = Path(__file__).resolve().parent / "templates" / "sam_chat" / "template.yaml"
    model = ReloadSource(template, parameters={"StageName": "dev"}, stack_name="other-stack").load()
    assert "other-stack-send" in model.functions and model.stage == "dev"


def test_module_files_follow_static_imports_inside_the_code_folder(tmp_path: Path) -> None:
    handlers = Path(__file__).resolve().parent.parent / "handlers"
    loaded = module_files(handlers, "send_message")
    assert loaded is not None
    assert {path.name for path in loaded} == {"send_message.py", "callbacks.py", "connection_table.py"}
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "app.py").write_text("from . import util\nfrom .sub.deep import x\n")
    (tmp_path / "pkg" / "util.py").write_text("import json\n")
    (tmp_path / "pkg" / "sub").mkdir()
    (tmp_path / "pkg" / "sub" / "deep.py").write_text("def f():\n    import other\n")
    (tmp_path / "other.py").write_text("")
    (tmp_path / "unused.py").write_text("")
    loaded = module_files(tmp_path, "pkg.app")
    assert loaded is not None
    names = {path.relative_to(tmp_path).as_posix() for path in loaded}
    assert names == {"pkg/__init__.py", "pkg/app.py", "pkg/util.py", "pkg/sub/deep.py", "other.py"}
    (tmp_path / "other.py").write_text("def broken(:\n")
    assert module_files(tmp_path, "pkg.app") is None
