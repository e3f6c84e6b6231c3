"""--state-dir: the embedded moto's DynamoDB data survives restarts and crashes.

Real moto child processes, real boto3 over HTTP on 127.0.0.1, real SIGKILLs.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from websockets.sync.client import connect

from emulator.app import GatewayThread, GatewayOptions, LocalGateway
from emulator.aws.embedded import EmbeddedAws
from emulator.core.errors import StartupError
from emulator.template.loader import load_model

from conftest import RunLocalProcess

ROOT = Path(__file__).resolve().parents[2]
CHAT_APP = ROOT / "tests" / "apps" / "chat" / "wsgw.json"
CHAT_TABLE = "wsgw-chat-connections"


def dynamodb(endpoint_url: str) -> Any:
    return boto3.client(
        "dynamodb", endpoint_url=endpoint_url, region_name="us-east-1", verify=False,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


class Moto:
    """One EmbeddedAws child on its own event loop, for synchronous tests."""

    def __init__(self, state_dir: Path | None) -> None:
        self.loop = asyncio.new_event_loop()
        self.aws = EmbeddedAws(state_dir=state_dir)
        try:
            self.loop.run_until_complete(self.aws.start())
        except BaseException:
            self.loop.close()
            raise
        self.client = dynamodb(self.aws.endpoint_url)

    @property
    def pid(self) -> int:
        assert self.aws.process is not None
        return self.aws.process.pid

    def stop(self) -> None:
        self.loop.run_until_complete(self.aws.stop())
        self.loop.close()

    def kill(self) -> None:
        """SIGKILL the child by its PID: no chance to flush or close anything."""
        os.kill(self.pid, signal.SIGKILL)
        self.stop()


@pytest.fixture
def started() -> Iterator[list[Moto]]:
    """Every Moto a test starts, stopped at the end whatever happened."""
    motos: list[Moto] = []
    yield motos
    for moto in motos:
        if moto.aws.process is not None:
            moto.stop()


def start(started: list[Moto], state_dir: Path | None) -> Moto:
    moto = Moto(state_dir)
    started.append(moto)
    return moto


def create_table(client: Any, name: str = "notes") -> None:
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
    )


def everything(client: Any, name: str = "notes") -> list[dict[str, Any]]:
    items = client.scan(TableName=name)["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item.get("sk", {}).get("N", "")))


def test_items_survive_a_clean_restart(tmp_path: Path, started: list[Moto]) -> None:
    first = start(started, tmp_path)
    create_table(first.client)
    for n in range(20):
        first.client.put_item(TableName="notes", Item={"pk": {"S": "user"}, "sk": {"N": str(n)},
                                                        "text": {"S": f"note {n}"}, "tags": {"SS": ["a", "b"]}})
    before = everything(first.client)
    first.stop()
    second = start(started, tmp_path)
    assert everything(second.client) == before and len(before) == 20


def test_without_a_state_dir_nothing_is_kept(tmp_path: Path, started: list[Moto]) -> None:
    first = start(started, None)
    create_table(first.client)
    first.stop()
    assert start(started, None).client.list_tables()["TableNames"] == []


def test_answered_writes_survive_sigkill_of_the_child(tmp_path: Path, started: list[Moto]) -> None:
    first = start(started, tmp_path)
    create_table(first.client)
    for n in range(50):
        first.client.put_item(TableName="notes", Item={"pk": {"S": "k"}, "sk": {"N": str(n)}})
    before = everything(first.client)
    first.kill()
    second = start(started, tmp_path)
    assert everything(second.client) == before and len(before) == 50


def test_updates_deletes_batches_and_transactions_replay(tmp_path: Path, started: list[Moto]) -> None:
    first = start(started, tmp_path)
    client = first.client
    create_table(client)
    client.update_time_to_live(TableName="notes", TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    client.batch_write_item(RequestItems={"notes": [
        {"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": str(n)}, "n": {"N": "0"}}}} for n in range(10)]})
    client.batch_write_item(RequestItems={"notes": [
        {"DeleteRequest": {"Key": {"pk": {"S": "b"}, "sk": {"N": str(n)}}}} for n in range(0, 10, 3)]})
    for _ in range(7):
        client.update_item(TableName="notes", Key={"pk": {"S": "b"}, "sk": {"N": "1"}},
                           UpdateExpression="ADD n :one SET seen = list_append(if_not_exists(seen, :empty), :me)",
                           ExpressionAttributeValues={":one": {"N": "1"}, ":empty": {"L": []}, ":me": {"L": [{"S": "x"}]}})
    client.delete_item(TableName="notes", Key={"pk": {"S": "b"}, "sk": {"N": "2"}})
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):  # refused: not journaled
        client.delete_item(TableName="notes", Key={"pk": {"S": "b"}, "sk": {"N": "4"}},
                           ConditionExpression="attribute_not_exists(pk)")
    client.transact_write_items(TransactItems=[
        {"Put": {"TableName": "notes", "Item": {"pk": {"S": "t"}, "sk": {"N": "1"}}}},
        {"Update": {"TableName": "notes", "Key": {"pk": {"S": "b"}, "sk": {"N": "4"}},
                    "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": "42"}}}},
        {"Delete": {"TableName": "notes", "Key": {"pk": {"S": "b"}, "sk": {"N": "5"}}}},
    ])
    create_table(client, "scratch")
    client.put_item(TableName="scratch", Item={"pk": {"S": "gone"}, "sk": {"N": "1"}})
    client.delete_table(TableName="scratch")
    before = everything(client)
    assert len(before) == 5 and {"pk": {"S": "b"}, "sk": {"N": "1"}, "n": {"N": "7"},
                                 "seen": {"L": [{"S": "x"}] * 7}} in before
    first.kill()
    for _ in range(2):  # twice: what a start restored, the next start restores too
        again = start(started, tmp_path)
        assert everything(again.client) == before
        assert again.client.list_tables()["TableNames"] == ["notes"]
        ttl = again.client.describe_time_to_live(TableName="notes")["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}
        again.stop()


def test_compaction_shrinks_a_journal_of_overwrites(tmp_path: Path, started: list[Moto]) -> None:
    first = start(started, tmp_path)
    create_table(first.client)
    for n in range(150):
        first.client.put_item(TableName="notes", Item={"pk": {"S": "counter"}, "sk": {"N": "0"}, "n": {"N": str(n)}})
    first.stop()
    journal = tmp_path / "dynamodb.journal"
    grown = journal.stat().st_size
    second = start(started, tmp_path)
    compacted = journal.stat().st_size
    assert compacted < grown / 10, (grown, compacted)
    assert [json.loads(line)["op"] for line in journal.read_text().splitlines()[1:]] == ["CreateTable", "BatchWriteItem"]
    assert everything(second.client) == [{"pk": {"S": "counter"}, "sk": {"N": "0"}, "n": {"N": "149"}}]


def test_a_torn_last_record_is_skipped_with_a_warning(tmp_path: Path, started: list[Moto],
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    first = start(started, tmp_path)
    create_table(first.client)
    first.client.put_item(TableName="notes", Item={"pk": {"S": "kept"}, "sk": {"N": "1"}})
    first.kill()
    journal = tmp_path / "dynamodb.journal"
    with journal.open("ab") as out:  # what a crash in the middle of write() leaves
        out.write(b'{"op":"PutItem","region":"us-east-1","body":{"TableName":"notes","It')
    second = start(started, tmp_path)
    assert everything(second.client) == [{"pk": {"S": "kept"}, "sk": {"N": "1"}}]
    assert "skipped an incomplete last record" in capfd.readouterr().err
    assert journal.read_bytes().endswith(b"\n")  # compaction removed it


def test_a_file_that_is_not_a_journal_is_a_clear_startup_error(tmp_path: Path) -> None:
    journal = tmp_path / "dynamodb.journal"
    journal.write_text("my shopping list\n")
    aws = EmbeddedAws(state_dir=tmp_path)
    with pytest.raises(StartupError, match=re.escape(str(journal)) + ".*not a wsgw state journal"):
        asyncio.run(aws.start())
    assert aws.process is None
    assert journal.read_text() == "my shopping list\n"  # left alone


def test_two_children_cannot_share_a_state_dir(tmp_path: Path, started: list[Moto]) -> None:
    start(started, tmp_path)
    with pytest.raises(StartupError, match="in use by another wsgw run-local"):
        start(started, tmp_path)


# -- run-local ---------------------------------------------------------------------------------


def test_local_gateway_keeps_table_data_across_restarts(tmp_path: Path, tls_dir: Path) -> None:
    options = GatewayOptions(port=0, tls_dir=tls_dir, state_dir=tmp_path / "state", reload=False)
    model = load_model(CHAT_APP)
    background = GatewayThread(LocalGateway(model, options, function_log=lambda function, line: None))
    background.start()
    try:
        assert background.local.aws_endpoint_url is not None
        client = dynamodb(background.local.aws_endpoint_url)
        client.put_item(TableName=CHAT_TABLE, Item={"connectionId": {"S": "written-by-boto3"}})
    finally:
        background.stop()
    background = GatewayThread(LocalGateway(model, options, function_log=lambda function, line: None))
    background.start()
    try:
        assert background.local.aws_endpoint_url is not None
        client = dynamodb(background.local.aws_endpoint_url)
        assert client.list_tables()["TableNames"] == [CHAT_TABLE]  # the template's, restored, not duplicated
        items = client.scan(TableName=CHAT_TABLE)["Items"]
        assert items == [{"connectionId": {"S": "written-by-boto3"}}]
        ttl = client.describe_time_to_live(TableName=CHAT_TABLE)["TimeToLiveDescription"]
        assert ttl["TimeToLiveStatus"] == "ENABLED"
    finally:
        background.stop()


class RunLocal(RunLocalProcess):
    """run-local on the chat app in its own process group, in ``tmp_path``."""

    def __init__(self, tmp_path: Path, tls_dir: Path, *args: str) -> None:
        env = {**os.environ, "WSGW_STATE_FILE": str(tmp_path / "run-local.json")}
        super().__init__("--template", str(CHAT_APP), "--port", "0", "--tls-dir", str(tls_dir), "--no-reload",
                         *args, env=env, cwd=tmp_path, new_session=True)

    def children(self) -> list[int]:
        """The PIDs of run-local's child processes (moto, workers), from /proc."""
        pids: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            pids += [int(pid) for pid in (task / "children").read_text().split()]
        return pids

    def kill(self) -> None:
        """SIGKILL run-local itself, then wait for its children to notice and exit
        (SIGKILL them by PID if they do not)."""
        children = self.children()
        self.process.kill()
        self._reap()
        deadline = time.monotonic() + 10
        for pid in children:
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        self._reap()

    def _reap(self) -> None:
        self.process.wait(30)
        self._reader.join(10)
        assert self.process.stdout is not None
        self.process.stdout.close()


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return status != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the children's PIDs")
def test_run_local_crash_keeps_handler_writes(tmp_path: Path, tls_dir: Path) -> None:
    state = tmp_path / "state" / "nested"  # created if missing
    first = RunLocal(tmp_path, tls_dir, "--state-dir", str(state))
    try:
        ws_url = first.wait_for(r"WebSocket URL: (ws://\S+)").group(1)
        aws_url = first.wait_for(r"AWS services: +(http://\S+)").group(1)
        with connect(ws_url, open_timeout=10) as ws:  # $connect writes the connection's row
            ws.send(json.dumps({"action": "whoAmI"}))
            connection_id = ws.recv(10)
            dynamodb(aws_url).put_item(TableName=CHAT_TABLE, Item={"connectionId": {"S": "from-boto3"}})
            first.kill()  # no $disconnect: the row stays, as after a crash
    finally:
        if first.process.poll() is None:
            first.kill()
    second = RunLocal(tmp_path, tls_dir, "--state-dir", str(state))
    try:
        aws_url = second.wait_for(r"AWS services: +(http://\S+)").group(1)
        ids = {item["connectionId"]["S"] for item in dynamodb(aws_url).scan(TableName=CHAT_TABLE)["Items"]}
        assert ids == {connection_id, "from-boto3"}
    finally:
        second.stop()
    assert second.process.returncode == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the children's PIDs")
