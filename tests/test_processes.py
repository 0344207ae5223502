"""Two daphne processes on one Redis: a visitor on one and an agent on the other chat as if they
were on the same server. This is how a deployment grows past one process."""

import json
import uuid

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from websockets.sync.client import connect

from tests.conftest import redis_layer_settings
from tests.live_server import LiveHelpdesk, server_env

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_servers(tmp_path):
    """Two daphne processes sharing the test database and one Redis channel layer."""
    from django.db import connection

    redis_layer_settings()  # skips here, fails in CI, without Redis
    env = server_env(connection.settings_dict, channel_prefix=f"two-{uuid.uuid4().hex[:8]}")
    servers = [LiveHelpdesk(env, tmp_path / f"daphne-{i}.log") for i in range(2)]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


class Peer:
    """A websocket client that reads frames until the one it waits for."""

    def __init__(self, server, path, cookie=None):
        headers = {"Cookie": cookie} if cookie else None
        self.connection = connect(f"ws://127.0.0.1:{server.port}{path}", origin=server.url,
                                  additional_headers=headers, open_timeout=10)

    def __enter__(self):
        self.socket = self.connection.__enter__()
        return self

    def __exit__(self, *exc):
        return self.connection.__exit__(*exc)

    def send(self, frame):
        self.socket.send(json.dumps(frame))

    def expect(self, type_, **fields):
        while True:
            frame = json.loads(self.socket.recv(timeout=10))
            if frame["type"] == type_ and all(_get(frame, k) == v for k, v in fields.items()):
                return frame


def _get(frame, dotted):
    for part in dotted.split("."):
        frame = frame.get(part) if isinstance(frame, dict) else None
    return frame


def test_visitor_and_agent_on_different_processes_talk(two_servers, django_user_model):
    visitor_server, agent_server = two_servers
    user = django_user_model.objects.create_user("alex", password="pw", first_name="Alex", last_name="Agent")
    user.groups.add(Group.objects.get(name="Agents"))
    client = Client()
    client.force_login(user)  # sessions live in the database, so either process knows this one

    cookie = f"sessionid={client.cookies['sessionid'].value}"
    with Peer(agent_server, "/ws/agent/", cookie=cookie) as agent, Peer(visitor_server, "/ws/visitor/") as visitor:
        agent.expect("welcome")
        visitor.send({"type": "hello"})
        visitor.expect("welcome")
        visitor.send({"type": "chat.start", "name": "Sam", "email": "sam@example.com", "text": "Hello from A",
                      "client_id": "v1"})
        chat = visitor.expect("chat")["chat"]["id"]

        assert agent.expect("chat", **{"chat.id": chat})["chat"]["status"] == "queued"
        agent.send({"type": "chat.accept", "chat": chat})
        agent.expect("chat", **{"chat.id": chat, "chat.status": "active"})
        assert visitor.expect("chat", **{"chat.status": "active"})["chat"]["agent_name"] == "Alex Agent"

        agent.send({"type": "message.send", "chat": chat, "client_id": "a1", "text": "Hello from B"})
        assert "Hello from B" in visitor.expect("message", **{"message.client_id": "a1"})["message"]["html"]
        visitor.send({"type": "message.send", "chat": chat, "client_id": "v2", "text": "Thanks, B"})
        assert agent.expect("message", **{"message.client_id": "v2"})["message"]["seq"] == 4
        visitor.send({"type": "typing", "chat": chat, "text": "typing on A"})
        assert agent.expect("typing")["text"] == "typing on A"


def _closed_blocked(peer) -> None:
    """The peer is told it is blocked, then its socket is closed with 4451."""
    from websockets.exceptions import ConnectionClosed

    assert peer.expect("blocked")["message"].startswith("You can't chat with us right now")
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            peer.socket.recv(timeout=10)
    assert closed.value.rcvd.code == 4451


def test_a_block_closes_the_visitors_sockets_and_the_networks_on_both_processes(two_servers, django_user_model):
    """The visitor has a tab on each process, another visitor on the same address has one on the
    other: an agent's IP block reaches all three, wherever they are connected."""
    from django.contrib.auth.models import Permission

    one, other = two_servers
    user = django_user_model.objects.create_user("alex", password="pw", first_name="Alex", last_name="Agent")
    user.groups.add(Group.objects.get(name="Agents"))
    user.user_permissions.add(Permission.objects.get(codename="block_visitor"))
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    with Peer(one, "/ws/visitor/") as visitor:
        visitor.send({"type": "hello"})
        token = visitor.expect("welcome")["token"]
        visitor.send({"type": "chat.start", "name": "Sam", "email": "sam@example.com", "text": "Hello",
                      "client_id": "v1"})
        chat = visitor.expect("chat")["chat"]["id"]
        with Peer(other, "/ws/visitor/") as second_tab, Peer(other, "/ws/visitor/") as neighbour, \
                Peer(other, "/ws/agent/", cookie=cookie) as agent:
            second_tab.send({"type": "hello", "token": token})
            second_tab.expect("welcome")
            neighbour.send({"type": "hello"})
            neighbour.expect("welcome")
            assert agent.expect("welcome")["agent"]["can_block"] is True
            agent.send({"type": "visitor.block", "chat": chat, "reason": "Abusive", "ip": True})
            assert agent.expect("visitor.blocked", chat=chat)["network"] == "127.0.0.1/32"
            for peer in (visitor, second_tab, neighbour):
                _closed_blocked(peer)
