"""The wire protocol's outgoing side, and the only module that talks to the channel layer.

Every frame a server sends is built by one function here; docs/protocol.md documents the same shapes.
Who receives an event is decided here too (the ``publish_*`` functions), not at each call site. Services call
the ``publish_*`` functions, which send after the surrounding transaction commits: nothing is
broadcast that was not saved. Delivery is at-most-once; clients recover missed events by ``seq``.
"""

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import live
from .models import Chat, Message, PageView

log = logging.getLogger(__name__)

# The channel-layer message type every consumer handles by sending ``text`` to its socket as is.
FORWARD = "frame.forward"

AGENTS_GROUP = "agents"


# --- Groups ---------------------------------------------------------------------------------------


def visitor_group(visitor_id: int) -> str:
    """Every open widget of one visitor (several tabs of the host site): the chat's state, which
    also tells a tab to join a chat another tab started."""
    return f"visitor-{visitor_id}"


def chat_group(chat_id: int) -> str:
    """Everyone in the chat: the visitor's widgets that have it and the agents who have it open.
    A message is one publish to this group."""
    return f"chat-{chat_id}"


def chat_agents_group(chat_id: int) -> str:
    """Agents who have the chat open in their console: what visitors are not sent (drafts,
    receipts, page views, the agent view of the chat)."""
    return f"chat-{chat_id}-agents"


# --- Frame builders -------------------------------------------------------------------------------


def _time(value) -> str | None:
    return value.isoformat() if value else None


def agent_display_name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def message_frame(message: Message, chat_public_id: str) -> dict:
    return {
        "type": "message",
        "chat": chat_public_id,
        "message": {
            "id": message.pk,
            "seq": message.seq,
            "author": message.author_kind,
            "author_name": message.author_name,
            "event": message.event,
            "client_id": message.client_id,
            "html": message.html,
            "attachment": attachment_of(message.attachment) if message.attachment_id else None,
            "created_at": _time(message.created_at),
            "delivered_at": _time(message.delivered_at),
            "read_at": _time(message.read_at),
        },
    }


def attachment_of(attachment) -> dict:
    """A file a message carries. The URLs are paths on the helpdesk's origin; who may open them is
    the file view's to check (chat/attachments/views.py)."""
    return {
        "ref": attachment.ref,
        "name": attachment.name,
        "kind": attachment.kind,
        "type": attachment.content_type.split(";", 1)[0],
        "size": attachment.size,
        "width": attachment.width,
        "height": attachment.height,
        "url": f"/files/{attachment.ref}/",
        "thumbnail_url": f"/files/{attachment.ref}/thumbnail/" if attachment.thumbnail_key else None,
        "thumbnail_width": attachment.thumbnail_width,
        "thumbnail_height": attachment.thumbnail_height,
    }


def network_group(network: str) -> str:
    """Every visitor socket from one IP network (blocking.networks): told when the network is blocked."""
    return "visitors-net-" + hashlib.sha256(network.encode()).hexdigest()[:24]


BLOCKED = "visitor.blocked"  # the channel-layer message that closes a blocked visitor's sockets


def blocked_frame(until) -> dict:
    from .errors import Blocked

    return {"type": "blocked", "until": _time(until), "message": Blocked.MESSAGE}


def publish_blocked(*, visitor_ids: list[int], network: str | None, until) -> None:
    """Every open widget of these visitors, and with an IP block every visitor socket of the network,
    is told it is blocked and closed (4451), once the block has committed."""
    groups = [visitor_group(v) for v in visitor_ids] + ([network_group(network)] if network else [])
    message = {"type": BLOCKED, "text": json.dumps(blocked_frame(until), separators=(",", ":"))}
    transaction.on_commit(lambda: _send(groups, message, False), robust=True)


def visitor_blocked_frame(chat_public_id: str, until, network: str | None) -> dict:
    """The answer to an agent's ``visitor.block``."""
    return {"type": "visitor.blocked", "chat": chat_public_id, "until": _time(until), "network": network}


