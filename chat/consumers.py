"""Websocket consumers: thin adapters between sockets and services.

Each frame is parsed by ``protocol.parse``, handed to a service or selector (``calls``) and answered
with a frame from ``events``. Live events from the channel layer arrive as ``frame.forward`` messages
and go to the socket unchanged.

A socket's frames are handled one at a time, in the order they came, by a task of the socket's own, so
that live events reach the socket while a frame waits on the database. Once the socket has closed, the
frames still waiting are dropped (the client sends its outbox again on its next socket); the one being
handled finishes, its write and broadcast together.

Close codes (docs/protocol.md): 4401 not authenticated (agent not logged in, unknown visitor token),
4403 logged in but not an agent, 4429 too many visitor sockets from one address (chat/limits.py).

Every frame is counted against its rate limits (chat/limits.py) before it is acted on; one over a limit
is answered ``rate_limited`` with ``retry_after`` and not acted on.
"""

import asyncio
import json
import logging

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.utils import await_many_dispatch

from . import (
    blocks,
    calls,
    details,
    events,
    limits,
    live,
    permissions,
    presence,
    protocol,
    selectors,
    services,
    ticket_actions,
)
from .calls import db
from .coalesce import LatestOnly
from .errors import Blocked, ChatError, NotFound
from .heartbeat import heartbeat
from .network import client_ip
from .permissions import is_agent

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_BLOCKED = 4451  # the visitor, their address or their network is blocked (docs/protocol.md)
# At most this often a socket's typing events reach the channel layer (the widget sends fewer).
TYPING_INTERVAL = 0.25
# How long a socket keeps the service's verdict on its typing in a chat, unless the chat changes first.
TYPING_RIGHT_SECONDS = 2.0
# An agent socket's rights are read again at least this often, and before any frame when older.
RIGHTS_CACHE_SECONDS = 5
# One resume answer sends at most about this much of messages (then ``more``): well under the bytes a
# socket may have waiting (CHAT_SOCKET_MAX_QUEUED_BYTES), so that a client that reads is never cut.
RESUME_MAX_BYTES = 256 * 1024
# Frames received and not handled yet; past this a frame is refused (``rate_limited``), not queued.
MAX_WAITING_FRAMES = 100
RETRY_AFTER_SECONDS = 1


# Frames that only state what is being typed now: one still waiting is replaced by the next.
DRAFTS = (protocol.VisitorTyping, protocol.AgentTyping)


class Waiting:
    """A frame received and not yet taken by the socket's worker."""

    __slots__ = ("frame", "taken")

    def __init__(self, frame):
        self.frame = frame  # the parsed frame, or the ProtocolError its parsing raised
        self.taken = False