def test_ctrl_c_runs_disconnect_against_a_live_moto(tmp_path: Path, tls_dir: Path) -> None:
    # A terminal's Ctrl-C reaches the whole process group, moto included: moto must
    # outlive the $disconnect handlers, whose row deletions are then kept.
    state = tmp_path / "state"
    first = RunLocal(tmp_path, tls_dir, "--state-dir", str(state))
    try:
        ws_url = first.wait_for(r"WebSocket URL: (ws://\S+)").group(1)
        first.wait_for("Ready")
        with connect(ws_url, open_timeout=10) as ws:
            ws.send(json.dumps({"action": "whoAmI"}))
            ws.recv(10)
            os.killpg(first.process.pid, signal.SIGINT)
            first._reap()
        assert first.process.returncode == 0, "\n".join(first.lines)
    finally:
        if first.process.poll() is None:
            first.kill()
    second = RunLocal(tmp_path, tls_dir, "--state-dir", str(state))
    try:
        aws_url = second.wait_for(r"AWS services: +(http://\S+)").group(1)
        assert dynamodb(aws_url).scan(TableName=CHAT_TABLE)["Items"] == []
    finally:
        second.stop()


def test_run_local_refuses_state_dir_with_aws_endpoint_url(tmp_path: Path) -> None:
    from click.testing import CliRunner

    import cli

    result = CliRunner().invoke(cli.main, ["run-local", "--state-dir", str(tmp_path / "s"),
                                           "--aws-endpoint-url", "http://127.0.0.1:8000"])
    assert result.exit_code == 2
    assert "--state-dir" in result.output and "--aws-endpoint-url" in result.output
    assert not (tmp_path / "s").exists()