def chat_for_visitor(chat: Chat) -> dict:
    ticket = chat.ticket
    return {
        "id": chat.public_id,
        "status": chat.status,
        "department": chat.department.name if chat.department_id else None,
        "agent_name": agent_display_name(chat.agent) if chat.agent_id else None,
        "started_at": _time(chat.started_at),
        "ended_at": _time(chat.ended_at),
        "last_seq": chat.last_seq,
        "rating": {"value": ticket.rating, "comment": ticket.rating_comment} if ticket.rating else None,
    }


def chat_for_agent(chat: Chat) -> dict:
    return {
        "id": chat.public_id,
        "status": chat.status,
        "department": chat.department.name if chat.department_id else None,
        "agent_id": chat.agent_id,
        "agent_name": agent_display_name(chat.agent) if chat.agent_id else None,
        "visitor": {"name": chat.visitor.name, "email": chat.visitor.email},
        "ticket_ref": chat.ticket.ref,
        "ip_address": chat.ip_address,
        "started_at": _time(chat.started_at),
        "accepted_at": _time(chat.accepted_at),
        "ended_at": _time(chat.ended_at),
        "last_seq": chat.last_seq,
    }


def chat_frame_for_visitor(chat: Chat) -> dict:
    return {"type": "chat", "chat": chat_for_visitor(chat)}


def chat_frame_for_agent(chat: Chat) -> dict:
    return {"type": "chat", "chat": chat_for_agent(chat)}


def welcome(*, token: str | None, visitor, departments: Iterable, chat: Chat | None, typing_preview: bool,
            live: str) -> dict:
    return {
        "type": "welcome",
        "token": token,
        "visitor": {"name": visitor.name, "email": visitor.email},
        "departments": [{"id": d.pk, "name": d.name} for d in departments],
        "chat": chat_for_visitor(chat) if chat else None,
        "typing_preview": typing_preview,
        "live": live,
    }


def agent_welcome(*, user, queue: Iterable[Chat], live: str, stars: dict[str, str] | None = None,
                  can_block: bool = False) -> dict:
    return {
        "type": "welcome",
        "agent": {"id": user.pk, "name": agent_display_name(user), "can_block": can_block},
        "chats": [chat_for_agent(c) for c in queue],
        "stars": stars or {},
        "live": live,
    }


def message_ack(message: Message, chat_public_id: str, *, duplicate: bool) -> dict:
    frame = message_frame(message, chat_public_id)
    frame["type"] = "message.ack"
    frame["duplicate"] = duplicate
    return frame


def receipt_frame(chat_public_id: str, seq: int, messages: Iterable[Message]) -> dict:
    return {
        "type": "receipt",
        "chat": chat_public_id,
        "seq": seq,
        "messages": [
            {"seq": m.seq, "delivered_at": _time(m.delivered_at), "read_at": _time(m.read_at)} for m in messages
        ],
    }


def _page_view(view: PageView) -> dict:
    return {"url": view.url, "title": view.title, "at": _time(view.created_at)}


def page_view_frame(view: PageView, chat_public_id: str) -> dict:
    return {"type": "page.view", "chat": chat_public_id, "view": _page_view(view)}


def pages_frame(chat_public_id: str, views: Iterable[PageView]) -> dict:
    return {"type": "pages", "chat": chat_public_id, "views": [_page_view(v) for v in views]}


def visitor_typing_frame(chat_public_id: str, text: str | None) -> dict:
    """To agents: the visitor's draft (``text``), or only that they type (``text`` null) when the
    preview is off. An empty text means the draft was cleared."""
    return {"type": "typing", "chat": chat_public_id, "text": text}


def agent_typing_frame(chat_public_id: str, active: bool, agent_name: str) -> dict:
    """To the visitor: an agent is typing. Never the agent's text."""
    return {"type": "agent.typing", "chat": chat_public_id, "active": active, "agent_name": agent_name}


def hidden_frame(chat_public_id: str, seq: int) -> dict:
    """A seq of the chat taken by an event this client is not shown (a receipt, to a visitor): it
    still reaches the client, so that the client can tell a hole from an event that is not theirs."""
    return {"type": "hidden", "chat": chat_public_id, "seq": seq}


