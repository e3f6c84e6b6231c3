"""pytest fixtures: test a WebSocket app end to end against a local wsgw gateway.

Installed with wsgw (entry point ``pytest11: wsgw``); nothing starts until a test asks
for one of these fixtures::

    def test_chat(wsgw_connect):
        alice, bob = wsgw_connect(), wsgw_connect()
        alice.send_json({"action": "whoAmI"})
        bob.send_json({"action": "sendMessage", "connectionId": alice.recv_text(), "message": "hi"})
        assert alice.recv_text(timeout=2) == "hi"

Fixtures: ``wsgw_gateway`` (the running gateway: URLs, CA, model), ``wsgw_connect`` /
``wsgw_connect_async`` (real WebSocket clients), ``wsgw_management`` (boto3's
``apigatewaymanagementapi`` client), ``wsgw_aws`` (boto3 clients of the embedded moto),
``wsgw_invocations`` (what ran), ``wsgw_faults`` (make the next invocation fail, time
out, or skip a ``$disconnect``), ``wsgw_clock`` (move time), ``wsgw_env`` (override it
to change the functions' environment).

Which app: ``--wsgw-template=PATH`` (relative to the current directory; write it with
``=``, as pytest guesses its rootdir from bare path arguments before plugins load), else
the ini option ``wsgw_template`` (relative to the rootdir), else the app found in the rootdir
(a CDK app's ``cdk.json``, synthesized; ``template.yaml``; ``cdk.out``; ``wsgw.json``), else the bundled chat app.
``--wsgw-stage``/``wsgw_stage`` rename the stage; ini ``wsgw_env`` lines
``FUNCTION.KEY=VALUE`` (one function) or ``KEY=VALUE`` (every function) set variables.

Scope: one gateway per session, started by the first test that needs it and shared by
every test with the same configuration; each test gets fresh handles, and at its end
its clients are closed and the gateway is quiet (``$disconnect`` done) before the next
test starts. ``@pytest.mark.wsgw(isolated=True)`` gives a test a gateway of its own,
stopped at its end; ``template=``, ``stage=`` and ``env=`` in the marker pick another
configuration (shared by the tests that use the same one, unless isolated). The
gateways and their sharing live in :mod:`emulator.testing.gateway_pool`.

The clock: every gateway the plugin starts runs on a
:class:`~emulator.testing.steerable_clock.SteerableClock`, which follows real time (so
a shared gateway behaves like ``wsgw run-local``) until a test requests
``wsgw_clock``. For that test time stands still and moves only by ``advance()``, which
also runs the idle/2-hour sweep at once; afterwards the clock follows real time again
from where the test left it (never backwards). We chose this over "``wsgw_clock``
implies an isolated gateway" because it costs nothing (no second gateway start, about
1.5 s) and is safe: tests on one gateway run one at a time (under xdist each worker
process has its own), and a test ends with its connections closed, so only the
clock-driving test's own connections ever see the jump.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Mapping, Sequence
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from ..core.errors import WsgwError
from ..core.model import ApiModel
from ..runtime.provisioning import DepsMode
from ..template.discovery import find_app
from ..net.tls import client_ssl_context
from .clients import (
    NO_PROXY, AsyncConnect, AsyncWsgwClient, ClientConnectionHandle, ClientLoop, Closed, HandshakeRefused,
    WsgwClient, sign_upgrade,
)
from .faults import InvocationView
from .fixture_values import WsgwAws, WsgwClock, WsgwFaults
from .gateway_pool import GatewayConfig, GatewayPool, RunningGateway, iam_setup

# The clients' names stay importable from here, where they were first documented;
# emulator.testing is where users import every public name from.
__all__ = [
    "AsyncWsgwClient", "Closed", "HandshakeRefused", "WsgwAws", "WsgwClient", "WsgwClock", "WsgwFaults",
    "WsgwGateway",
]


# -- configuration -------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wsgw", "wsgw: a local AWS API Gateway WebSocket API")
    group.addoption("--wsgw-template", metavar="PATH",
                    help="app to serve: a CDK app's folder, cdk.out, SAM/CloudFormation template or wsgw.json "
                         "(default: the app in the rootdir, else the bundled app)")
    group.addoption("--wsgw-stage", metavar="NAME", help="stage name to serve instead of the app's")
    group.addoption("--wsgw-deps", choices=("declared", "inherit"), default=None,
                    help="what handlers import, as run-local's --deps: declared (default; what Lambda would give "
                         "them) or inherit (also everything installed beside wsgw)")
    group.addoption("--wsgw-python", metavar="VERSION=PATH", action="append", default=[],
                    help="the interpreter for functions of Runtime pythonVERSION (repeatable), as run-local's --python")
    group.addoption("--wsgw-no-throttle", action="store_true", default=False,
                    help="ignore the stage's route throttling, as run-local's --no-throttle")
    parser.addini("wsgw_template", "app to serve, relative to the rootdir (default: the app in the rootdir, "
                  "else the bundled app)", default="")
    parser.addini("wsgw_stage", "stage name to serve instead of the app's", default="")
    parser.addini("wsgw_no_throttle", "ignore the stage's route throttling (as run-local's --no-throttle)",
                  type="bool", default=False)
    parser.addini("wsgw_deps", "what handlers import: declared (default) or inherit", default="")
    parser.addini("wsgw_python", "VERSION=PATH lines: the interpreter for functions of Runtime pythonVERSION",
                  type="linelist", default=[])
    parser.addini("wsgw_env", "function environment: FUNCTION.KEY=VALUE or KEY=VALUE lines",
                  type="linelist", default=[])
    parser.addini("wsgw_iam_credentials", "ACCESS_KEY:SECRET lines accepted for AWS_IAM on $connect "
                  "(default testing:testing)", type="linelist", default=[])
    parser.addini("wsgw_iam_identities", "JSON file, relative to the rootdir: identity fields per access key "
                  "for AWS_IAM events (like run-local's --iam-identities)", default="")


def pytest_configure(config: pytest.Config) -> None:
    parse_env(config.getini("wsgw_env"))  # a malformed line is a usage error at once
    config.addinivalue_line(
        "markers", "wsgw(isolated=False, template=None, stage=None, env=None): the gateway this test gets "
        "(isolated: its own, stopped at the test's end; others: a different app, stage or environment)")


def parse_env(lines: Sequence[str]) -> dict[str, str]:
    """``FUNCTION.KEY=VALUE`` / ``KEY=VALUE`` lines (blank and ``#`` lines skipped) as a dict."""
    env: dict[str, str] = {}
    for line in (raw.strip() for raw in lines):
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise pytest.UsageError(f"wsgw_env: expected FUNCTION.KEY=VALUE or KEY=VALUE, got {line!r}")
            env[key.strip()] = value.strip()
    return env


def _config_for(request: pytest.FixtureRequest, env: Mapping[str, str]) -> tuple[GatewayConfig, bool]:
    config = request.config
    template: Path | None = None
    if config.getoption("wsgw_template"):
        template = config.invocation_params.dir / config.getoption("wsgw_template")
    elif config.getini("wsgw_template"):
        template = config.rootpath / config.getini("wsgw_template")
    else:
        try:
            template = find_app(config.rootpath).path  # the app in the project, else the bundled one
        except WsgwError as exc:
            raise pytest.UsageError(f"wsgw: {exc}") from None
    stage = config.getoption("wsgw_stage") or config.getini("wsgw_stage") or None
    marker = request.node.get_closest_marker("wsgw")
    options = dict(marker.kwargs) if marker is not None else {}
    unknown = set(options) - {"isolated", "template", "stage", "env"}
    if unknown or (marker is not None and marker.args):
        pytest.fail(f"@pytest.mark.wsgw takes only isolated=, template=, stage=, env=; got {marker}", pytrace=False)
    if options.get("template"):
        template = config.rootpath / str(options["template"])
    stage = options.get("stage") or stage
    merged = {**env, **{str(k): str(v) for k, v in (options.get("env") or {}).items()}}
    try:
        credentials, identities = iam_setup(config.getini("wsgw_iam_credentials"),
                                            config.rootpath / config.getini("wsgw_iam_identities")
                                            if config.getini("wsgw_iam_identities") else None)
    except WsgwError as exc:
        raise pytest.UsageError(f"wsgw: {exc}") from None
    chosen = config.getoption("wsgw_deps") or config.getini("wsgw_deps") or "declared"
    if chosen not in ("declared", "inherit"):
        raise pytest.UsageError(f"wsgw_deps: expected declared or inherit, got {chosen!r}")
    deps: DepsMode = "inherit" if chosen == "inherit" else "declared"
    pythons = _pythons([*config.getini("wsgw_python"), *config.getoption("wsgw_python")])
    return (GatewayConfig(template, stage, tuple(sorted(merged.items())), credentials, identities,
                          deps=deps, pythons=pythons,
                          throttle=not (config.getoption("wsgw_no_throttle") or config.getini("wsgw_no_throttle"))),
            bool(options.get("isolated")))


def _pythons(lines: Sequence[str]) -> tuple[tuple[str, Path], ...]:
    """``VERSION=PATH`` lines (``--wsgw-python``, ini ``wsgw_python``) as pairs; later ones win."""
    pythons: dict[str, Path] = {}
    for line in (raw.strip() for raw in lines):
        version, sep, path = line.partition("=")
        version = version.strip().removeprefix("python")
        if not sep or not path.strip() or not re.fullmatch(r"3\.\d+", version):
            raise pytest.UsageError(f"wsgw_python: expected VERSION=PATH (3.12=/usr/bin/python3.12), got {line!r}")
        pythons[version] = Path(path.strip()).expanduser()
    return tuple(sorted(pythons.items()))


# -- what tests get ----------------------------------------------------------------


class WsgwGateway:
    """The gateway a test talks to (the value of ``wsgw_gateway``).

    Use it for addresses (``url``, ``wss_url``, ``management_url`` for boto3's
    ``apigatewaymanagementapi``, ``http_management_url``, ``ca_path``), the served
    ``model`` and ``stage``; :meth:`connect`/:meth:`connect_async` are the
    ``wsgw_connect``/``wsgw_connect_async`` fixtures.
    """

    def __init__(self, running: RunningGateway, clients: ClientLoop) -> None:
        self._running, self._clients = running, clients
        self._connections: list[ClientConnectionHandle] = []
        self.invocations: InvocationView = running.log.view()
        local = running.local
        assert local.tls is not None
        self.url, self.wss_url = local.ws_url, local.wss_url
        self.management_url, self.http_management_url = local.management_url, local.http_management_url
        self.ca_path: Path = local.tls.ca_cert
        self.model: ApiModel = local.model
        self.stage = local.model.stage
        self.aws_endpoint_url = local.aws_endpoint_url

    def connect(self, *, headers: Mapping[str, str] | None = None,
                query: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
                subprotocols: Sequence[str] | None = None, secure: bool = False,
                timeout: float = 10.0, sign: bool | Literal["query"] = False,
                credentials: tuple[str, str] | None = None) -> WsgwClient:
        """Open a client (``secure``: wss:// trusting the local CA); the handshake
        waits for ``$connect``. A refusal raises :class:`HandshakeRefused`.

        ``sign`` SigV4-signs the upgrade request for an ``AWS_IAM`` ``$connect`` with
        botocore, as a real client does: ``True`` in the headers, ``"query"`` as a
        presigned URL (a browser's only way); with ``credentials`` (access key,
        secret), by default the gateway's first accepted one (``testing:testing``
        unless ``wsgw_iam_credentials`` says otherwise)."""
        url, sent = self._request(headers, query, secure, sign, credentials)
        return WsgwClient(self._clients.run(self._open(url, sent, subprotocols, secure, timeout)), self._clients)

    def connect_async(self, *, headers: Mapping[str, str] | None = None,
                      query: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
                      subprotocols: Sequence[str] | None = None, secure: bool = False,
                      timeout: float = 10.0, sign: bool | Literal["query"] = False,
                      credentials: tuple[str, str] | None = None) -> AsyncConnect:
        """:meth:`connect` for async tests: ``client = await ...`` or ``async with ... as client``."""
        url, sent = self._request(headers, query, secure, sign, credentials)

        async def opening() -> AsyncWsgwClient:
            connection = await self._clients.run_async(self._open(url, sent, subprotocols, secure, timeout))
            return AsyncWsgwClient(connection, self._clients)
        return AsyncConnect(opening)

    def _request(self, headers: Mapping[str, str] | None,
                 query: Mapping[str, str] | Sequence[tuple[str, str]] | None, secure: bool,
                 sign: bool | Literal["query"], credentials: tuple[str, str] | None) -> tuple[str, dict[str, str]]:
        """The upgrade request's URL and extra headers, signed if asked."""
        url = self.wss_url if secure else self.url
        if query:
            url += "?" + urlencode(query)
        if not sign:
            return url, dict(headers or {})
        access_key, secret = credentials or next(iter(self._running.local.options.iam_credentials.items()))
        return sign_upgrade(url, headers or {}, access_key=access_key, secret_key=secret,
                            region=self.model.region, presigned=sign == "query")

    async def _open(self, url: str, headers: dict[str, str], subprotocols: Sequence[str] | None,
                    secure: bool, timeout: float) -> ClientConnectionHandle:
        assert self._running.local.tls is not None
        try:
            ws = await connect(
                url, additional_headers=headers, open_timeout=timeout,
                subprotocols=[Subprotocol(p) for p in subprotocols] if subprotocols else None,
                ssl=client_ssl_context(self._running.local.tls) if secure else None,
                compression=None, ping_interval=None, close_timeout=2, max_size=None, **NO_PROXY,
            )
        except InvalidStatus as exc:
            response = exc.response
            raise HandshakeRefused(response.status_code, response.body.decode("utf-8", "replace") if response.body
                                   else "", dict(response.headers.raw_items())) from None
        connection = ClientConnectionHandle(ws, self._running)
        self._connections.append(connection)
        return connection

    def open_connection_ids(self) -> set[str]:
        """Ids of the connections open on the gateway right now."""
        listener = self._running.local.listener
        return self._running.background.call(lambda: listener.connections.ids() if listener is not None else set())

    def worker_pids(self) -> dict[str, list[int]]:
        """PIDs of each function's live worker processes."""
        invoker = self._running.local.invoker
        return self._running.background.call(lambda: invoker.worker_pids() if invoker is not None else {})

    def _finish(self) -> None:
        """End of the test: close its clients, let the gateway go quiet, disarm."""
        async def close_all() -> None:
            for connection in self._connections:
                try:
                    await asyncio.wait_for(connection.ws.close(), 3)
                except Exception:
                    connection.ws.transport.abort()
        try:
            self._clients.run(close_all(), 10)
            self._running.settle({c.peer for c in self._connections})
        finally:
            self._running.faults.clear()
            self._running.clock.release()
            self._running.log.forget()


# -- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def _wsgw_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayPool]:
    pool = GatewayPool(tmp_path_factory.mktemp("wsgw-tls"))
    yield pool
    pool.close()


@pytest.fixture
def wsgw_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Environment overrides for the app's functions: ``{"FUNCTION.KEY": value}`` for
    one function, ``{"KEY": value}`` for all. Defaults to the ini's ``wsgw_env``
    lines; override this fixture (it may request itself) to change them in code."""
    return parse_env(request.config.getini("wsgw_env"))


@pytest.fixture
def wsgw_gateway(
    request: pytest.FixtureRequest, _wsgw_pool: GatewayPool, wsgw_env: dict[str, str],
) -> Iterator[WsgwGateway]:
    """The running gateway (session-wide unless ``@pytest.mark.wsgw(isolated=True)``):
    its URLs, CA and model. Request it when a test needs addresses; the other
    fixtures request it for you."""
    config, isolated = _config_for(request, wsgw_env)
    running = _wsgw_pool.start(config) if isolated else _wsgw_pool.shared(config)
    gateway = WsgwGateway(running, _wsgw_pool.clients)
    try:
        yield gateway
    finally:
        try:
            gateway._finish()
        finally:
            if isolated:
                running.stop()


@pytest.fixture
def wsgw_connect(wsgw_gateway: WsgwGateway) -> Callable[..., WsgwClient]:
    """Open real WebSocket clients from a sync test: ``wsgw_connect(headers=, query=,
    subprotocols=, secure=, sign=, credentials=)`` (see :meth:`WsgwGateway.connect`)."""
    return wsgw_gateway.connect


@pytest.fixture
def wsgw_connect_async(wsgw_gateway: WsgwGateway) -> Callable[..., AsyncConnect]:
    """Open clients from an ``async def`` test (pytest-asyncio, any mode or loop scope):
    ``client = await wsgw_connect_async()`` or ``async with wsgw_connect_async() as c``."""
    return wsgw_gateway.connect_async


@pytest.fixture
def wsgw_management(wsgw_gateway: WsgwGateway) -> Any:
    """boto3's own ``apigatewaymanagementapi`` client bound to the gateway's https
    callback URL (trusting the local CA): post_to_connection, get_connection, ..."""
    return wsgw_gateway._running.boto("client", "apigatewaymanagementapi")


@pytest.fixture
def wsgw_aws(wsgw_gateway: WsgwGateway) -> WsgwAws:
    """boto3 clients of the embedded AWS services (moto), to set up or check state the
    handlers keep, e.g. ``wsgw_aws("dynamodb").scan(TableName=...)``."""
    return WsgwAws(wsgw_gateway._running)


@pytest.fixture
def wsgw_invocations(wsgw_gateway: WsgwGateway) -> InvocationView:
    """Every invocation since the test started (function, route_key, connection_id,
    request_id, event, outcome, status, result, duration_ms, integration_type, target,
    integration_status), with ``filter`` and ``wait_for``; ``logs()`` has what the
    functions printed, ``records()`` everything that happened (frames, connects, closes,
    ``@connections`` calls: the records run-local's json log and the inspector show),
    ``access_log()`` the stage's access log lines."""
    return wsgw_gateway.invocations


@pytest.fixture
def wsgw_faults(wsgw_gateway: WsgwGateway) -> WsgwFaults:
    """Inject faults: ``fail_next``, ``time_out_next``, ``drop_next_disconnect``, ``mark_gone``."""
    return WsgwFaults(wsgw_gateway._running)


@pytest.fixture
def wsgw_clock(wsgw_gateway: WsgwGateway) -> Iterator[WsgwClock]:
    """Hold the gateway's clock for this test and move it with ``advance(seconds)``,
    to test idle (10 min) and 2-hour closes without waiting."""
    clock = WsgwClock(wsgw_gateway._running)
    try:
        yield clock
    finally:
        wsgw_gateway._running.clock.release()
