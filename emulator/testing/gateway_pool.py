"""The gateways the pytest plugin runs, and the session's pool of them.

A :class:`GatewayConfig` (app, stage, environment) says what a gateway serves. The
:class:`GatewayPool` lives for the pytest session: :meth:`GatewayPool.shared` starts one
gateway per configuration the first time a test asks and hands the same one to every
later test with that configuration (up to three configurations stay running; the least
recently used goes first), while :meth:`GatewayPool.start` starts a gateway the caller
owns and stops (an isolated test's). A configuration that failed to start fails every
later test that asks for it at once, with the same one-line message, instead of paying
for the failed start again. The pool also owns the one :class:`ClientLoop` every test
client runs on.

A :class:`RunningGateway` is a :class:`~emulator.app.LocalGateway` on its own thread,
wired to the hooks the fixtures hand to tests: a
:class:`~emulator.testing.steerable_clock.SteerableClock`, a
:class:`~emulator.testing.faults.FaultPlan` and an
:class:`~emulator.testing.faults.InvocationLog`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import pytest

from ..app import GatewayOptions, GatewayThread, LocalGateway
from ..core.credentials import DEFAULT_IAM_CREDENTIALS, DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY
from ..core.errors import ConfigError, WsgwError
from ..core.iam_identity import identities_from_json
from ..core.model import ApiModel
from ..runtime.provisioning import DepsMode, RuntimeOptions
from ..template.env_overrides import EnvOverrides
from ..template.loader import load_model
from .clients import ClientLoop
from .early_moto import EarlyMoto
from .faults import FaultPlan, InvocationLog
from .steerable_clock import SteerableClock

__all__ = ["GatewayConfig", "GatewayPool", "RunningGateway", "iam_setup"]

_SETTLE_S = 5.0
_MAX_SHARED = 3  # gateways of other configurations kept running (least recently used goes)
_functions_log = logging.getLogger("wsgw.functions")


@dataclass(frozen=True)
class GatewayConfig:
    """What a gateway serves; equal configurations share one session gateway.
    ``iam_credentials`` (access key, secret) replace the default ``testing:testing``
    for ``AWS_IAM``; ``iam_identities`` are (access key, identity fields) pairs."""

    template: Path | None
    stage: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    iam_credentials: tuple[tuple[str, str], ...] = ()
    iam_identities: tuple[tuple[str, tuple[tuple[str, Optional[str]], ...]], ...] = ()
    deps: DepsMode = "declared"  # --wsgw-deps: what handlers import (as run-local's --deps)
    pythons: tuple[tuple[str, Path], ...] = ()  # --wsgw-python VERSION=PATH
    throttle: bool = True  # False: --wsgw-no-throttle (as run-local's --no-throttle)

    def options(self, tls_dir: Path) -> GatewayOptions:
        """How the gateway runs: a free port, the session's CA, this access setup, the
        functions' runtime (their Python, dependencies and layers, as run-local has them)."""
        options = GatewayOptions(port=0, tls_dir=tls_dir,
                                 iam_identities={key: dict(fields) for key, fields in self.iam_identities},
                                 runtime=RuntimeOptions(deps=self.deps, pythons=dict(self.pythons)),
                                 throttle=self.throttle)
        if self.iam_credentials:
            options = dataclasses.replace(options, iam_credentials=dict(self.iam_credentials))
        return options

    def model(self) -> ApiModel:
        """The app's model with the stage and environment overrides applied."""
        model = EnvOverrides.from_pairs(self.env, "wsgw_env").apply(load_model(self.template), "wsgw_env")
        return dataclasses.replace(model, stage=self.stage) if self.stage else model


def iam_setup(
    credential_lines: Sequence[str], identities_file: Path | None,
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, tuple[tuple[str, Optional[str]], ...]], ...]]:
    """The ``AWS_IAM`` part of a :class:`GatewayConfig` from the ini options
    ``wsgw_iam_credentials`` (``ACCESS_KEY:SECRET`` lines) and ``wsgw_iam_identities``
    (a JSON file as run-local's ``--iam-identities`` takes); ConfigError when malformed."""
    credentials: list[tuple[str, str]] = []
    for line in (raw.strip() for raw in credential_lines):
        if line and not line.startswith("#"):
            access_key, sep, secret = line.partition(":")
            if not sep or not access_key or not secret:
                raise ConfigError("wsgw_iam_credentials", f"expected ACCESS_KEY:SECRET, got {line!r}")
            credentials.append((access_key, secret))
    if identities_file is None:
        return tuple(credentials), ()
    where = f"wsgw_iam_identities {identities_file}"
    try:
        text = identities_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(where, exc.strerror or str(exc)) from None
    identities = identities_from_json(text, where, dict(credentials) or DEFAULT_IAM_CREDENTIALS)
    return tuple(credentials), tuple(sorted((key, tuple(sorted(fields.items()))) for key, fields in identities.items()))