def resumed(chat_public_id: str, last_seq: int, *, more: bool) -> dict:
    """The end of a resume answer: the client now has every event up to ``last_seq``; ``more``: the
    answer was cut short, ask again from ``last_seq``."""
    return {"type": "resumed", "chat": chat_public_id, "last_seq": last_seq, "more": more}


def live_frame(state: str) -> dict:
    """``ok`` or ``degraded``: whether live events reach this socket (docs/protocol.md)."""
    return {"type": "live", "state": state}


def error(code: str, message: str, *, about=None, retry_after: float | None = None) -> dict:
    """A refused frame. ``about`` is the frame, or what could be read of it: ``frame`` names its type,
    ``client_id`` the message that was refused, ``chat`` the chat it was about and ``ref`` the preview
    it asked for. ``retry_after``:
    seconds to wait before sending it again, for the errors that may be retried."""
    frame = {"type": "error", "code": code, "message": message}
    if retry_after is not None:
        frame["retry_after"] = retry_after
    if getattr(about, "WIRE_TYPE", None):
        frame["frame"] = about.WIRE_TYPE
    for field in ("client_id", "chat", "ref"):
        value = getattr(about, field, None)
        if value and isinstance(value, str):
            frame[field] = value
    return frame


def pong() -> dict:
    return {"type": "pong"}


# --- Publishing -----------------------------------------------------------------------------------


def publish_message(message: Message, chat: Chat, *, acked: bool = False) -> None:
    """To everyone in the chat. ``acked``: the socket that sent it answers with ``message.ack``
    and is not sent the message again."""
    _send_on_commit([chat_group(chat.pk)], message_frame(message, chat.public_id), skip_sender=acked)


def publish_chat_changed(chat: Chat) -> None:
    """A chat's state changed (started, accepted, ended): tell its visitor's widgets (which join the
    chat if they had not), the agents who have it open, and every agent's queue."""
    # Not to the visitor socket whose request made the change: it is answered with the chat directly.
    _send_on_commit([visitor_group(chat.visitor_id)], chat_frame_for_visitor(chat),
                    join={"group": chat_group(chat.pk), "chat": chat.public_id, "chat_pk": chat.pk},
                    skip_sender=True, state_of=chat.public_id)
    _send_on_commit([chat_agents_group(chat.pk), AGENTS_GROUP], chat_frame_for_agent(chat), state_of=chat.public_id)


def publish_receipt(chat: Chat, seq: int, messages: list[Message]) -> None:
    """To the chat's agents; the visitor's widgets are told only that the seq is taken."""
    _send_on_commit([chat_agents_group(chat.pk)], receipt_frame(chat.public_id, seq, messages))
    _send_on_commit([visitor_group(chat.visitor_id)], hidden_frame(chat.public_id, seq))


def agent_user_group(user_id: int) -> str:
    """Every open console socket of one agent: told to check that user's rights again."""
    return f"agent-{user_id}"


RIGHTS_CHECK = "rights.check"


def publish_rights_changed(user_ids: list[int]) -> None:
    """The rights of these users may have changed: their sockets check again (not a frame)."""
    message = {"type": RIGHTS_CHECK}
    transaction.on_commit(lambda: _send([agent_user_group(pk) for pk in user_ids], message, False), robust=True)


VISITORS_GROUP = "visitors"


def settings_frame(*, typing_preview: bool) -> dict:
    return {"type": "settings", "typing_preview": typing_preview}


def publish_settings(*, typing_preview: bool) -> None:
    """To every open widget: the admin changed what visitors are told (the typing preview)."""
    _send_on_commit([VISITORS_GROUP], settings_frame(typing_preview=typing_preview))


def publish_page_view(view: PageView, chat: Chat) -> None:
    _send_on_commit([chat_agents_group(chat.pk)], page_view_frame(view, chat.public_id))