class FrameConsumer(AsyncWebsocketConsumer):
    """Parses frames, dispatches them to ``on_<frame class>`` handlers and turns errors into
    error events. A bad frame never closes the socket."""

    frames: dict = {}
    kind = "visitor"  # or "agent": which rate limits apply (chat/limits.py)

    async def __call__(self, scope, receive, send):
        """Channels' own start, but a socket is accepted while the channel layer is down: it then has
        no channel name until the layer is back (``live``), and is served from the database meanwhile."""
        self.scope = scope
        self.base_send = send
        self.groups = []  # the groups this socket belongs in, joined or (while degraded) to join
        self.typing_rights: dict[str, tuple[float, object]] = {}  # chat ID -> (until, TypingRight or ChatError)
        self.closed = False
        self.inbox: asyncio.Queue[Waiting] = asyncio.Queue()
        self.inbox_tail: Waiting | None = None  # the frame queued last, while it waits
        self.worker: asyncio.Task | None = None
        self.link = live.link()
        self.limits = limits.SocketLimits(scope, self.kind)
        self.allowance: limits.Allowance | None = None  # what the frame being handled may still take
        self.channel_name = await events.new_channel()
        self.link.register(self)
        try:
            await await_many_dispatch([receive, self._layer_receive], self.dispatch)
        except StopConsumer:
            pass
        finally:
            self.link.unregister(self)

    async def _layer_receive(self):
        while self.channel_name is None:
            await self.link.wait_up()
            self.channel_name = await events.new_channel()
            if self.channel_name is not None:
                await self.relink()
        return await events.receive(self.channel_name)

    async def dispatch(self, message):
        """Channels' dispatch closes old database connections before every handler, a hop to the
        database thread even for a forwarded event. Our database calls go through ``db``, which
        closes them before and after, so handlers run directly."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- frames from the socket ---

    async def receive(self, text_data=None, bytes_data=None):
        """Parse the frame as it arrives and queue it for the worker, which answers frames in order.
        A draft (``typing``) replaces the draft for the same chat still waiting at the end of the
        queue, so that a burst of keystrokes takes one place, never the places of real frames."""
        if self.closed:
            return
        try:
            frame = protocol.parse(text_data, self.frames)
        except protocol.ProtocolError as refused:
            frame = refused
        tail = self.inbox_tail
        if (isinstance(frame, DRAFTS) and tail is not None and not tail.taken and type(tail.frame) is type(frame)
                and tail.frame.chat == frame.chat):
            tail.frame = frame
            return
        if self.inbox.qsize() >= MAX_WAITING_FRAMES:
            about = frame.about if isinstance(frame, protocol.ProtocolError) else frame
            await self.send_frame(events.error("rate_limited", "Too many frames at once. Wait for the answers "
                                               "before you send more.", about=about,
                                               retry_after=RETRY_AFTER_SECONDS))
            return
        self.inbox_tail = waiting = Waiting(frame)
        self.inbox.put_nowait(waiting)
        if self.worker is None:
            self.worker = asyncio.ensure_future(self._handle_inbox())

    async def _handle_inbox(self):
        while not self.closed:
            waiting = await self.inbox.get()
            waiting.taken = True
            if self.closed:
                break
            await self.handle_frame(waiting.frame)

    async def handle_frame(self, frame):
        """Act on one parsed frame (or answer the ``ProtocolError`` its parsing raised)."""
        try:
            if isinstance(frame, protocol.ProtocolError):
                raise frame
            self.check_ready(frame)
            self.allowance = await self.limits.check(frame)
            handler = getattr(self, f"on_{type(frame).__name__.lower()}")
            await handler(frame)
        except protocol.ProtocolError as exc:
            about = exc.about if exc is frame else frame  # a frame that did not parse: what could be read of it
            await self.send_frame(events.error(exc.code, exc.message, about=about))
        except Blocked as exc:
            await self.refuse_blocked(exc.until)
        except ChatError as exc:
            await self.send_frame(events.error(exc.code, exc.message, about=frame,
                                               retry_after=getattr(exc, "retry_after", None)))
        except calls.CONNECTION_ERRORS:
            log.warning("database unavailable for a frame", exc_info=True)
            await self.send_frame(events.error(
                "unavailable", "The chat is briefly unavailable. Please try again in a moment.", about=frame,
                retry_after=RETRY_AFTER_SECONDS))
        except Exception:
            log.exception("frame handling failed")
            await self.send_frame(events.error("internal", "Something went wrong on our side. Please try again.",
                                               about=frame))

    def check_ready(self, frame) -> None:
        """Raise ``ProtocolError`` if this frame cannot be taken yet."""

    async def refuse_blocked(self, until) -> None:
        """Say so, and close with 4451: nothing this socket sends can be taken now. Frames still
        waiting are not acted on."""
        if self.closed:
            return
        await self.send_frame(events.blocked_frame(until))
        self.closed = True
        await self.close(code=CLOSE_BLOCKED)

    async def send_frame(self, frame: dict) -> None:
        await self.send_text(json.dumps(frame, separators=(",", ":")))

    async def send_text(self, text: str) -> None:
        if not self.closed:
            await self.send(text_data=text)

    async def call_service(self, func, /, **kwargs):
        """Run a service; the broadcasts it commits go out from the event loop once it returns."""
        return await calls.service(func, sender=self.channel_name, **kwargs)

    # --- the socket closes ---

    async def websocket_disconnect(self, message):
        self.closed = True
        if self.worker is not None:
            self.worker.cancel()  # a write under way still finishes (calls.service)
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def disconnect(self, code):
        if hasattr(self, "typing"):
            self.typing.cancel()
        await self.leave_all()

    # --- typing: the service's verdict, kept for a moment ---

    async def typing_right(self, chat: str, check, **kwargs):
        """The service's answer to "may this socket's typing go to this chat, and how", asked again
        after TYPING_RIGHT_SECONDS or as soon as the chat's state changes (drafts come twice a second:
        not every one is worth a trip to the database). A refusal is kept as long."""
        now = asyncio.get_running_loop().time()
        known = self.typing_rights.get(chat)
        if known is None or known[0] <= now:
            try:
                known = (now + TYPING_RIGHT_SECONDS, await db(check)(**kwargs))
            except ChatError as refused:
                known = (now + TYPING_RIGHT_SECONDS, refused)
            self.typing_rights[chat] = known
        if isinstance(known[1], ChatError):
            raise known[1]
        return known[1]

    # --- live events ---

    async def frame_forward(self, event: dict) -> None:
        """A live event for this socket, as JSON text. Not sent back to the socket whose request
        made it (``skip``): that one has its answer already."""
        if "state_of" in event:
            self.typing_rights.pop(event["state_of"], None)
        if self.closed or (event.get("skip") == self.channel_name and self.channel_name is not None):
            return
        await self.send(text_data=event["text"])

    def live_changed(self, state: str) -> None:
        """Live delivery in this process went down or came back (``live``)."""
        if not self.closed and self.greeted:
            asyncio.ensure_future(self.send_frame(events.live_frame(state)))

    greeted = False  # the socket has its welcome, which carries the live state; changes come as frames

    async def relink(self) -> None:
        """Join every group again once the layer is back (those joined before are kept by Redis)."""
        if self.channel_name is None:
            return
        for group in list(self.groups):
            await events.group_join(group, self.channel_name)

    async def join(self, group: str) -> None:
        if group not in self.groups:
            self.groups.append(group)
        if self.channel_name is not None:
            await events.group_join(group, self.channel_name)

    async def leave(self, group: str) -> None:
        if group in self.groups:
            self.groups.remove(group)
        if self.channel_name is not None:
            await events.group_leave(group, self.channel_name)

    async def leave_all(self) -> None:
        for group in list(self.groups):
            await self.leave(group)

    async def send_history(self, chat, after_seq: int, chat_frame: dict, *, for_agent: bool = False,
                           allowance: limits.Allowance | None = None) -> None:
        """The chat's state, then every stored event after ``after_seq`` up to the chat's seq as read,
        then ``resumed``: the client has everything up to its ``last_seq``. Agents also get the
        visitor's pages and the receipts of messages they already have. With an ``allowance`` (the
        answer to a resume frame) the messages stop at the bytes it has left, which it is told of."""
        max_bytes = RESUME_MAX_BYTES if allowance is None else min(RESUME_MAX_BYTES, allowance.bytes_left)
        await self.send_frame(chat_frame)
        page = await db(selectors.chat_history)(chat, after_seq, for_agent=for_agent)
        if for_agent:
            await self.send_frame(events.pages_frame(chat.public_id, page.journey))
        up_to, more, sent = page.up_to, page.more, 0
        for index, message in enumerate(page.messages):
            if sent >= max_bytes:  # the rest in the next answer, asked for from the last one sent
                up_to, more = page.messages[index - 1].seq, True
                break
            text = json.dumps(events.message_frame(message, chat.public_id), separators=(",", ":"))
            await self.send_text(text)
            sent += len(text)
        receipts = [m for m in page.receipts if m.receipt_seq <= up_to]
        if receipts:
            await self.send_frame(events.receipt_frame(chat.public_id, max(m.receipt_seq for m in receipts), receipts))
        await self.send_frame(events.resumed(chat.public_id, up_to, more=more))
        if allowance is not None:
            await allowance.spend(sent)

    async def on_ping(self, frame):
        await self.send_frame(events.pong())


class VisitorConsumer(FrameConsumer):
    """``/ws/visitor/``: the widget. The first frame is ``hello``, with the visitor's token if it
    has one; a visitor only ever reaches their own chats."""

    frames = protocol.VISITOR_FRAMES

    async def connect(self):
        self.visitor = None
        self.ip = client_ip(self.scope)
        self.chats: dict[str, int] = {}  # chats this socket has shown to be the visitor's: chat ID -> pk
        self.typing = LatestOnly(self._send_typing, TYPING_INTERVAL)
        await self.accept()

    def check_ready(self, frame) -> None:
        if self.visitor is None and not isinstance(frame, protocol.Hello):
            raise protocol.ProtocolError("hello_required", "Send 'hello' first.")

    async def on_hello(self, frame: protocol.Hello):
        if self.visitor is not None:
            raise protocol.ProtocolError("invalid", "Already said hello.")
        token = visitor = None
        if frame.token:
            visitor = await db(selectors.visitor_by_token)(frame.token)
            if visitor is None:
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
        if not await limits.blocked_hello_room(self.ip):  # a blocked address trying again and again
            await self.close(code=limits.CLOSE_TOO_MANY)
            self.closed = True
            return
        verdict = await db(blocks.hello_check)(visitor_id=visitor.pk if visitor else None,
                                               email=visitor.email if visitor else None, ip=self.ip)
        if verdict.block is not None:  # refused before a new visitor is made: not one per reconnect
            await limits.blocked_hello_count(self.ip)
            await self.refuse_blocked(verdict.block.expires_at)
            return
        if visitor is None:
            visitor, token = await self.call_service(services.visitor_register, language=frame.language)
        self.visitor = visitor
        self.limits.person = visitor.pk
        await self.join(events.visitor_group(visitor.pk))
        await self.join(events.VISITORS_GROUP)
        if verdict.network:
            await self.join(events.network_group(verdict.network))
        chat, departments, typing_preview = await db(selectors.visitor_start_state)(visitor.pk)
        if chat is not None:
            await self.enter_chat(chat.public_id, chat.pk)
        self.greeted = True
        await self.send_frame(events.welcome(token=token, visitor=visitor, departments=departments, chat=chat,
                                             typing_preview=typing_preview, live=self.link.state))
        # Counted before any later frame of this socket is handled (its `presence` among them), then
        # seen with this process's other sockets (chat/heartbeat.py) while it stays.
        self.arrived = await self._presence(presence.visitor_arrived, visitor_id=visitor.pk)
        heartbeat().register(visitor.pk)
        self.beating = True

    # --- presence: online, away (page hidden), gone ---

    arrived = False  # this socket is in the visitor's count of open sockets
    beating = False  # and in this process's heartbeat
    tab_hidden = False  # this socket's page is in a background tab, as it said last

    async def _presence(self, func, **kwargs) -> bool:
        try:
            await self.call_service(func, **kwargs)
            return True
        except Exception:  # presence is a courtesy: the database away must not end the socket
            log.warning("could not record a visitor's presence", exc_info=True)
            return False

    async def on_presence(self, frame: protocol.Presence):
        """Not answered: like typing, it is a state, not a request. Counted once per change of this
        socket's own state, so that one tab in front keeps the visitor online."""
        if not self.arrived or frame.hidden == self.tab_hidden:
            return
        await self.call_service(presence.visitor_hidden, visitor_id=self.visitor.pk, hidden=frame.hidden)
        self.tab_hidden = frame.hidden

    async def disconnect(self, code):
        if self.beating:
            self.beating = False
            heartbeat().unregister(self.visitor.pk)
        if self.arrived:
            self.arrived = False
            await self._presence(presence.visitor_left, visitor_id=self.visitor.pk, hidden=self.tab_hidden)
        await super().disconnect(code)

    # --- after the chat: rating, the transcript again ---

    async def on_chatrate(self, frame: protocol.ChatRate):
        await self.call_service(ticket_actions.chat_rate, chat_public_id=frame.chat, visitor_id=self.visitor.pk,
                                rating=frame.rating, comment=frame.comment)
        await self.send_frame(events.rated_frame(frame.chat, frame.rating, frame.comment.strip()))

    async def on_transcriptrequest(self, frame: protocol.TranscriptRequest):
        to = await self.call_service(ticket_actions.transcript_request, chat_public_id=frame.chat,
                                     visitor_id=self.visitor.pk)
        await self.send_frame(events.transcript_requested_frame(frame.chat, to))

    async def on_chatstart(self, frame: protocol.ChatStart):
        rendered = await calls.rendered(services.Actor.for_visitor(self.visitor.pk), frame.text)
        result = await self.call_service(services.chat_start,
            visitor_id=self.visitor.pk, name=frame.name, email=frame.email, department_id=frame.department,
            text=frame.text, client_id=frame.client_id, ip_address=self.ip,
            user_agent=_header(self.scope, b"user-agent"), rendered=rendered,
        )
        await self.enter_chat(result.chat.public_id, result.chat.pk)
        await self.send_frame(events.chat_frame_for_visitor(result.chat))
        await self.send_frame(events.message_ack(result.message, result.chat.public_id, duplicate=result.duplicate))

    async def on_messagesend(self, frame: protocol.MessageSend):
        self.typing.drop()  # the draft is now a message: a late draft must not show it again
        actor = services.Actor.for_visitor(self.visitor.pk)
        result = await self.call_service(services.message_post,
            chat_public_id=frame.chat, actor=actor, client_id=frame.client_id, text=frame.text,
            rendered=await calls.rendered(actor, frame.text), ip=self.ip,
        )
        await self.send_frame(events.message_ack(result.message, result.chat.public_id, duplicate=result.duplicate))

    async def on_chatend(self, frame: protocol.ChatEnd):
        chat = await self.call_service(services.chat_end,
            chat_public_id=frame.chat, actor=services.Actor.for_visitor(self.visitor.pk)
        )
        await self.send_frame(events.chat_frame_for_visitor(chat))

    async def on_resume(self, frame: protocol.Resume):
        chat = await db(selectors.visitor_chat)(self.visitor.pk, frame.chat)
        if chat is None:
            raise NotFound("No such chat.")
        await self.enter_chat(chat.public_id, chat.pk)
        await self.send_history(chat, frame.after_seq, events.chat_frame_for_visitor(chat), allowance=self.allowance)

    async def enter_chat(self, chat_public_id: str, chat_pk: int) -> bool:
        """Receive this chat's messages from now on. False if the socket had it already."""
        if chat_public_id in self.chats:
            return False
        self.chats[chat_public_id] = chat_pk
        await self.join(events.chat_group(chat_pk))
        return True

    async def visitor_blocked(self, event: dict) -> None:
        """``visitor.blocked``: an agent blocked this visitor, their address or this socket's network."""
        if self.closed:
            return
        await self.send_text(event["text"])
        self.closed = True
        await self.close(code=CLOSE_BLOCKED)

    async def frame_forward(self, event: dict) -> None:
        """A chat's state. If it is a chat this socket did not have (another tab started it), join it
        and send what was said before the join."""
        join = event.get("join")
        if join is None or event.get("skip") == self.channel_name or not await self.enter_chat(
                join["chat"], join["chat_pk"]):
            await super().frame_forward(event)
            return
        chat = await db(selectors.visitor_chat)(self.visitor.pk, join["chat"])
        if chat is not None:
            await self.send_history(chat, 0, events.chat_frame_for_visitor(chat))

    async def on_visitortyping(self, frame: protocol.VisitorTyping):
        """Checked by the service (their chat, not ended, the preview setting as it is now), forwarded
        to the chat's agents, coalesced, never stored."""
        right = await self.typing_right(frame.chat, services.typing_check_visitor,
                                        visitor_id=self.visitor.pk, chat_public_id=frame.chat)
        text = frame.text if right.preview else (None if frame.text else "")
        await self.typing.push((right.chat_pk, frame.chat, text))

    async def _send_typing(self, value) -> None:
        chat_pk, chat_public_id, text = value
        await events.send_visitor_typing(chat_pk, chat_public_id, text)

    async def on_receipt(self, frame: protocol.Receipt):
        await self.call_service(services.messages_mark,
            chat_public_id=frame.chat, visitor_id=self.visitor.pk,
            delivered_up_to=frame.delivered_up_to, read_up_to=frame.read_up_to,
        )

    async def on_pageviewreport(self, frame: protocol.PageViewReport):
        await self.call_service(services.page_view_record,
            visitor_id=self.visitor.pk, url=frame.url, title=frame.title
        )


