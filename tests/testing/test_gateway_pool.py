"""The gateways the pytest plugin runs (emulator/testing/gateway_pool.py): how a
configuration becomes a model, how the pool shares gateways and remembers failures."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from emulator.core.model import ApiModel
from emulator.testing.early_moto import EarlyMoto
from emulator.testing.gateway_pool import GatewayConfig, GatewayPool

PROBE_APP = Path(__file__).resolve().parents[1] / "apps" / "probe" / "wsgw.json"


def test_a_configuration_applies_its_stage_and_environment() -> None:
    pairs = (("EventDump.PROBE_SETTING", "only-dump"), ("PROBE_SETTING", "everywhere"))
    model = GatewayConfig(PROBE_APP, "qa", pairs).model()
    assert model.stage == "qa"
    assert model.functions["EventDump"].environment["PROBE_SETTING"] == "only-dump"
    assert model.functions["Echo"].environment["PROBE_SETTING"] == "everywhere"
    assert GatewayConfig(PROBE_APP).model().stage != "qa"
    assert GatewayConfig(PROBE_APP, "qa", pairs) == GatewayConfig(PROBE_APP, "qa", pairs)  # one shared gateway
    with pytest.raises(Exception, match="no function 'Nope'"):
        GatewayConfig(PROBE_APP, None, (("Nope.X", "1"),)).model()


def test_a_configuration_that_failed_fails_every_later_test_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts: list[GatewayConfig] = []

    def broken(config: GatewayConfig) -> ApiModel:
        attempts.append(config)
        raise RuntimeError("boom")

    pool = GatewayPool(tmp_path)
    try:
        missing = GatewayConfig(tmp_path / "no" / "app.json")
        with pytest.raises(pytest.fail.Exception, match=r"^wsgw: .*/no/app.json: not found"):
            pool.shared(missing)  # a WsgwError says what to fix: its message alone
        monkeypatch.setattr(GatewayConfig, "model", broken)
        for _ in range(2):
            with pytest.raises(pytest.fail.Exception,
                               match="^wsgw: cannot start a gateway for the bundled app: RuntimeError: boom$"):
                pool.start(GatewayConfig(None))
        with pytest.raises(pytest.fail.Exception, match="not found"):
            pool.shared(missing)
        assert attempts == [GatewayConfig(None)]  # tried once per configuration
    finally:
        pool.close()


def test_equal_configurations_share_one_gateway_until_the_pool_closes(tmp_path: Path) -> None:
    pool = GatewayPool(tmp_path)
    try:
        running = pool.shared(GatewayConfig(PROBE_APP))
        assert pool.shared(GatewayConfig(PROBE_APP)) is running
        port = running.local.port
        assert port != 0 and running.local.listener is not None
    finally:
        pool.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def _reaped(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def test_the_first_gateway_takes_over_the_early_moto_and_a_failed_one_leaves_it(tmp_path: Path) -> None:
    # The plugin launches the embedded moto before it imports the gateway's modules
    # (emulator/testing/early_moto.py); the first gateway to start serves with it.
    early = EarlyMoto.launch()
    assert early.aws.process is not None
    moto_pid = early.aws.process.pid
    pool = GatewayPool(tmp_path, early=early)
    try:
        with pytest.raises(pytest.fail.Exception, match="not found"):
            pool.shared(GatewayConfig(tmp_path / "no" / "app.json"))  # failed before taking it
        running = pool.shared(GatewayConfig(PROBE_APP))
        assert running.local.aws is early.aws and running.background.loop is early.loop_thread.loop
        assert running.local.aws_endpoint_url == early.aws.endpoint_url
        tables = running.boto("client", "dynamodb").list_tables()["TableNames"]
        assert isinstance(tables, list)  # moto answers on the early child's port
        other = pool.start(GatewayConfig(PROBE_APP, "other"))  # later gateways launch their own
        try:
            assert other.local.aws is not None and other.local.aws is not early.aws
        finally:
            other.stop()
    finally:
        pool.close()
    assert _reaped(moto_pid) and not early.loop_thread.running


def test_an_early_moto_no_gateway_took_stops_with_the_pool(tmp_path: Path) -> None:
    early = EarlyMoto.launch()
    assert early.aws.process is not None
    moto_pid = early.aws.process.pid
    GatewayPool(tmp_path, early=early).close()
    assert _reaped(moto_pid) and not early.loop_thread.running