async def send_visitor_typing(chat_id: int, chat_public_id: str, text: str | None) -> None:
    """Ephemeral: straight to the chat's agents, never stored, never on a transaction."""
    await _send_now([chat_agents_group(chat_id)], visitor_typing_frame(chat_public_id, text))


async def send_agent_typing(visitor_id: int, chat_public_id: str, active: bool, agent_name: str) -> None:
    await _send_now([visitor_group(visitor_id)], agent_typing_frame(chat_public_id, active, agent_name))


async def _send_now(groups: list[str], frame: dict) -> None:
    message = {"type": FORWARD, "text": json.dumps(frame, separators=(",", ":"))}
    await _send_all([(group, message) for group in groups])


def _send_on_commit(groups: list[str], frame: dict, *, join: dict | None = None, skip_sender: bool = False,
                    state_of: str | None = None) -> None:
    """The channel-layer message is ``frame.forward`` with the frame's JSON text, encoded once for
    every receiver; ``join`` asks visitor sockets to join a chat's group first, ``skip`` names the
    sending socket that has its answer already."""
    message = {"type": FORWARD, "text": json.dumps(frame, separators=(",", ":"))}
    if join:
        message["join"] = join
    if state_of:  # the chat's state changed: sockets forget what they concluded from it (typing)
        message["state_of"] = state_of
    transaction.on_commit(lambda: _send(groups, message, skip_sender), robust=True)


# Set by a consumer around a service call: broadcasts committed during the call are kept here and
# sent by the consumer from the event loop, so that the database thread never waits on the layer.
_collected: ContextVar["Collected | None"] = ContextVar("chat_collected_broadcasts", default=None)


class Collected(list):
    """(group, layer message) pairs, and the channel name of the socket that made the call."""

    def __init__(self, sender: str | None):
        super().__init__()
        self.sender = sender


@contextmanager
def collecting(sender: str | None = None):
    """Keep the broadcasts of the service calls in this block; send them with ``send_collected``."""
    pending = Collected(sender)
    token = _collected.set(pending)
    try:
        yield pending
    finally:
        _collected.reset(token)


async def send_collected(pending: "Collected") -> None:
    await _send_all(pending)


async def _send_all(pairs) -> None:
    """Side by side; a single send (the usual case) is awaited as it is, without a task."""
    if len(pairs) == 1:
        await _group_send(*pairs[0])
    elif pairs:
        await asyncio.gather(*(_group_send(group, message) for group, message in pairs))


# Errors of a connection to the channel layer's server (Redis). A pooled connection that Redis
# closed while it was away fails once when it is next used; the retry takes a fresh one.
_LINK_ERRORS = (ConnectionError, OSError, asyncio.TimeoutError, RedisConnectionError, RedisTimeoutError)
RETRY_AFTER_SECONDS = 0.05


async def _group_send(group: str, message: dict) -> bool:
    """Publish, once more after a connection error; a publish that still fails tells this process's
    sockets that live delivery is degraded (they resync from the database). True if it went out."""
    layer = get_channel_layer()
    for attempt in (1, 2):
        try:
            await layer.group_send(group, message)
            return True
        except _LINK_ERRORS:
            if attempt == 1 and live.link().up:
                await asyncio.sleep(RETRY_AFTER_SECONDS)
                continue
            # The traceback once, when live delivery goes down; a line per send after that.
            log.warning("group_send to %s failed: live delivery degraded", group, exc_info=live.link().up)
        except Exception:  # the record is in the database; clients resume by seq
            log.exception("group_send to %s failed", group)
            return False
        live.link().report_failure()
        return False
    return False


def _send(groups: list[str], message: dict, skip_sender: bool) -> None:
    pending = _collected.get()
    if pending is not None:
        if skip_sender and pending.sender:
            message = {**message, "skip": pending.sender}
        pending.extend((group, message) for group in groups)
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    for group in groups:  # a service called outside a consumer (a view, a task, a test)
        if loop is None:
            async_to_sync(_group_send)(group, message)
        else:  # called from code that runs an event loop in this thread: async_to_sync refuses there
            task = loop.create_task(_group_send(group, message))
            _sending.add(task)
            task.add_done_callback(_sending.discard)