class AgentConsumer(FrameConsumer):
    """``/ws/agent/``: the console. Session-authenticated; the user must hold the agent permission."""

    frames = protocol.AGENT_FRAMES
    kind = "agent"

    async def connect(self):
        self.watched: dict[str, tuple[int, int]] = {}  # chat ID -> (pk, visitor pk)
        self.typing = LatestOnly(self._send_typing, TYPING_INTERVAL)
        self.authorized = False
        self.user = self.scope.get("user")
        await self.accept()
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await db(is_agent)(self.user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.authorized = True
        self.limits.person = self.user.pk
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        self.rights_checked_at = asyncio.get_running_loop().time()
        self.rights_watch = asyncio.ensure_future(self._recheck_rights_periodically())
        self.display_name = services.Actor.for_agent(self.user).display_name
        await self.join(events.agent_user_group(self.user.pk))
        await self.join(events.AGENTS_GROUP)
        queue, stars = await db(selectors.agent_start_state)(self.user.pk)
        can_block = await db(blocks.may_block)(self.user)
        self.greeted = True
        await self.send_frame(events.agent_welcome(user=self.user, queue=queue, stars=stars, live=self.link.state,
                                                   can_block=can_block))

    def check_ready(self, frame) -> None:
        if not self.authorized:
            raise protocol.ProtocolError("forbidden", "Log in as an agent first.")

    # --- rights follow the user ---

    async def handle_frame(self, frame):
        """No frame is acted on with rights older than RIGHTS_CACHE_SECONDS."""
        if self.authorized and asyncio.get_running_loop().time() - self.rights_checked_at > RIGHTS_CACHE_SECONDS:
            await self.check_rights()
        if self.closed:
            return
        await super().handle_frame(frame)

    async def check_rights(self) -> None:
        """Close the socket if the user logged out, was deactivated or lost the agent permission."""
        verdict = await db(permissions.agent_rights)(self.user.pk, self.session_key)
        self.rights_checked_at = asyncio.get_running_loop().time()
        if verdict is None or self.closed:
            return
        self.authorized = False
        self.closed = True  # frames still waiting are not acted on
        log.info("closing agent socket of user %s: %s", self.user.pk, verdict)
        await self.close(code=CLOSE_FORBIDDEN if verdict == permissions.NOT_AGENT else CLOSE_UNAUTHENTICATED)

    async def _recheck_rights_periodically(self) -> None:
        while not self.closed:
            await asyncio.sleep(RIGHTS_CACHE_SECONDS)
            try:
                await self.check_rights()
            except Exception:  # the database away: the next frame or tick asks again
                log.warning("could not check an agent's rights", exc_info=True)

    async def rights_check(self, event) -> None:
        """``rights.check`` from chat.rights: this user's rights may have just changed."""
        if self.authorized:
            await self.check_rights()

    async def disconnect(self, code):
        if getattr(self, "rights_watch", None) is not None:
            self.rights_watch.cancel()
        await super().disconnect(code)

    async def on_chatwatch(self, frame: protocol.ChatWatch):
        chat = await db(selectors.agent_chat)(frame.chat)
        if chat is None:
            raise NotFound("No such chat.")
        # Join before reading history, so that an event committed in between is not missed
        # (it may then arrive twice; clients drop a seq they already have).
        await self.watch(chat)
        await self.send_history(chat, frame.after_seq, events.chat_frame_for_agent(chat), for_agent=True,
                                allowance=self.allowance)

    async def watch(self, chat) -> None:
        if chat.public_id in self.watched:
            return
        await self.join(events.chat_group(chat.pk))
        await self.join(events.chat_agents_group(chat.pk))
        self.watched[chat.public_id] = (chat.pk, chat.visitor_id)

    async def on_chatunwatch(self, frame: protocol.ChatUnwatch):
        await self.unwatch(frame.chat)

    async def unwatch(self, chat_public_id: str) -> None:
        watched = self.watched.pop(chat_public_id, None)
        if watched is not None:
            await self.leave(events.chat_group(watched[0]))
            await self.leave(events.chat_agents_group(watched[0]))

    async def on_chataccept(self, frame: protocol.ChatAccept):
        chat = await db(selectors.agent_chat)(frame.chat)
        if chat is None:
            raise NotFound("No such chat.")
        # Watch first, so that the "joined" note the service broadcasts reaches this socket too.
        was_watching = chat.public_id in self.watched
        await self.watch(chat)
        try:
            chat = await self.call_service(services.chat_accept, chat_public_id=frame.chat, agent=self.user)
        except ChatError:
            if not was_watching:
                await self.unwatch(chat.public_id)
            raise
        await self.send_frame(events.chat_frame_for_agent(chat))

    async def on_agenttyping(self, frame: protocol.AgentTyping):
        """Tells the visitor an agent is typing, if this agent answers the chat; never the text.
        Coalesced, not stored."""
        right = await self.typing_right(frame.chat, services.typing_check_agent,
                                        agent=self.user, chat_public_id=frame.chat)
        await self.typing.push((right.visitor_id, frame.chat, frame.active))

    async def _send_typing(self, value) -> None:
        visitor_id, chat_public_id, active = value
        await events.send_agent_typing(visitor_id, chat_public_id, active, self.display_name)

    async def on_messagesend(self, frame: protocol.MessageSend):
        self.typing.drop()
        actor = services.Actor.for_agent(self.user)
        result = await self.call_service(services.message_post,
            chat_public_id=frame.chat, actor=actor, client_id=frame.client_id, text=frame.text,
            rendered=await calls.rendered(actor, frame.text),
        )
        await self.send_frame(events.message_ack(result.message, result.chat.public_id, duplicate=result.duplicate))

    async def on_chatend(self, frame: protocol.ChatEnd):
        chat = await self.call_service(services.chat_end,
            chat_public_id=frame.chat, actor=services.Actor.for_agent(self.user)
        )
        await self.send_frame(events.chat_frame_for_agent(chat))

    # --- the chat header and properties pane: details, labels, stars, department, assignee ---

    async def send_details(self, chat_public_id: str, *, choices: bool = False) -> None:
        """The details with this agent's star; with ``choices`` (what the pane offers) only when the
        whole picture was asked for: the client keeps them across the answers to its changes."""
        found = await db(details.chat_details)(chat_public_id, agent_id=self.user.pk, choices=choices)
        if found is None:
            raise NotFound("No such chat.")
        await self.send_frame(events.details_frame(found))

    async def on_chatdetails(self, frame: protocol.ChatDetails):
        await self.send_details(frame.chat, choices=True)

    async def on_chatlabel(self, frame: protocol.ChatLabel):
        await self.call_service(ticket_actions.chat_label, chat_public_id=frame.chat, agent=self.user,
                                add=frame.add, remove=frame.remove)
        await self.send_details(frame.chat)

    async def on_chatstar(self, frame: protocol.ChatStar):
        colour = await self.call_service(ticket_actions.chat_star, chat_public_id=frame.chat, agent=self.user,
                                         colour=frame.colour)
        await self.send_frame(events.star_frame(frame.chat, colour))

    async def on_chatdepartment(self, frame: protocol.ChatDepartment):
        await self.call_service(ticket_actions.chat_department, chat_public_id=frame.chat, agent=self.user,
                                department_id=frame.department)
        await self.send_details(frame.chat)

    async def on_chatassign(self, frame: protocol.ChatAssign):
        await self.call_service(ticket_actions.chat_assign, chat_public_id=frame.chat, agent=self.user,
                                to_agent_id=frame.agent)
        await self.send_details(frame.chat)

    async def on_messagepreview(self, frame: protocol.MessagePreview):
        """The reply box's preview: the server's own renderer, off the database thread, nothing stored.
        A text past the formatting limits is refused as sending it would be."""
        html = await calls.preview(services.Actor.for_agent(self.user), frame.text)
        await self.send_frame(events.preview_frame(frame.ref, html))

    async def on_visitorblock(self, frame: protocol.VisitorBlock):
        made = await self.call_service(blocks.visitor_block, chat_public_id=frame.chat, agent=self.user,
                                       reason=frame.reason, ip=frame.ip)
        await self.send_frame(events.visitor_blocked_frame(frame.chat, made.until, made.network))

    async def on_transcriptsend(self, frame: protocol.TranscriptSend):
        await self.call_service(ticket_actions.transcript_send, chat_public_id=frame.chat, agent=self.user)
        await self.send_details(frame.chat)


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""
