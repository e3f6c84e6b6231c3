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

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import pytest

if TYPE_CHECKING:
    from .clients import AsyncConnect, WsgwClient
    from .faults import InvocationView
    from .fixture_values import WsgwAws, WsgwClock, WsgwFaults
    from .gateway_pool import GatewayPool
    from .wsgw_gateway import WsgwGateway

# The clients' names stay importable from here, where they were first documented;
# emulator.testing is where users import every public name from. Loaded on first use
# (module __getattr__): pytest loads this plugin in every session of an environment
# with wsgw installed, and the gateway's modules cost ~0.5 s to import; they are
# imported when a test first requests a wsgw fixture.
__all__ = [
    "AsyncWsgwClient", "Closed", "HandshakeRefused", "WsgwAws", "WsgwClient", "WsgwClock", "WsgwFaults",
    "WsgwGateway",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from .. import testing
        return getattr(testing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


# -- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def _wsgw_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayPool]:
    from .early_moto import EarlyMoto

    early = EarlyMoto.launch()  # first: its child's start overlaps the imports below
    try:
        from .gateway_pool import GatewayPool
    except BaseException:
        early.stop()
        raise
    pool = GatewayPool(_tls_dir(tmp_path_factory), early=early)
    yield pool
    pool.close()


def _tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the plugin's gateways keep their local CA: ``pytest-tls`` in wsgw's cache
    folder, kept between sessions (a session whose CA files are the ones last checked
    never imports ``cryptography`` or makes keys: ~0.1 s of every ``pytest`` start,
    emulator/net/tls.py), shared by xdist workers and projects (the files are written
    under a lock); a session folder when the cache folder cannot be written."""
    from ..core.user_dirs import cache_dir

    folder = cache_dir() / "pytest-tls"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return tmp_path_factory.mktemp("wsgw-tls")
    if not os.access(folder, os.W_OK | os.X_OK):
        return tmp_path_factory.mktemp("wsgw-tls")
    return folder


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
    from .wsgw_gateway import WsgwGateway, config_for

    config, isolated = config_for(request, wsgw_env)
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
    from .fixture_values import WsgwAws

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
    from .fixture_values import WsgwFaults

    return WsgwFaults(wsgw_gateway._running)


@pytest.fixture
def wsgw_clock(wsgw_gateway: WsgwGateway) -> Iterator[WsgwClock]:
    """Hold the gateway's clock for this test and move it with ``advance(seconds)``,
    to test idle (10 min) and 2-hour closes without waiting."""
    from .fixture_values import WsgwClock

    clock = WsgwClock(wsgw_gateway._running)
    try:
        yield clock
    finally:
        wsgw_gateway._running.clock.release()