_sending: set = set()  # sends started by _send from inside a running loop, kept until done


async def group_join(group: str, channel_name: str) -> bool:
    """Subscribe a socket to a group. False when the layer is down: the socket is then served from
    the database and joins again when the layer is back (``live``)."""
    try:
        await get_channel_layer().group_add(group, channel_name)
        return True
    except _LINK_ERRORS:
        log.warning("group_add %s failed: live delivery degraded", group)
        live.link().report_failure()
        return False


async def group_leave(group: str, channel_name: str) -> None:
    try:
        await get_channel_layer().group_discard(group, channel_name)
    except _LINK_ERRORS:  # Redis forgets subscriptions of a connection it lost
        log.info("group_discard %s failed", group)


def layer_can_fail() -> bool:
    """Whether the channel layer depends on another server (Redis); the in-memory one cannot fail."""
    return not isinstance(get_channel_layer(), InMemoryChannelLayer)


async def new_channel(prefix: str = "specific.") -> str | None:
    """A channel name of this process's layer, or None when the layer is down."""
    try:
        return await get_channel_layer().new_channel(prefix)
    except _LINK_ERRORS:
        log.warning("new_channel failed: live delivery degraded")
        live.link().report_failure()
        return None


async def receive(channel_name: str) -> dict:
    return await get_channel_layer().receive(channel_name)


async def send_to_channel(channel_name: str, message: dict) -> None:
    """Raises on a connection error (the probe of ``live`` wants to know)."""
    await get_channel_layer().send(channel_name, message)


async def layer_check(timeout: float = 2.0) -> bool:
    """True if a message sent through the channel layer comes back (for /healthz)."""
    layer = get_channel_layer()
    channel = None
    try:
        channel = await layer.new_channel("health.")
        await layer.send(channel, {"type": "health.check"})
        received = await asyncio.wait_for(layer.receive(channel), timeout)
        return received.get("type") == "health.check"
    except Exception:
        log.warning("channel layer check failed", exc_info=True)
        return False
    finally:
        if channel is not None:
            await _forget(channel)


async def _forget(channel: str) -> None:
    """Let go of a channel made for one round trip. The layers have no call for it; the pub/sub layer
    unsubscribes and forgets a channel whose receive is cancelled, so that is what this does (a load
    balancer polling /healthz would otherwise leave a subscription behind at every poll)."""
    waiter = asyncio.ensure_future(get_channel_layer().receive(channel))
    await asyncio.sleep(0)
    waiter.cancel()
    try:
        await waiter
    except (asyncio.CancelledError, Exception):
        pass


# --- Chat details: the header and the properties pane (chat/details.py) -----------------------------


def _person(user) -> dict | None:
    return {"id": user.pk, "name": agent_display_name(user)} if user is not None else None


def _block(block, now) -> dict:
    active = block.ended_at is None and block.expires_at > now
    return {"kind": block.kind, "value": block.value, "reason": block.reason, "by": _person(block.created_by),
            "created_at": _time(block.created_at), "expires_at": _time(block.expires_at),
            "ended_at": _time(block.ended_at), "lifted_by": _person(block.lifted_by), "active": active}


