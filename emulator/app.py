"""The composition root: builds and wires one local gateway, starts and stops it.

:class:`LocalGateway` is what ``wsgw run-local``, the tests and the pytest plugin use
(``await gw.start()`` ... ``await gw.stop()``); :class:`GatewayThread` runs one in
a thread with its own event loop, for synchronous callers such as boto3-based tests.
Nothing else in the emulator constructs the pieces below.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Coroutine, Iterable, Mapping, Sequence, TypeVar

from .aws.embedded import EmbeddedAws, create_tables
from .aws.messaging_setup import create_queues_and_topics
from .backends import BackendIntegrations
from .core.activity import Activity
from .core.arns import execute_api_host
from .core.clock import Clock, SystemClock
from .core.credentials import DEFAULT_IAM_CREDENTIALS
from .core.ids import IdFactory, RandomIds
from .core.invocation import FaultSource, Integrations, InvocationObserver
from .core.iam_identity import Identity
from .core.lifecycle import ConnectionLifecycle
from .core.loopback import LOOPBACK_NAMES, is_loopback_url
from .core.management import ManagementApi
from .core.model import ApiModel, QueueSpec, TableSpec, TopicSpec
from .core.recording import RecordingLifecycle, RecordingManagement
from .core.stage_targets import bind_stage_targets
from .inspector.records import Ring
from .inspector.recorder import Recorder
from .inspector.server import PREFIX as INSPECTOR_PREFIX
from .inspector.server import Inspector, InspectorOptions
from .net.event_loop import LoopThread
from .net.listener import Listener, bind_listener
from .net.session_host import Refusal, RefusalObserver
from .net.tls import TlsMaterial, ensure_tls_material, server_ssl_context
from .reload import Reloader, ReloadLog, ReloadSource, load_watcher
from .runtime import wire_json
from .runtime.environment import LocalServices, services_environment
from .runtime.integrations import HookedIntegrations, InvokerIntegrations
from .runtime.invoker import Invoker, LogSink
from .runtime.provisioning import Provisioner, RuntimeOptions
from .template.env_overrides import EnvOverrides

T = TypeVar("T")


def default_max_workers() -> int:
    """Worker processes per function by default: twice the cores, at least 4.

    More processes than cores only add start-up CPU and context switches when a
    burst arrives (measured in BENCHMARKS.md: 16 on 2 cores did 10-20 % fewer messages/s than 2);
    handlers that mostly wait on the network may want more: ``--max-workers``."""
    return max(4, 2 * (os.cpu_count() or 1))


def default_tls_dir() -> Path:
    """Where the local CA lives: one per user, so a CA trusted once stays trusted."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "wsgw" / "tls"


@dataclass(frozen=True)
class GatewayOptions:
    """How to run: where to listen, which AWS endpoint handlers use, pool sizes."""

    host: str = "127.0.0.1"
    port: int = 3001
    aws_endpoint_url: str | None = None
    tls_dir: Path = field(default_factory=default_tls_dir)
    max_workers_per_function: int = field(default_factory=lambda: default_max_workers())
    # How long a shutdown waits for every $disconnect and in-flight invocation.
    shutdown_timeout_s: float = 60.0
    idle_timeout_s: float | None = None  # None: AWS's 10 minutes
    max_connection_duration_s: float | None = None  # None: AWS's 2 hours
    sweep_interval_s: float = 1.0  # how often timeouts are checked; 0: only by sweep()
    frame_bytes: int | None = None  # None: AWS's 32 KB
    message_bytes: int | None = None  # None: AWS's 128 KB
    api_keys: frozenset[str] = frozenset()  # accepted x-api-key values (ApiKeyRequired)
    env_overrides: EnvOverrides = field(default_factory=EnvOverrides)  # --env-vars, wsgw_env
    # Access key -> secret accepted for AWS_IAM on $connect (default: the dummy ones).
    iam_credentials: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_IAM_CREDENTIALS))
    # Access key -> identity fields its AWS_IAM events carry (--iam-identities;
    # emulator/core/iam_identity.py); keys not here get a local IAM user of their own.
    iam_identities: Mapping[str, Identity] = field(default_factory=dict)
    # Hot reload (emulator/reload.py): watch the functions' code folders and, with a
    # reload_source, the app's definition (ReloadSource(None): the bundled CDK app).
    reload: bool = False
    reload_source: ReloadSource | None = None
    # Keep the embedded moto's DynamoDB data in this folder across restarts (--state-dir).
    state_dir: Path | None = None
    # What handlers run on and import: their Runtime's Python, declared dependencies,
    # layers (--deps, --python; emulator/runtime/provisioning.py).
    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)
    # The live inspector (emulator/inspector): its ring size and token; None: off.
    inspector: InspectorOptions | None = None
    # --stage-variable KEY=VALUE: set or override the stage's StageVariables.
    stage_variables: Mapping[str, str] = field(default_factory=dict)
    # False (--no-throttle): ignore the stage's route throttling (core/throttle.py).
    throttle: bool = True