class RunningGateway:
    """One started gateway in a background thread, with its test hooks."""

    def __init__(self, model: ApiModel, tls_dir: Path, options: GatewayOptions | None = None,
                 early: EarlyMoto | None = None) -> None:
        """``early``: an embedded moto launched before (the session's first gateway's)."""
        self.clock = SteerableClock()
        self.faults = FaultPlan({name: spec.timeout_s for name, spec in model.functions.items()})
        self.log = InvocationLog()
        self.background = GatewayThread(LocalGateway(
            model, options or GatewayOptions(port=0, tls_dir=tls_dir), clock=self.clock,
            function_log=self._function_line, faults=self.faults, aws=early.aws if early else None,
        ), early.loop_thread if early else None)
        self.local = self.background.local
        # wsgw_invocations hears the gateway's records, as run-local's console does.
        self.local.activity.subscribe(self.log.receive)
        self._boto: dict[tuple[str, str], Any] = {}

    def _function_line(self, function: str, line: str) -> None:
        _functions_log.info("[%s] %s", function, line)  # shown in pytest's captured logs

    def boto(self, kind: str, service: str) -> Any:
        """A cached boto3 client (``kind`` "client") or resource bound to this gateway."""
        key = (kind, service)
        if key not in self._boto:
            import boto3  # ~0.2 s: only once a test asks for a client (wsgw_aws, wsgw_management)

            assert self.local.tls is not None
            session = boto3.session.Session(aws_access_key_id=DUMMY_ACCESS_KEY, aws_secret_access_key=DUMMY_SECRET_KEY,
                                            region_name=self.local.model.region)
            if service == "apigatewaymanagementapi":  # over https, trusting only the local CA
                kwargs: dict[str, Any] = dict(endpoint_url=self.local.management_url,
                                              verify=str(self.local.tls.ca_cert))
            else:
                kwargs = dict(endpoint_url=self.local.aws_endpoint_url)
            self._boto[key] = getattr(session, kind)(service, **kwargs)
        return self._boto[key]

    def connection_id_of(self, peer: tuple[str, int]) -> str | None:
        """The id of the open connection whose client socket is ``peer``."""
        def find() -> str | None:
            listener = self.local.listener
            return listener.connections.find(peer) if listener is not None else None
        return self.background.call(find)

    def settle(self, peers: set[tuple[str, int]]) -> None:
        """Wait (bounded) until no connection of ``peers`` is open and no invocation
        runs, so that one test's ``$disconnect`` does not land in the next test."""
        async def quiet() -> None:
            deadline = time.monotonic() + _SETTLE_S
            while time.monotonic() < deadline:
                listener = self.local.listener
                if listener is None:
                    return
                if not listener.background_tasks and not (listener.connections.peers() & peers):
                    return
                await asyncio.sleep(0.01)
        self.background.run(quiet(), _SETTLE_S + 5)

    def stop(self) -> None:
        self.background.stop()


class GatewayPool:
    """The session's gateways (shared ones by configuration) and its client loop.
    Create one per session; :meth:`close` it at the session's end."""

    def __init__(self, tls_dir: Path, early: EarlyMoto | None = None) -> None:
        """``early``: an embedded moto launched for the first gateway to start (the
        plugin launches it before it imports this module: emulator/testing/early_moto.py)."""
        self.tls_dir = tls_dir
        self._early = early
        self.clients = ClientLoop()
        self._shared: OrderedDict[GatewayConfig, RunningGateway] = OrderedDict()
        self._failed: dict[GatewayConfig, str] = {}

    def start(self, config: GatewayConfig) -> RunningGateway:
        """Start a gateway for ``config``, or fail the test in one line (and every later
        test with the same configuration, at once)."""
        if config in self._failed:
            pytest.fail(self._failed[config], pytrace=False)
        running: RunningGateway | None = None
        try:
            model, options = config.model(), config.options(self.tls_dir)
            early, self._early = self._early, None  # the first gateway takes it over
            try:
                running = RunningGateway(model, self.tls_dir, options, early)
            except BaseException:
                if early is not None:
                    early.stop()
                raise
            logging.getLogger("wsgw").setLevel(logging.getLogger("wsgw").level or logging.INFO)
            running.background.start()
            return running
        except Exception as exc:
            if running is not None:
                running.stop()
            where = config.template or "the bundled app"
            self._failed[config] = (f"wsgw: {exc}" if isinstance(exc, WsgwError)  # says what to fix
                                    else f"wsgw: cannot start a gateway for {where}: {type(exc).__name__}: {exc}")
        pytest.fail(self._failed[config], pytrace=False)

    def shared(self, config: GatewayConfig) -> RunningGateway:
        """The session's gateway for ``config``, started on first use; do not stop it."""
        running = self._shared.get(config)
        if running is None:
            running = self._shared[config] = self.start(config)
            while len(self._shared) > _MAX_SHARED:
                self._shared.popitem(last=False)[1].stop()
        self._shared.move_to_end(config)
        return running

    def close(self) -> None:
        while self._shared:
            self._shared.popitem()[1].stop()
        if self._early is not None:  # no gateway ever started
            self._early.stop()
            self._early = None
        self.clients.close()
