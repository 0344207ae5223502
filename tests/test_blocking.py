"""Blocking a visitor: the services with a controlled clock (the 24-hour boundary to the second),
extending and lifting, the sweep, the agent's frame, and what a blocked visitor's sockets meet at
hello, chat.start and message.send, by token, by email and by IP (IPv4, IPv6 within its /64), with a
forged X-Forwarded-For, and when reconnecting in a loop. The hot write's SQL and the Python check
are held to the same verdicts by a table."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Permission
from django.test import override_settings
from django.utils import timezone

from blocking import selectors, services
from blocking.errors import BlockEnded
from blocking.models import Block, BlockEvent, BlockSettings
from chat import blocks, message_log
from chat import services as chat_services
from chat.errors import Blocked, InvalidInput, NotAllowed
from chat.models import Chat, Message, Visitor
from tickets.models import TicketEvent

from . import live
from .factories import AgentFactory, VisitorFactory, start_chat
from .test_limits import connect

pytestmark = [pytest.mark.django_db(transaction=True)]

IP = "203.0.113.7"
IPV6 = "2001:db8:1:2:aaaa:bbbb:cccc:dddd"
T0 = timezone.now().replace(microsecond=0)
DAY = timedelta(hours=24)
SECOND = timedelta(seconds=1)


def blocker(**kwargs):
    agent = AgentFactory(**kwargs)
    agent.user_permissions.add(Permission.objects.get(codename="block_visitor"))
    return type(agent).objects.get(pk=agent.pk)  # without the cached permissions


def chat_from(ip=IP, email="sam@example.com"):
    visitor = VisitorFactory()
    return start_chat(visitor, email=email, ip_address=ip), visitor


# --- The services, on a clock ---------------------------------------------------------------------------


def test_a_block_counts_until_the_second_it_expires_without_any_sweep():
    chat, visitor = chat_from()
    made = blocks.visitor_block(chat_public_id=chat.public_id, agent=blocker(), reason="Abuse", ip=True, now=T0)
    assert made.until == T0 + DAY and made.network == f"{IP}/32"
    for who in ({"visitor_id": visitor.pk}, {"email": "SAM@example.com "}, {"ip": IP}):
        assert selectors.block_for(**who, now=T0 + DAY - SECOND) is not None, who
        assert selectors.block_for(**who, now=T0 + DAY) is None, who
        assert selectors.block_for(**who, now=T0 + DAY + SECOND) is None, who
    assert Block.objects.filter(ended_at__isnull=True).count() == 3, "still open: the sweep has not run"


def test_the_admins_duration_is_used():
    BlockSettings.objects.create(duration_hours=2)
    selectors.forget_cached_settings()
    chat, _ = chat_from()
    made = blocks.visitor_block(chat_public_id=chat.public_id, agent=blocker(), reason="Spam", ip=False, now=T0)
    assert made.until == T0 + timedelta(hours=2) and made.network is None


def test_blocking_twice_keeps_one_open_block_extended_with_both_recorded():
    chat, visitor = chat_from()
    agent = blocker()
    blocks.visitor_block(chat_public_id=chat.public_id, agent=agent, reason="First", ip=False, now=T0)
    again = blocks.visitor_block(chat_public_id=chat.public_id, agent=agent, reason="Second", ip=False,
                                 now=T0 + timedelta(hours=5))
    assert again.until == T0 + timedelta(hours=29)
    block = Block.objects.get(kind="visitor")
    assert block.reason == "First" and block.expires_at == T0 + timedelta(hours=29)
    assert [(e.kind, e.detail.rsplit(": ", 1)[-1]) for e in block.history.all()] == [("created", "First"),
                                                                                      ("extended", "Second")]


def test_a_block_past_its_time_is_closed_and_a_new_one_made():
    chat, _ = chat_from()
    blocks.visitor_block(chat_public_id=chat.public_id, agent=blocker(), reason="First", ip=False, now=T0)
    blocks.visitor_block(chat_public_id=chat.public_id, agent=blocker(), reason="Later", ip=False,
                         now=T0 + DAY + SECOND)
    rows = list(Block.objects.filter(kind="visitor").order_by("created_at"))
    assert [(b.reason, b.ended_at) for b in rows] == [("First", T0 + DAY), ("Later", None)]


def test_lifting_early_records_who_and_lifting_an_expired_block_says_so():
    chat, visitor = chat_from()
    agent, admin = blocker(), blocker()
    blocks.visitor_block(chat_public_id=chat.public_id, agent=agent, reason="Abuse", ip=False, now=T0)
    block = Block.objects.get(kind="visitor")
    services.block_lift(block_id=block.pk, by=admin, now=T0 + timedelta(hours=1))
    block.refresh_from_db()
    assert block.lifted_by == admin and block.ended_at == T0 + timedelta(hours=1)
    assert selectors.block_for(visitor_id=visitor.pk, now=T0 + timedelta(hours=2)) is None
    assert chat.ticket.timeline.filter(kind=TicketEvent.Kind.UNBLOCKED).exists()
    with pytest.raises(BlockEnded, match="ended already"):
        services.block_lift(block_id=block.pk, by=admin)
    email_block = Block.objects.get(kind="email")
    with pytest.raises(BlockEnded, match="had expired already"):
        services.block_lift(block_id=email_block.pk, by=admin, now=T0 + DAY + SECOND)
    email_block.refresh_from_db()
    assert email_block.ended_at == T0 + DAY and email_block.lifted_by is None


def test_the_sweep_closes_expired_blocks_and_records_it_on_the_ticket():
    chat, _ = chat_from()
    blocks.visitor_block(chat_public_id=chat.public_id, agent=blocker(), reason="Abuse", ip=True, now=T0)
    assert services.blocks_expire(now=T0 + DAY - SECOND) == 0
    assert services.blocks_expire(now=T0 + DAY + SECOND) == 3
    assert not Block.objects.filter(ended_at__isnull=True).exists()
    assert BlockEvent.objects.filter(kind="expired").count() == 3
    assert chat.ticket.timeline.filter(kind=TicketEvent.Kind.UNBLOCKED).count() == 3
    assert services.blocks_expire(now=T0 + 2 * DAY) == 0


def test_what_a_block_does_to_the_chat_and_the_ticket():
    chat, visitor = chat_from()
    agent = blocker(first_name="Alex", last_name="Agent")
    chat_services.chat_accept(chat_public_id=chat.public_id, agent=agent)
    blocks.visitor_block(chat_public_id=chat.public_id, agent=agent, reason="Threats", ip=True, now=T0)
    chat.refresh_from_db()
    assert chat.status == Chat.Status.ENDED
    assert Message.objects.filter(chat=chat).order_by("-seq").first().text == "The chat has ended."
    event = chat.ticket.timeline.get(kind=TicketEvent.Kind.BLOCKED)
    assert event.actor == agent and "Threats" in event.detail and f"{IP}/32" in event.detail
    assert "sam@example.com" in event.detail


def test_blocking_from_an_ended_chat_blocks_the_visitor_and_ends_their_new_chat():
    chat, visitor = chat_from()
    chat_services.chat_end(chat_public_id=chat.public_id, actor=chat_services.Actor.for_visitor(visitor.pk))
    newer = start_chat(visitor, client_id="second", ip_address=IP)
    blocks.visitor_block(chat_public_id=chat.public_id, agent=blocker(), reason="Came back", ip=False)
    newer.refresh_from_db()
    assert newer.status == Chat.Status.ENDED and selectors.block_for(visitor_id=visitor.pk) is not None


@pytest.mark.parametrize(("reason", "ip", "words"), [
    ("", False, "Say briefly why"),
    ("   ", False, "Say briefly why"),
    ("x" * 501, False, "at most 500 characters"),
])
def test_a_block_needs_a_reason(reason, ip, words):
    chat, _ = chat_from()
    with pytest.raises(InvalidInput, match=words):
        blocks.visitor_block(chat_public_id=chat.public_id, agent=blocker(), reason=reason, ip=ip)
    assert not Block.objects.exists()


def test_an_ip_block_needs_an_address_and_an_agent_needs_the_right():
    chat, _ = chat_from(ip=None)
    with pytest.raises(InvalidInput, match="no IP address"):
        blocks.visitor_block(chat_public_id=chat.public_id, agent=blocker(), reason="Abuse", ip=True)
    with pytest.raises(NotAllowed, match="An admin can give you the right"):
        blocks.visitor_block(chat_public_id=chat.public_id, agent=AgentFactory(), reason="Abuse", ip=False)
    assert not Block.objects.exists()


def test_an_ipv6_block_covers_its_64():
    chat, _ = chat_from(ip=IPV6)
    made = blocks.visitor_block(chat_public_id=chat.public_id, agent=blocker(), reason="Abuse", ip=True)
    assert made.network == "2001:db8:1:2::/64"
    assert selectors.block_for(ip="2001:db8:1:2::1") is not None
    assert selectors.block_for(ip="2001:db8:1:3::1") is None


# --- The hot write and the Python check agree ----------------------------------------------------------


def _block(kind, value, *, expires=DAY, ended=False):
    now = timezone.now()
    return Block.objects.create(kind=kind, value=value, reason="r", created_at=now, expires_at=now + expires,
                                ended_at=now if ended else None)


HOT_WRITE_CASES = [
    ("nothing", lambda v: None, IP, True),
    ("visitor", lambda v: _block("visitor", str(v.pk)), IP, False),
    ("email", lambda v: _block("email", "sam@example.com"), IP, False),
    ("ipv4", lambda v: _block("ip", f"{IP}/32"), IP, False),
    ("other ipv4", lambda v: _block("ip", "198.51.100.1/32"), IP, True),
    ("ipv6 /64", lambda v: _block("ip", "2001:db8:1:2::/64"), IPV6, False),
    ("ipv6 /48", lambda v: _block("ip", "2001:db8:1::/48"), IPV6, False),
    ("other ipv6 /64", lambda v: _block("ip", "2001:db8:1:3::/64"), IPV6, True),
    ("expired", lambda v: _block("visitor", str(v.pk), expires=-SECOND), IP, True),
    ("lifted", lambda v: _block("visitor", str(v.pk), ended=True), IP, True),
    ("another visitor", lambda v: _block("visitor", str(v.pk + 1000)), IP, True),
]


@pytest.mark.parametrize(("case", "make", "ip", "allowed"), HOT_WRITE_CASES, ids=[c[0] for c in HOT_WRITE_CASES])
def test_the_hot_write_and_the_check_agree(case, make, ip, allowed):
    chat, visitor = chat_from(ip=ip)
    make(visitor)
    python_says = selectors.block_for(visitor_id=visitor.pk, email=visitor.email or "sam@example.com", ip=ip) is None
    from blocking.networks import networks_of

    row = message_log.append(chat_public_id=chat.public_id, writer_column="visitor_id", writer_id=visitor.pk,
                             author_kind="visitor", agent_id=None, author_name=None, client_id=f"m-{case[:5]}",
                             text="hi", html="hi", networks=networks_of(ip))
    assert (row is not None) == python_says == allowed
    if not allowed:
        with pytest.raises(Blocked):
            chat_services.message_post(chat_public_id=chat.public_id, actor=chat_services.Actor.for_visitor(visitor.pk),
                                       client_id="again", text="hi", ip=ip)


def test_an_agent_writes_to_a_blocked_visitors_chat():
    chat, visitor = chat_from()
    agent = AgentFactory()
    chat_services.chat_accept(chat_public_id=chat.public_id, agent=agent)
    _block("visitor", str(visitor.pk))
    _block("ip", f"{IP}/32")
    posted = chat_services.message_post(chat_public_id=chat.public_id, actor=chat_services.Actor.for_agent(agent),
                                        client_id="reply", text="Goodbye")
    assert posted.duplicate is False


# --- Sockets -----------------------------------------------------------------------------------------------


async def _closed_as_blocked(socket: live.Socket) -> dict:
    frame = await socket.expect("blocked")
    assert frame["message"].startswith("You can't chat with us right now")
    output = await socket.communicator.receive_output(timeout=live.TIMEOUT)
    assert output == {"type": "websocket.close", "code": 4451}, output
    return frame


async def _hello(token=None, ip=IP, headers=()):
    communicator, answer = await connect(ip=ip, headers=headers)
    assert answer["type"] == "websocket.accept"
    socket = live.Socket(communicator)
    await socket.send({"type": "hello", "token": token} if token else {"type": "hello"})
    return socket


@database_sync_to_async
def _blocked_chat(ip=IP, block_ip=True, email="sam@example.com"):
    chat, visitor = chat_from(ip=ip, email=email)
    blocks.visitor_block(chat_public_id=chat.public_id, agent=blocker(), reason="Abuse", ip=block_ip)
    return chat, visitor


async def test_a_blocked_visitor_cannot_connect_by_token(layer):
    _, visitor = await _blocked_chat(block_ip=False)
    frame = await _closed_as_blocked(await _hello(visitor.token, ip="198.51.100.9"))
    assert frame["until"]


async def test_a_new_visitor_from_a_blocked_address_is_refused_and_no_visitor_is_made(layer):
    await _blocked_chat()
    count = await database_sync_to_async(Visitor.objects.count)()
    for _ in range(3):
        await _closed_as_blocked(await _hello(ip=IP))
    assert await database_sync_to_async(Visitor.objects.count)() == count


async def test_ipv6_within_the_64_is_refused_and_outside_it_is_not(layer):
    await _blocked_chat(ip=IPV6)
    await _closed_as_blocked(await _hello(ip="2001:db8:1:2::99"))
    socket = await _hello(ip="2001:db8:1:3::99")
    assert (await socket.expect("welcome"))["token"]
    await socket.close()


async def test_a_new_visitor_giving_a_blocked_email_cannot_start_a_chat(layer):
    await _blocked_chat(block_ip=False)
    socket = await _hello(ip="198.51.100.9")
    await socket.expect("welcome")
    await socket.send({"type": "chat.start", "name": "Sam", "email": "Sam@Example.com", "text": "Hi again",
                       "client_id": "c1"})
    await _closed_as_blocked(socket)
    assert not await database_sync_to_async(Chat.objects.filter(visitor__email__iexact="sam@example.com",
                                                                status="queued").exists)()


async def test_a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(layer):
    await _blocked_chat()
    forged = ((b"x-forwarded-for", b"198.51.100.77"),)
    await _closed_as_blocked(await _hello(ip=IP, headers=forged))
    # Nor can a header put someone else's blocked address on an innocent visitor.
    socket = await _hello(ip="198.51.100.78", headers=((b"x-forwarded-for", IP.encode()),))
    assert (await socket.expect("welcome"))["token"]
    await socket.close()
    with override_settings(TRUSTED_PROXIES=["198.51.100.78"]):  # a trusted proxy's header is the address
        await _closed_as_blocked(await _hello(ip="198.51.100.78", headers=((b"x-forwarded-for", IP.encode()),)))


async def test_an_open_socket_is_told_and_closed_when_its_visitor_is_blocked(layer):
    agent = await database_sync_to_async(blocker)()
    socket, welcome = await live.visitor()
    chat = await live.start_chat(socket)
    other_tab, _ = await live.visitor(welcome["token"])
    console, hello = await live.agent(agent)
    assert hello["agent"]["can_block"] is True
    await console.send({"type": "visitor.block", "chat": chat["id"], "reason": "Abuse"})
    answer = await console.expect("visitor.blocked", chat=chat["id"])
    assert answer["network"] is None and answer["until"]
    for tab in (socket, other_tab):
        await _closed_as_blocked(tab)
    await console.close()


async def test_a_block_made_elsewhere_stops_the_next_message(layer):
    """Without the broadcast (a block made by another process whose message was lost, or in the
    database directly), the hot write refuses the next message."""
    socket, welcome = await live.visitor()
    chat = await live.start_chat(socket)
    visitor = await database_sync_to_async(Visitor.objects.get)(chats__public_id=chat["id"])
    await database_sync_to_async(_block)("visitor", str(visitor.pk))
    await socket.send({"type": "message.send", "chat": chat["id"], "client_id": "after", "text": "still here?"})
    await _closed_as_blocked(socket)
    assert not await database_sync_to_async(Message.objects.filter(client_id="after").exists)()


async def test_an_agent_without_the_right_is_told_so(layer):
    agent = await database_sync_to_async(AgentFactory)()
    socket, _ = await live.visitor()
    chat = await live.start_chat(socket)
    console, hello = await live.agent(agent)
    assert hello["agent"]["can_block"] is False
    await console.send({"type": "visitor.block", "chat": chat["id"], "reason": "Abuse", "ip": True})
    error = await console.expect("error", frame="visitor.block")
    assert error["code"] == "forbidden" and "An admin can give you the right" in error["message"]
    await console.send({"type": "visitor.block", "chat": chat["id"]})
    assert (await console.expect("error", frame="visitor.block"))["code"] == "invalid"
    await socket.close()
    await console.close()


async def test_a_blocked_address_reconnecting_in_a_loop_is_cut_off_before_the_database(layer, settings):
    settings.RATE_LIMITS = {"blocked_hello.ip": (3, 60)}
    await _blocked_chat()
    for _ in range(3):
        await _closed_as_blocked(await _hello(ip=IP))
    socket = await _hello(ip=IP)
    output = await socket.communicator.receive_output(timeout=live.TIMEOUT)
    assert output == {"type": "websocket.close", "code": 4429}


# --- Admin ---------------------------------------------------------------------------------------------


def test_admins_see_search_and_lift_blocks(client):
    from .factories import UserFactory

    chat, visitor = chat_from()
    blocks.visitor_block(chat_public_id=chat.public_id, agent=blocker(), reason="Rude words", ip=True)
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    listing = client.get("/admin/blocking/block/", {"q": "203.0.113.7", "state": "active"})
    assert listing.status_code == 200 and b"203.0.113.7/32" in listing.content and b"Rude words" in listing.content
    assert b"sam@example.com" not in listing.content, "the search found only the IP block"
    ip_block = Block.objects.get(kind="ip")
    lifted = client.post("/admin/blocking/block/", {"action": "lift", "_selected_action": [ip_block.pk]},
                         follow=True)
    assert b"Lifted 1 block." in lifted.content
    ip_block.refresh_from_db()
    assert ip_block.lifted_by == admin and ip_block.ended_at is not None
    again = client.post("/admin/blocking/block/", {"action": "lift", "_selected_action": [ip_block.pk]}, follow=True)
    assert b"ended already" in again.content
    assert selectors.block_for(ip=IP) is None and selectors.block_for(visitor_id=visitor.pk) is not None
    page = client.get(f"/admin/blocking/block/{ip_block.pk}/change/")
    assert page.status_code == 200 and b"Lifted" in page.content
    settings_page = client.get("/admin/blocking/blocksettings/", follow=True)
    assert settings_page.status_code == 200 and b"duration_hours" in settings_page.content


def test_a_blocked_visitor_cannot_send_a_file(client):
    chat, visitor = chat_from(ip="127.0.0.1")
    blocks.visitor_block(chat_public_id=chat.public_id, agent=blocker(), reason="Abuse", ip=False)
    response = client.post(f"/chat/{chat.public_id}/uploads/", data=b"hello\n", content_type="text/plain",
                           headers={"X-Visitor-Token": visitor.token, "X-Client-Id": "f", "X-File-Name": "a.txt"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "blocked"