def details_frame(d, *, with_star: bool = True) -> dict:
    """Everything the console's header and properties pane show of a chat. Sent as the answer to
    ``chat.details`` (with the asking agent's own ``star`` and the ``choices`` the pane offers) and to
    the chat's agents when any of it changes (without either: a client keeps what it had)."""
    chat, ticket, visitor = d.chat, d.ticket, d.visitor
    now = timezone.now()
    frame = {
        "type": "details",
        "chat": chat.public_id,
        "ticket": {
            "ref": ticket.ref,
            "subject": ticket.subject,
            "status": ticket.status,
            "department": {"id": ticket.department_id, "name": ticket.department.name} if ticket.department_id
            else None,
            "agent": _person(ticket.assigned_agent),
            "requester_name": ticket.requester_name,
            "requester_email": ticket.requester_email,
            "language": ticket.language,
            "created_at": _time(ticket.created_at),
            "resolved_at": _time(ticket.resolved_at),
            "labels": d.labels,
            "rating": {"value": ticket.rating, "comment": ticket.rating_comment, "at": _time(ticket.rated_at)}
            if ticket.rating else None,
            "transcript_emails": [{"to": e.to, "state": e.state, "reason": e.reason, "requested_at":
                                   _time(e.requested_at), "sent_at": _time(e.sent_at), "error": e.last_error}
                                  for e in d.emails],
            "transcript_stored_at": _time(ticket.transcript_stored_at),
            "transcript_skipped": d.transcript_skipped,
        },
        "visitor": {
            "name": visitor.name,
            "email": visitor.email,
            "first_seen": _time(visitor.created_at),
            "last_seen": _time(visitor.last_seen_at),
            "presence": d.presence,
            "ip_address": chat.ip_address,
            "browser": d.device.browser,
            "os": d.device.os,
            "device": d.device.device,
        },
        "session": {
            "status": chat.status,
            "agent": _person(chat.agent),
            "started_at": _time(chat.started_at),
            "accepted_at": _time(chat.accepted_at),
            "ended_at": _time(chat.ended_at),
        },
        "earlier_chats": [{"id": c.public_id, "ticket_ref": c.ticket.ref, "status": c.status,
                           "started_at": _time(c.started_at)} for c in d.earlier],
        "blocks": [_block(b, now) for b in d.blocks],
    }
    if with_star:
        frame["star"] = d.star
    if d.departments or d.agents or d.label_suggestions:
        frame["choices"] = {
            "departments": [{"id": dep.pk, "name": dep.name} for dep in d.departments],
            "agents": [_person(user) for user in d.agents],
            "labels": d.label_suggestions,
        }
    return frame


def publish_details(d) -> None:
    """The chat's details changed (labels, department, assignee, status, rating, transcript email):
    to the agents who have it open."""
    _send_on_commit([chat_agents_group(d.chat.pk)], details_frame(d, with_star=False))


def presence_frame(chat_public_id: str, state: str, last_seen) -> dict:
    """``online``, ``away`` (the page in a background tab) or ``gone`` (no widget open)."""
    return {"type": "presence", "chat": chat_public_id, "state": state, "last_seen": _time(last_seen)}


def publish_presence(chat: Chat, state: str, last_seen) -> None:
    _send_on_commit([chat_agents_group(chat.pk)], presence_frame(chat.public_id, state, last_seen))


def star_frame(chat_public_id: str, colour: str | None) -> dict:
    return {"type": "star", "chat": chat_public_id, "colour": colour}


def publish_star(user_id: int, chat_public_id: str, colour: str | None) -> None:
    """A star is the agent's own: to that agent's consoles only."""
    _send_on_commit([agent_user_group(user_id)], star_frame(chat_public_id, colour))


def assigned_frame(chat: Chat, by_name: str) -> dict:
    return {"type": "chat.assigned", "chat": chat_for_agent(chat), "by": by_name}


def publish_assigned(chat: Chat, agent_id: int, by_name: str) -> None:
    """Notify the agent a chat was assigned or transferred to (their consoles show it at once)."""
    _send_on_commit([agent_user_group(agent_id)], assigned_frame(chat, by_name))


def rated_frame(chat_public_id: str, rating: str, comment: str) -> dict:
    return {"type": "chat.rated", "chat": chat_public_id, "rating": rating, "comment": comment}


def publish_rated(chat: Chat, rating: str, comment: str) -> None:
    _send_on_commit([chat_agents_group(chat.pk)], rated_frame(chat.public_id, rating, comment))


def transcript_requested_frame(chat_public_id: str, to: str) -> dict:
    return {"type": "transcript.requested", "chat": chat_public_id, "to": to}


def preview_frame(ref: str, html: str) -> dict:
    """The answer to ``message.preview``: the draft's HTML as a sent message would have it."""
    return {"type": "preview", "ref": ref, "html": html}