def print_function_line(function: str, line: str) -> None:
    """Default function log sink: CloudWatch-like lines prefixed with the function."""
    sys.stdout.write(f"[{function}] {line}\n")
    sys.stdout.flush()


def print_reload_line(line: str) -> None:
    """Default reload log: the reloader's one-line reports, as they are."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class LocalGateway:
    """One running local API: listener, core, workers and embedded AWS services."""

    def __init__(
        self,
        model: ApiModel,
        options: GatewayOptions = GatewayOptions(),
        *,
        clock: Clock | None = None,
        ids: IdFactory | None = None,
        function_log: LogSink | None = print_function_line,
        faults: FaultSource | None = None,
        observer: InvocationObserver | None = None,
        reload_log: ReloadLog = print_reload_line,
        on_refusal: RefusalObserver | None = None,
        aws: EmbeddedAws | None = None,
    ) -> None:
        """``aws``: the embedded moto, already launched by the caller for ``options``
        (its ``state_dir``) so that its start overlaps the caller's own (run-local);
        :meth:`start` tells it the tables and :meth:`stop` stops it. By default
        :meth:`start` launches one itself (unless ``options.aws_endpoint_url``)."""
        assert aws is None or (options.aws_endpoint_url is None and aws.state_dir == options.state_dir)
        self.model = _with_limits(model, options)
        self.options = options
        self.clock = clock or SystemClock()
        self.ids = ids or RandomIds()
        self.function_log = function_log
        self.faults = faults  # test hooks around every integration (the pytest plugin)
        self.observer = observer
        self.reload_log = reload_log
        self.on_refusal = on_refusal  # hears each handshake refused (run-local prints why)
        self.reloader: Reloader | None = None
        self.aws: EmbeddedAws | None = aws
        self.tls: TlsMaterial | None = None
        self.invoker: Invoker | None = None
        self.provisioner: Provisioner | None = None
        self.lifecycle: ConnectionLifecycle | None = None
        self.listener: Listener | None = None
        # What happened, as records (core/activity.py): subscribe consumers before
        # start() (run-local's console, the pytest plugin); the inspector's recorder
        # subscribes itself while a page is open. ``function_log``, ``observer`` and
        # ``on_refusal`` above are the raw hooks, called as before, record or not.
        self.activity = Activity(time.time)
        self.recorder: Recorder | None = None  # the inspector's records (options.inspector)
        self.inspector: Inspector | None = None
        self.port = options.port

    # -- addresses --------------------------------------------------------------

    @property
    def domain_name(self) -> str:
        """``host:port`` as handlers see it in ``requestContext.domainName``."""
        host = self.options.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"  # reachable and covered by the certificate
        elif host == "::":
            host = "::1"
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.domain_name}/{self.model.stage}"

    @property
    def wss_url(self) -> str:
        return f"wss://{self.domain_name}/{self.model.stage}"

    @property
    def management_url(self) -> str:
        """The callback URL (``endpoint_url`` for boto3's apigatewaymanagementapi)."""
        return f"https://{self.domain_name}/{self.model.stage}"

    @property
    def http_management_url(self) -> str:
        return f"http://{self.domain_name}/{self.model.stage}"

    @property
    def inspector_url(self) -> str | None:
        """The inspector's page (with its token, if it needs one), or None when it is off."""
        if self.options.inspector is None:
            return None
        token = self.options.inspector.token
        return f"http://{self.domain_name}{INSPECTOR_PREFIX}/" + (f"?token={token}" if token else "")

    @property
    def aws_endpoint_url(self) -> str | None:
        if self.options.aws_endpoint_url:
            return self.options.aws_endpoint_url
        return self.aws.endpoint_url if self.aws else None

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        """Start everything; returns once the port accepts connections."""
        listener = bind_listener(self.options.host, self.options.port)
        watcher_loaded: asyncio.Future[None] | None = None
        try:
            self.port = int(listener.getsockname()[1])
            hosts = list(LOOPBACK_NAMES)
            if self.options.host not in hosts + ["", "0.0.0.0", "::"]:
                hosts.append(self.options.host)
            self.tls = ensure_tls_material(self.options.tls_dir, hosts)
            if self.options.aws_endpoint_url is None:
                if self.aws is None:  # else launched by the caller, earlier
                    self.aws = EmbeddedAws(state_dir=self.options.state_dir)
                    await self.aws.launch()
                self.aws.progress = self._restoring
                # Its URL is known at once: the workers start while moto imports.
                self.aws.provide_tables(self.model.tables, self.model.region)
            # Start-up lines about the functions' runtime (missing Pythons, installs)
            # go where reload reports go: run-local's console.
            self.provisioner = Provisioner(self.options.runtime, self.reload_log)
            activity = self.activity
            if self.options.inspector is not None:
                self.recorder = Recorder(Ring(self.options.inspector.ring_size), activity,
                                         always=self.options.inspector.record_always)
            recorder = self.recorder
            # Whether anyone may ever want a record: an inspector, a subscriber, an
            # access log. If not, the stream is left out of the path altogether.
            recordable = recorder is not None or activity.subscribed or self.model.access_log is not None
            self.invoker = Invoker(
                self.model.functions, base_env=self._worker_env(),
                log=_both(activity.log_line, self.function_log) if recordable else (self.function_log or _no_line),
                region=self.model.region, account_id=self.model.account_id,
                max_workers_per_function=self.options.max_workers_per_function,
                provision=self.provisioner.plan,
            )
            warm = asyncio.ensure_future(self._warm(self.provisioner, self.invoker))
            # The reloader's watchfiles (and anyio: ~80 ms of imports) loads in a thread
            # while this loop only waits for moto and the workers.
            if self.options.reload:
                watcher_loaded = asyncio.ensure_future(asyncio.to_thread(load_watcher))
            if self.aws is not None:
                try:
                    await self.aws.wait_ready()
                except BaseException:
                    await asyncio.gather(warm, return_exceptions=True)  # then stop() stops them
                    raise
            # The embedded moto created the tables itself; a user-given endpoint on
            # loopback gets them over HTTP. Queues and topics go over HTTP to either.
            await self._create_resources(self.model.region, () if self.aws is not None else self.model.tables,
                                         self.model.queues, self.model.topics)
            await warm
            lifecycle_args: dict[str, Any] = dict(
                domain_name=self.domain_name, clock=self.clock, ids=self.ids,
                api_keys=self.options.api_keys, iam_credentials=self.options.iam_credentials,
                iam_identities=self.options.iam_identities, json_decode=wire_json.loads_text,
            )
            # When records may be wanted, the core's lifecycle and @connections rules
            # publish what they decide (emulator/core/recording.py); the path stays the same.
            self.lifecycle = (RecordingLifecycle(activity, self.model, **lifecycle_args) if recordable
                              else ConnectionLifecycle(self.model, **lifecycle_args))
            management_args: dict[str, Any] = dict(
                stage=self.model.stage, registry=self.lifecycle.registry,
                clock=self.clock, limits=self.model.limits,
            )
            management = (RecordingManagement(activity, **management_args) if recordable
                          else ManagementApi(**management_args))
            observer, on_refusal = self.observer, self.on_refusal
            if recordable:
                observer = _both(activity.invocation, observer)
                on_refusal = _both(_refusal_to(activity), on_refusal)
            if recorder is not None:
                self.inspector = Inspector(recorder.ring, self.options.inspector or InspectorOptions(),
                                           watchers=recorder.watched_by)
            # Routes that are not Lambda proxies (MOCK, HTTP, AWS services, Lambda custom
            # integrations, which run in the invoker's workers): emulator/backends.
            backends = BackendIntegrations(
                stage_variables=lambda: self.model.stage_variables,
                aws_endpoint_url=lambda: self.aws_endpoint_url,
                region=self.model.region, api_id=self.model.api_id, invoker=self.invoker,
            )
            integrations: Integrations = InvokerIntegrations(self.invoker, backends)
            if self.faults is not None or observer is not None:
                integrations = HookedIntegrations(integrations, faults=self.faults, observer=observer)
            self.listener = Listener(
                self.lifecycle, management, integrations, ssl_context=server_ssl_context(self.tls),
                on_refusal=on_refusal, mount=self.inspector,
            )
            self.listener.start(listener, sweep_interval_s=self.options.sweep_interval_s)
            if watcher_loaded is not None:
                await watcher_loaded
                self.reloader = Reloader(self, self.options.reload_source, self.reload_log)
                await self.reloader.start()
        except BaseException:
            listener.close()
            if watcher_loaded is not None:
                await asyncio.gather(watcher_loaded, return_exceptions=True)
            await self.stop()
            raise

    def _restoring(self, what: str) -> None:
        self.reload_log(f"wsgw: restoring --state-dir {self.options.state_dir}: {what}...")

    async def _warm(self, provisioner: Provisioner, invoker: Invoker) -> None:
        """Install what the functions need (cached: milliseconds when nothing changed),
        then start one worker per function."""
        await provisioner.prepare(self.model.functions.values())
        await invoker.start()

    def sweep(self) -> int:
        """Close connections past their idle timeout or maximum duration now (tests
        move a :class:`~emulator.core.clock.ManualClock`, then call this)."""
        return self.listener.sweep() if self.listener is not None else 0

    async def stop(self, progress: Callable[[int], None] | None = None) -> int:
        """Close every connection with 1001 and run its ``$disconnect``, then stop
        the workers and the embedded AWS services. Safe to call more than once.
        ``progress(n)`` hears how many invocations are still awaited, every few
        seconds; :meth:`abandon` (a second Ctrl-C) stops the wait. Returns how many
        invocations were cut short (0: every ``$disconnect`` ran)."""
        cut_short = 0
        if self.reloader is not None:
            await self.reloader.stop()
            self.reloader = None
        if self.inspector is not None:
            self.inspector.close()  # its pages' streams end; the records stay readable
        if self.listener is not None:
            cut_short = await self.listener.shutdown(self.options.shutdown_timeout_s, progress=progress)
            self.listener = None
        if self.invoker is not None:
            await self.invoker.close()
            self.invoker = None
        if self.aws is not None:
            await self.aws.stop()
            self.aws = None
        return cut_short

    def abandon(self) -> None:
        """Make a running :meth:`stop` cancel what it still waits for."""
        if self.listener is not None:
            self.listener.abandon()

    # -- hot reload -------------------------------------------------------------

    async def apply_model(self, model: ApiModel) -> dict[str, list[str]]:
        """Serve a re-loaded ``model`` without dropping connections (the reloader calls
        this after a stack or template edit): creates its new tables, boots workers
        for new and changed functions (spec or environment), then swaps the routes
        and makes those workers serve in one step; removed functions are retired.
        The stage and limits stay as started. Raises (InitFailed, ConfigError, a
        table error) with routes and workers unchanged (new tables may exist by
        then). Returns the invoker's summary (added/changed/restarted/removed)."""
        assert self.invoker is not None and self.lifecycle is not None, "start() first"
        lifecycle = self.lifecycle
        model = dataclasses.replace(
            self.options.env_overrides.apply(model), stage=self.model.stage, limits=self.model.limits,
            stage_variables={**model.stage_variables, **self.options.stage_variables},
        )
        model = bind_stage_targets(model)  # Lambda URIs naming the function by stage variable
        if not self.options.throttle:
            model = model.without_throttling()
        await self._create_resources(
            model.region, [table for table in model.tables if table not in self.model.tables],
            [queue for queue in model.queues if queue not in self.model.queues],
            [topic for topic in model.topics if topic not in self.model.topics],
        )  # fmt: skip

        def swap() -> None:
            lifecycle.swap_model(model)
            self.model = model

        return await self.invoker.reload(model.functions, base_env=self._worker_env(model), swap=swap)

    async def restart_functions(self, names: Iterable[str]) -> dict[str, list[str]]:
        """Give ``names`` new workers running their code as it is on disk now (the
        reloader calls this after a code edit); in-flight invocations finish on the
        old code. Raises :class:`~emulator.runtime.invoker.InitFailed` with nothing changed."""
        assert self.invoker is not None, "start() first"
        return await self.invoker.reload(self.model.functions, restart=names)

    async def _create_resources(self, region: str, tables: Sequence[TableSpec], queues: Sequence[QueueSpec],
                                topics: Sequence[TopicSpec]) -> None:
        """Create these tables, queues and topics where :meth:`_tables_endpoint` says
        (nowhere if it says None); at start, and with the new ones after a reload."""
        endpoint = self._tables_endpoint()
        if endpoint is None:
            return
        if tables:
            await asyncio.to_thread(create_tables, tables, endpoint_url=endpoint, region=region)
        if queues or topics:
            await asyncio.to_thread(create_queues_and_topics, queues, topics, endpoint_url=endpoint, region=region)

    def _tables_endpoint(self) -> str | None:
        """Where to create the app's tables: the embedded moto, or a user-given
        endpoint on loopback (DynamoDB Local, LocalStack). Never a remote endpoint:
        run-local does not create resources in a real AWS account."""
        if self.aws is not None:
            return self.aws.endpoint_url
        url = self.options.aws_endpoint_url
        if url is not None and is_loopback_url(url):
            return url
        return None

    def _worker_env(self, model: ApiModel | None = None) -> dict[str, str]:
        """What every function's workers get in common (emulator/runtime/environment.py)."""
        model = model or self.model
        assert self.tls is not None and self.aws_endpoint_url is not None, "start() first"
        return services_environment(LocalServices(
            aws_endpoint_url=self.aws_endpoint_url,
            embedded=self.options.aws_endpoint_url is None,
            gateway=self.domain_name,
            stage=model.stage,
            api_hostname=execute_api_host(model.api_id, model.region),
            ca_bundle=self.tls.ca_bundle,
        ))


def _both(first: Callable[..., None], second: Callable[..., None] | None) -> Callable[..., None]:
    """A hook that calls ``first``, then ``second`` (if any), with the same arguments:
    the inspector's recorder and the caller's own hook both hear each report."""
    if second is None:
        return first

    def both(*args: Any) -> None:
        first(*args)
        second(*args)
    return both


def _no_line(function: str, line: str) -> None:
    """The function log sink when nobody listens."""


def _refusal_to(activity: Activity) -> RefusalObserver:
    """The listener's refusal observer, publishing into ``activity``."""
    def refusal(refused: Refusal) -> None:
        activity.refusal(refused.path, refused.source_ip, refused.status, refused.reason)
    return refusal


def _with_limits(model: ApiModel, options: GatewayOptions) -> ApiModel:
    """``model`` with the options' environment overrides and limits applied."""
    model = options.env_overrides.apply(model)
    if not options.throttle:
        model = model.without_throttling()
    if options.stage_variables:
        model = dataclasses.replace(model, stage_variables={**model.stage_variables, **options.stage_variables})
    model = bind_stage_targets(model)  # Lambda URIs naming the function by stage variable
    changes: dict[str, int] = {}
    if options.frame_bytes is not None:
        changes["frame_bytes"] = options.frame_bytes
    if options.message_bytes is not None:
        changes["message_bytes"] = options.message_bytes
    if options.idle_timeout_s is not None:
        changes["idle_timeout_ms"] = int(options.idle_timeout_s * 1000)
    if options.max_connection_duration_s is not None:
        changes["max_connection_ms"] = int(options.max_connection_duration_s * 1000)
    return dataclasses.replace(model, limits=dataclasses.replace(model.limits, **changes)) if changes else model


class GatewayThread:
    """A :class:`LocalGateway` on its own event loop in a daemon thread.

    For synchronous callers (boto3 in tests, the pytest plugin): ``start()`` blocks
    until the gateway accepts connections, ``stop()`` until it has shut down. Pass
    ``loop_thread`` when something the gateway is given was started on that loop
    before (the pytest plugin's early moto: ``LocalGateway(aws=...)``).
    """

    def __init__(self, local: LocalGateway, loop_thread: LoopThread | None = None) -> None:
        self.local = local
        self._loop_thread = loop_thread or LoopThread("wsgw-gateway")
        self.loop = self._loop_thread.loop

    def start(self, timeout_s: float = 60.0) -> LocalGateway:
        self._loop_thread.start()
        self.run(self.local.start(), timeout_s)
        return self.local

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        """Run ``coroutine`` on the gateway's loop and wait for its result."""
        return self._loop_thread.run(coroutine, timeout_s)

    def call(self, function: Callable[[], T], timeout_s: float = 30.0) -> T:
        """Run a plain function on the gateway's loop (to read state safely)."""
        async def wrapper() -> T:
            return function()
        return self.run(wrapper(), timeout_s)

    def stop(self, timeout_s: float = 60.0) -> None:
        if not self._loop_thread.running:
            return
        try:
            self.run(self.local.stop(), timeout_s)
        finally:
            self._loop_thread.close(timeout_s)
