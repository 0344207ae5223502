"""The websocket consumers, on the in-memory layer and on the Redis pub/sub layer (``layer`` fixture)."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from chat.consumers import VisitorConsumer
from chat.models import Chat, Message
from chat.origins import visitor_origins

from . import live
from .factories import AgentFactory, DepartmentFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

make_agent = database_sync_to_async(AgentFactory)


@database_sync_to_async
def stored(chat_id: str) -> list[tuple]:
    return list(
        Message.objects.filter(chat__public_id=chat_id).order_by("seq").values_list("seq", "author_kind", "text")
    )


async def test_new_visitor_gets_a_token_and_returns_with_it(layer):
    await database_sync_to_async(DepartmentFactory)(name="Sales")
    await database_sync_to_async(DepartmentFactory)(name="Support")
    socket, welcome = await live.visitor()
    assert len(welcome["token"]) >= 40
    assert welcome["chat"] is None
    assert [d["name"] for d in welcome["departments"]] == ["Department 0", "Department 1"] or len(
        welcome["departments"]
    ) == 2
    chat = await live.start_chat(socket, department=welcome["departments"][0]["id"])
    await socket.close()

    again, welcome_back = await live.visitor(welcome["token"])
    assert welcome_back["token"] is None, "a known visitor is not given a new token"
    assert welcome_back["visitor"] == {"name": "Sam Visitor", "email": "sam@example.com"}
    assert welcome_back["chat"]["id"] == chat["id"]
    assert welcome_back["chat"]["status"] == "queued"
    await again.close()


async def test_forged_token_is_closed_with_4401(layer):
    socket = await live.connect("/ws/visitor/")
    await socket.send({"type": "hello", "token": "forged-token-that-nobody-was-ever-given-123"})
    assert await socket.closed_with() == 4401


async def test_frames_before_hello_are_refused(layer):
    socket = await live.connect("/ws/visitor/")
    await socket.send({"type": "message.send", "chat": "X", "client_id": "a", "text": "hi"})
    error = await socket.expect("error")
    assert error["code"] == "hello_required"
    await socket.send({"type": "hello"})
    await socket.expect("welcome")
    await socket.close()


async def test_whole_chat_between_visitor_and_agent(layer):
    user = await make_agent(first_name="Alex", last_name="Agent")
    agent, agent_welcome = await live.agent(user)
    assert agent_welcome["agent"]["name"] == "Alex Agent" and agent_welcome["chats"] == []

    visitor, _ = await live.visitor()
    chat = await live.start_chat(visitor, text="My parcel is late")
    ack = await visitor.expect("message.ack", **{"message.client_id": "first"})
    assert ack["message"]["seq"] == 1 and ack["duplicate"] is False

    queued = await agent.expect("chat", **{"chat.id": chat["id"]})
    assert queued["chat"]["status"] == "queued"
    assert queued["chat"]["visitor"] == {"name": "Sam Visitor", "email": "sam@example.com"}

    await agent.send({"type": "chat.accept", "chat": chat["id"]})
    accepted = await agent.expect("chat", **{"chat.status": "active"})
    assert accepted["chat"]["agent_id"] == user.pk
    # The accepting agent was not watching the chat before: the "joined" note still reaches it live.
    assert (await agent.expect_message(event="accepted"))["seq"] == 2
    note = await visitor.expect_message(author="system")
    assert note["event"] == "accepted" and "Alex Agent joined the chat." in note["html"]
    assert (await visitor.expect("chat", **{"chat.status": "active"}))["chat"]["agent_name"] == "Alex Agent"

    await agent.send({"type": "message.send", "chat": chat["id"], "client_id": "a1", "text": "Hello **Sam**"})
    await agent.expect("message.ack", **{"message.client_id": "a1"})
    reply = await visitor.expect_message(client_id="a1")
    assert reply["author"] == "agent" and reply["author_name"] == "Alex Agent"
    assert "<strong>Sam</strong>" in reply["html"]

    await visitor.send({"type": "message.send", "chat": chat["id"], "client_id": "v2", "text": "Thanks <b>!</b>"})
    await visitor.expect("message.ack", **{"message.client_id": "v2"})
    seen = await agent.expect_message(client_id="v2")
    assert seen["author"] == "visitor" and "&lt;b&gt;" in seen["html"]

    await visitor.send({"type": "chat.end", "chat": chat["id"]})
    assert (await visitor.expect("chat", **{"chat.status": "ended"}))["chat"]["ended_at"]
    await agent.expect("chat", **{"chat.id": chat["id"], "chat.status": "ended"})
    assert (await agent.expect_message(event="ended"))["author"] == "system"

    assert [kind for _, kind, _ in await stored(chat["id"])] == ["visitor", "system", "agent", "visitor", "system"]
    await visitor.close()
    await agent.close()


async def test_second_agent_to_accept_gets_conflict(layer):
    first, _ = await live.agent(await make_agent())
    second, _ = await live.agent(await make_agent())
    visitor, _ = await live.visitor()
    chat = await live.start_chat(visitor)
    await first.send({"type": "chat.accept", "chat": chat["id"]})
    await first.expect("chat", **{"chat.status": "active"})
    await second.send({"type": "chat.accept", "chat": chat["id"]})
    error = await second.expect("error")
    assert error["code"] == "conflict" and "already accepted" in error["message"]
    assert error["chat"] == chat["id"], "the error names the chat it is about"
    await second.send({"type": "message.send", "chat": chat["id"], "client_id": "x", "text": "me too"})
    assert (await second.expect("error", client_id="x"))["code"] == "forbidden"
    for socket in (first, second, visitor):
        await socket.close()


@pytest.mark.parametrize(
    "raw, code",
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"type": "fly"}', "unknown_type"),
        ('{"text": "no type"}', "unknown_type"),
        ('{"type": "message.send", "chat": "X", "client_id": "a"}', "invalid"),
        ('{"type": "message.send", "chat": 5, "client_id": "a", "text": "x"}', "invalid"),
        ('{"type": "resume", "chat": "X", "after_seq": -1}', "invalid"),
        ('{"type": "chat.accept", "chat": "X"}', "unknown_type"),
        (json.dumps({"type": "message.send", "chat": "X", "client_id": "a", "text": "é" * 17000}), "too_large"),
        (None, "bad_frame"),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_open(raw, code):
    socket, _ = await live.visitor()
    if raw is None:
        await socket.send_raw(data=b"\x00\x01")
    else:
        await socket.send_raw(text=raw)
    error = await socket.expect("error")
    assert error["code"] == code and error["message"]
    await socket.send({"type": "ping"})
    await socket.expect("pong")
    await socket.close()


async def test_empty_and_over_long_messages_are_refused_readably(layer):
    socket, _ = await live.visitor()
    chat = await live.start_chat(socket)
    await socket.send({"type": "message.send", "chat": chat["id"], "client_id": "empty", "text": "  "})
    assert (await socket.expect("error", client_id="empty"))["message"] == "A message cannot be empty."
    await socket.send({"type": "message.send", "chat": chat["id"], "client_id": "long", "text": "x" * 5001})
    error = await socket.expect("error", client_id="long")
    assert error["code"] == "invalid" and "5,000" in error["message"]
    assert [seq for seq, _, _ in await stored(chat["id"])] == [1]
    await socket.close()


async def test_a_visitor_never_reaches_another_visitors_chat(layer):
    owner, _ = await live.visitor()
    chat = await live.start_chat(owner, text="private")
    intruder, _ = await live.visitor()
    for frame in (
        {"type": "resume", "chat": chat["id"], "after_seq": 0},
        {"type": "message.send", "chat": chat["id"], "client_id": "i1", "text": "let me in"},
        {"type": "chat.end", "chat": chat["id"]},
    ):
        await intruder.send(frame)
        assert (await intruder.expect("error"))["code"] == "not_found"
    assert not any(f["type"] == "message" for f in intruder.seen)
    assert await stored(chat["id"]) == [(1, "visitor", "private")]
    assert (await database_sync_to_async(Chat.objects.get)(public_id=chat["id"])).status == "queued"
    for socket in (owner, intruder):
        await socket.close()


async def test_agent_socket_without_login_is_closed_with_4401():
    socket = await live.connect("/ws/agent/")
    assert await socket.closed_with() == 4401


async def test_logged_in_non_agent_is_closed_with_4403():
    user = await database_sync_to_async(UserFactory)()
    socket = await live.connect("/ws/agent/", headers=(live.OWN_ORIGIN, (b"cookie", await live.session_cookie(user))))
    assert await socket.closed_with() == 4403


# (Origin, Host, scheme of the connection): a page of another scheme, port or host than the one the
# helpdesk was reached at is another site, however alike it looks.
FOREIGN_ORIGINS = [
    (b"https://evil.example", b"127.0.0.1", "ws"),
    (b"http://127.0.0.1:9999", b"127.0.0.1", "ws"),  # same host, another port
    (b"http://127.0.0.1:9999", b"127.0.0.1:8000", "ws"),
    (b"https://127.0.0.1", b"127.0.0.1", "ws"),  # same host, another scheme
    (b"http://127.0.0.1", b"127.0.0.1", "wss"),  # the page is http, the socket wss: not the same page
    (b"https://localhost", b"localhost:8000", "ws"),
    (b"http://127.0.0.1.evil.example", b"127.0.0.1", "ws"),
    (b"http://evil.example", b"evil.example", "ws"),  # a Host we do not serve (DNS rebinding)
    (b"http://user@127.0.0.1", b"127.0.0.1", "ws"),
    (b"null", b"127.0.0.1", "ws"),  # sandboxed iframes, file: pages
    (b"", b"127.0.0.1", "ws"),
    (None, b"127.0.0.1", "ws"),
    (b"http://127.0.0.1/path", b"127.0.0.1", "ws"),
    (b"ftp://127.0.0.1", b"127.0.0.1", "ws"),
]
OWN_ORIGINS = [
    (b"http://127.0.0.1", b"127.0.0.1", "ws"),
    (b"http://127.0.0.1:8000", b"127.0.0.1:8000", "ws"),
    (b"HTTP://LocalHost:8000", b"localhost:8000", "ws"),
    (b"https://localhost", b"localhost:443", "wss"),
    (b"http://127.0.0.1:80", b"127.0.0.1", "ws"),
]


async def _handshake(app, path, origin, host, scheme, cookie=None) -> bool:
    headers = [(b"host", host)] + ([(b"origin", origin)] if origin is not None else [])
    if cookie:
        headers.append((b"cookie", cookie))
    communicator = live.WebsocketCommunicator(app, path, headers=headers)
    communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect()
    if connected:
        await communicator.disconnect()
    return connected


@pytest.mark.parametrize(("origin", "host", "scheme"), FOREIGN_ORIGINS)
async def test_agent_socket_refuses_every_foreign_origin(origin, host, scheme):
    cookie = await live.session_cookie(await make_agent())
    assert not await _handshake(live.application, "/ws/agent/", origin, host, scheme, cookie)


@pytest.mark.parametrize(("origin", "host", "scheme"), OWN_ORIGINS)
async def test_agent_socket_takes_the_helpdesks_own_origin(origin, host, scheme):
    cookie = await live.session_cookie(await make_agent())
    assert await _handshake(live.application, "/ws/agent/", origin, host, scheme, cookie)


@override_settings(CSRF_TRUSTED_ORIGINS=["https://help.example.com"], ALLOWED_HOSTS=["127.0.0.1"])
async def test_agent_socket_behind_a_tls_proxy_takes_the_trusted_origin():
    cookie = await live.session_cookie(await make_agent())
    app = live.application
    assert await _handshake(app, "/ws/agent/", b"https://help.example.com", b"127.0.0.1:8000", "ws", cookie)
    assert not await _handshake(app, "/ws/agent/", b"http://help.example.com", b"127.0.0.1:8000", "ws", cookie)


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
async def test_the_proxys_scheme_is_the_requests_when_configured():
    cookie = await live.session_cookie(await make_agent())
    communicator = live.WebsocketCommunicator(live.application, "/ws/agent/", headers=[
        (b"host", b"localhost"), (b"origin", b"https://localhost"), (b"x-forwarded-proto", b"https"),
        (b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected
    await communicator.disconnect()


@override_settings(CHAT_EMBED_ORIGINS=["https://shop.example"])
async def test_visitor_socket_takes_only_configured_origins():
    app = visitor_origins(VisitorConsumer.as_asgi())
    for origin, allowed in [
        (b"https://shop.example", True),
        (b"https://shop.example:443", True),
        (b"http://127.0.0.1", True),  # the widget iframe, served by the helpdesk itself
        (b"https://evil.example", False),
        (b"http://shop.example", False),
        (b"https://shop.example:8443", False),
        (b"https://www.shop.example", False),
        (b"http://127.0.0.1:9999", False),
    ]:
        assert await _handshake(app, "/ws/visitor/", origin, b"127.0.0.1", "ws") is allowed, origin


async def test_agent_watch_resumes_from_seq(layer):
    user = await make_agent()
    visitor, _ = await live.visitor()
    chat = await live.start_chat(visitor)
    for i in range(3):
        await visitor.send({"type": "message.send", "chat": chat["id"], "client_id": f"m{i}", "text": f"m{i}"})
        await visitor.expect("message.ack", **{"message.client_id": f"m{i}"})
    agent, _ = await live.agent(user)
    await agent.send({"type": "chat.watch", "chat": chat["id"], "after_seq": 2})
    assert (await agent.expect("chat"))["chat"]["last_seq"] == 4
    assert [(await agent.expect("message"))["message"]["seq"] for _ in range(2)] == [3, 4]
    assert (await agent.expect("resumed"))["last_seq"] == 4
    # Watching: the next visitor message arrives live.
    await visitor.send({"type": "message.send", "chat": chat["id"], "client_id": "live", "text": "live"})
    assert (await agent.expect_message(client_id="live"))["seq"] == 5
    await agent.send({"type": "chat.unwatch", "chat": chat["id"]})
    await agent.send({"type": "ping"})
    await agent.expect("pong")
    await visitor.send({"type": "message.send", "chat": chat["id"], "client_id": "after", "text": "after"})
    await visitor.expect("message.ack", **{"message.client_id": "after"})
    await agent.drain()
    assert agent.count("message", **{"message.client_id": "after"}) == 0, "no live events after unwatch"
    await visitor.close()
    await agent.close()


async def test_reconnect_mid_conversation_loses_and_duplicates_nothing(layer):
    """The visitor's socket drops mid-conversation: an ack is lost, the agent keeps writing. After
    reconnecting with the token, resume from the last seq and a resend of the unacknowledged
    message give the visitor every message exactly once."""
    user = await make_agent()
    agent, _ = await live.agent(user)
    visitor, welcome = await live.visitor()
    chat = await live.start_chat(visitor)
    await agent.send({"type": "chat.accept", "chat": chat["id"]})
    await agent.expect("chat", **{"chat.status": "active"})
    await visitor.expect_message(event="accepted")
    last_seen = 2

    # The visitor sends and the socket drops before the ack is read.
    lost = {"type": "message.send", "chat": chat["id"], "client_id": "v-lost-ack", "text": "are you there?"}
    await visitor.send(lost)
    await agent.expect_message(client_id="v-lost-ack")
    await visitor.close()

    # While the visitor is away the agent answers three times.
    for i in range(3):
        await agent.send({"type": "message.send", "chat": chat["id"], "client_id": f"a{i}", "text": f"answer {i}"})
        await agent.expect("message.ack", **{"message.client_id": f"a{i}"})

    # Reconnect: hello with the token, resend the outbox, resume from the last seq seen.
    back, welcome_back = await live.visitor(welcome["token"])
    assert welcome_back["chat"]["last_seq"] == 6
    await back.send(lost)
    await back.send({"type": "resume", "chat": chat["id"], "after_seq": last_seen})
    ack = await back.expect("message.ack", **{"message.client_id": "v-lost-ack"})
    assert ack["duplicate"] is True and ack["message"]["seq"] == 3
    resumed = await back.expect("resumed")
    assert resumed["last_seq"] == 6
    got = [f["message"]["seq"] for f in back.seen if f["type"] == "message"]
    assert got == [3, 4, 5, 6], "every missed event once, in order"

    rows = await stored(chat["id"])
    assert [seq for seq, _, _ in rows] == [1, 2, 3, 4, 5, 6]
    assert sum(1 for _, _, text in rows if text == "are you there?") == 1
    await agent.drain()
    # Once when it was stored, once more on the resend (which may be repairing a lost broadcast).
    assert agent.count("message", **{"message.client_id": "v-lost-ack"}) == 2, "the resend was broadcast again"
    await back.close()
    await agent.close()


@pytest.mark.redis
async def test_more_than_100_sockets_on_redis_close_at_once(redis_layer):
    """redis-py 8's async pool allows 100 connections: a mass close must not break the layer."""
    sockets = await asyncio.gather(*(live.visitor() for _ in range(120)))
    assert all(welcome["token"] for _, welcome in sockets)
    await asyncio.gather(*(socket.close() for socket, _ in sockets))
    # The layer still carries a whole exchange afterwards.
    agent, _ = await live.agent(await make_agent())
    visitor, _ = await live.visitor()
    chat = await live.start_chat(visitor)
    await agent.expect("chat", **{"chat.id": chat["id"]})
    await visitor.close()
    await agent.close()


async def test_a_chat_started_in_one_tab_reaches_the_visitors_other_tab(layer):
    """Each tab is a socket. The tab that did not start the chat joins it on the chat's first
    state event and is sent what was said before it joined; then messages arrive live, and the tab
    that sent a message gets its ack, not the message a second time."""
    first_tab, welcome = await live.visitor()
    other_tab, _ = await live.visitor(welcome["token"])
    chat = await live.start_chat(first_tab, text="from the first tab")
    assert (await other_tab.expect("chat", **{"chat.id": chat["id"]}))["chat"]["status"] == "queued"
    assert (await other_tab.expect_message(seq=1))["client_id"] == "first"

    await other_tab.send({"type": "message.send", "chat": chat["id"], "client_id": "t2", "text": "from tab two"})
    await other_tab.expect("message.ack", **{"message.client_id": "t2"})
    assert (await first_tab.expect_message(client_id="t2"))["seq"] == 2
    await other_tab.drain()
    assert other_tab.count("message", **{"message.client_id": "t2"}) == 0, "no echo to the sending socket"
    await first_tab.drain()
    assert first_tab.count("message", **{"message.client_id": "first"}) == 0, "nor of the first message"
    await first_tab.close()
    await other_tab.close()
