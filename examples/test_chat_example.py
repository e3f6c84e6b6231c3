"""End-to-end tests of the chat app with wsgw's pytest fixtures; copy and adapt.

The fixtures come from the wsgw plugin, registered when wsgw is installed. The gateway
serves the app in pytest's rootdir (a CDK app's ``cdk.json``, a SAM ``template.yaml``,
...; in wsgw's own repository, the bundled chat app); ``wsgw_template`` or
``--wsgw-template`` pick another. One gateway serves the whole session; each test gets
fresh clients, closed for it at its end. ``wsgw init`` copies this file into new projects.
"""

from __future__ import annotations

import pytest

from emulator.testing import HandshakeRefused


def test_chat(wsgw_connect):
    alice = wsgw_connect()
    bob = wsgw_connect()
    alice.send_json({"action": "whoAmI"})
    alice_id = alice.recv_text()
    bob.send_json({"action": "sendMessage", "connectionId": alice_id, "message": "hi"})
    assert alice.recv_text(timeout=2) == "hi"


def test_connections_are_kept_in_dynamodb(wsgw_connect, wsgw_aws, wsgw_gateway, wsgw_invocations):
    (table,) = wsgw_gateway.model.tables
    dynamodb = wsgw_aws("dynamodb")
    client = wsgw_connect()
    key = {"connectionId": {"S": client.connection_id}}
    assert "Item" in dynamodb.get_item(TableName=table.table_name, Key=key)

    client.close()
    wsgw_invocations.wait_for(route_key="$disconnect", connection_id=client.connection_id)
    assert "Item" not in dynamodb.get_item(TableName=table.table_name, Key=key)


def test_sending_to_a_gone_connection_reports_an_error(wsgw_connect, wsgw_faults):
    alice, bob = wsgw_connect(), wsgw_connect()
    wsgw_faults.mark_gone(alice.connection_id)  # AWS answers 410 for stale ids
    bob.send_json({"action": "sendMessage", "connectionId": alice.connection_id, "message": "hi"})
    assert "error" in bob.recv_json()


def test_a_failing_connect_handler_refuses_the_handshake(wsgw_connect, wsgw_faults, wsgw_gateway):
    connect_function = wsgw_gateway.model.routes["$connect"].function
    wsgw_faults.fail_next(connect_function)
    with pytest.raises(HandshakeRefused) as refused:
        wsgw_connect()
    assert refused.value.status == 502


def test_the_server_can_push_through_the_management_api(wsgw_connect, wsgw_management):
    client = wsgw_connect(secure=True)  # wss:// with the local CA
    wsgw_management.post_to_connection(ConnectionId=client.connection_id, Data=b"pushed")
    assert client.recv_text() == "pushed"
    wsgw_management.delete_connection(ConnectionId=client.connection_id)
    assert client.expect_close().code == 1000


def test_idle_connections_close_after_ten_minutes(wsgw_connect, wsgw_clock, wsgw_invocations):
    client = wsgw_connect()
    assert wsgw_clock.advance(9 * 60) == 0
    wsgw_clock.advance(60)
    assert client.expect_close(1001).reason == "Going away"
    event = wsgw_invocations.wait_for(route_key="$disconnect").event
    assert event["requestContext"]["disconnectStatusCode"] == 1001


@pytest.mark.asyncio
async def test_chat_async(wsgw_connect_async):
    async with wsgw_connect_async() as alice, wsgw_connect_async() as bob:
        await alice.send_json({"action": "whoAmI"})
        alice_id = await alice.recv_text()
        await bob.send_json({"action": "sendMessage", "connectionId": alice_id, "message": "hi"})
        assert await alice.recv_text(timeout=2) == "hi"
