"""Websocket consumers: thin adapters between sockets and services.

Each frame is parsed by ``protocol.parse``, handed to a service or selector through
``database_sync_to_async`` and answered with a frame from ``events``. Live events from the channel
layer arrive as ``frame.forward`` messages and go to the socket unchanged.

Close codes (docs/protocol.md): 4401 not authenticated (agent not logged in, unknown visitor token),
4403 logged in but not an agent.
"""

import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from . import events, protocol, selectors, services
from .errors import ChatError, NotFound
from .network import client_ip
from .permissions import is_agent

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class FrameConsumer(AsyncWebsocketConsumer):
    """Parses frames, dispatches them to ``on_<frame class>`` handlers and turns errors into
    error events. A bad frame never closes the socket."""

    frames: dict = {}

    async def receive(self, text_data=None, bytes_data=None):
        frame = None
        try:
            frame = protocol.parse(text_data, self.frames)
            self.check_ready(frame)
            handler = getattr(self, f"on_{type(frame).__name__.lower()}")
            await handler(frame)
        except (protocol.ProtocolError, ChatError) as exc:
            await self.send_frame(events.error(exc.code, exc.message, client_id=getattr(frame, "client_id", None)))
        except Exception:
            log.exception("frame handling failed")
            await self.send_frame(events.error(
                "internal", "Something went wrong on our side. Please try again.",
                client_id=getattr(frame, "client_id", None),
            ))

    def check_ready(self, frame) -> None:
        """Raise ``ProtocolError`` if this frame cannot be taken yet."""

    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=json.dumps(frame, separators=(",", ":")))

    async def frame_forward(self, event: dict) -> None:
        await self.send(text_data=event["text"])

    async def join(self, group: str) -> None:
        await events.group_join(group, self.channel_name)
        self.groups.append(group)

    async def leave(self, group: str) -> None:
        await events.group_leave(group, self.channel_name)
        if group in self.groups:
            self.groups.remove(group)

    async def disconnect(self, code):
        for group in list(self.groups):
            await events.group_leave(group, self.channel_name)

    async def send_history(self, chat, after_seq: int, chat_frame: dict) -> None:
        """The chat's state, then every stored event after ``after_seq``, then ``resumed``."""
        await self.send_frame(chat_frame)
        history = await database_sync_to_async(selectors.messages_after)(chat.pk, after_seq)
        last = after_seq
        for message in history:
            await self.send_frame(events.message_frame(message, chat.public_id))
            last = message.seq
        await self.send_frame(events.resumed(chat.public_id, last))

    async def on_ping(self, frame):
        await self.send_frame(events.pong())


class VisitorConsumer(FrameConsumer):
    """``/ws/visitor/``: the widget. The first frame is ``hello``, with the visitor's token if it
    has one; a visitor only ever reaches their own chats."""

    frames = protocol.VISITOR_FRAMES

    async def connect(self):
        self.groups = []
        self.visitor = None
        await self.accept()

    def check_ready(self, frame) -> None:
        if self.visitor is None and not isinstance(frame, protocol.Hello):
            raise protocol.ProtocolError("hello_required", "Send 'hello' first.")

    async def on_hello(self, frame: protocol.Hello):
        if self.visitor is not None:
            await self.send_frame(events.error("invalid", "Already said hello."))
            return
        token = None
        if frame.token:
            visitor = await database_sync_to_async(selectors.visitor_by_token)(frame.token)
            if visitor is None:
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
        else:
            visitor, token = await database_sync_to_async(services.visitor_register)(language=frame.language)
        self.visitor = visitor
        await self.join(events.visitor_group(visitor.pk))
        chat, departments = await database_sync_to_async(_visitor_start_state)(visitor.pk)
        await self.send_frame(events.welcome(token=token, visitor=visitor, departments=departments, chat=chat))

    async def on_chatstart(self, frame: protocol.ChatStart):
        result = await database_sync_to_async(services.chat_start)(
            visitor_id=self.visitor.pk, name=frame.name, email=frame.email, department_id=frame.department,
            text=frame.text, client_id=frame.client_id, ip_address=client_ip(self.scope),
            user_agent=_header(self.scope, b"user-agent"),
        )
        await self.send_frame(events.chat_frame_for_visitor(result.chat))
        await self.send_frame(events.message_ack(result.message, result.chat.public_id, duplicate=result.duplicate))

    async def on_messagesend(self, frame: protocol.MessageSend):
        result = await database_sync_to_async(services.message_post)(
            chat_public_id=frame.chat, actor=services.Actor.for_visitor(self.visitor.pk),
            client_id=frame.client_id, text=frame.text,
        )
        await self.send_frame(events.message_ack(result.message, result.chat.public_id, duplicate=result.duplicate))

    async def on_chatend(self, frame: protocol.ChatEnd):
        chat = await database_sync_to_async(services.chat_end)(
            chat_public_id=frame.chat, actor=services.Actor.for_visitor(self.visitor.pk)
        )
        await self.send_frame(events.chat_frame_for_visitor(chat))

    async def on_resume(self, frame: protocol.Resume):
        chat = await database_sync_to_async(selectors.visitor_chat)(self.visitor.pk, frame.chat)
        if chat is None:
            raise NotFound("No such chat.")
        await self.send_history(chat, frame.after_seq, events.chat_frame_for_visitor(chat))


class AgentConsumer(FrameConsumer):
    """``/ws/agent/``: the console. Session-authenticated; the user must hold the agent permission."""

    frames = protocol.AGENT_FRAMES

    async def connect(self):
        self.groups = []
        self.authorized = False
        self.user = self.scope.get("user")
        await self.accept()
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await database_sync_to_async(is_agent)(self.user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.authorized = True
        await self.join(events.AGENTS_GROUP)
        queue = await database_sync_to_async(selectors.agent_queue)(self.user.pk)
        await self.send_frame(events.agent_welcome(user=self.user, queue=queue))

    def check_ready(self, frame) -> None:
        if not self.authorized:
            raise protocol.ProtocolError("unauthenticated", "Log in as an agent first.")

    async def on_chatwatch(self, frame: protocol.ChatWatch):
        chat = await database_sync_to_async(selectors.agent_chat)(frame.chat)
        if chat is None:
            raise NotFound("No such chat.")
        # Join before reading history, so that an event committed in between is not missed
        # (it may then arrive twice; clients drop a seq they already have).
        await self.join(events.chat_agents_group(chat.pk))
        await self.send_history(chat, frame.after_seq, events.chat_frame_for_agent(chat))

    async def on_chatunwatch(self, frame: protocol.ChatUnwatch):
        chat = await database_sync_to_async(selectors.agent_chat)(frame.chat)
        if chat is not None:
            await self.leave(events.chat_agents_group(chat.pk))

    async def on_chataccept(self, frame: protocol.ChatAccept):
        chat = await database_sync_to_async(services.chat_accept)(chat_public_id=frame.chat, agent=self.user)
        await self.join(events.chat_agents_group(chat.pk))
        await self.send_frame(events.chat_frame_for_agent(chat))

    async def on_messagesend(self, frame: protocol.MessageSend):
        result = await database_sync_to_async(services.message_post)(
            chat_public_id=frame.chat, actor=services.Actor.for_agent(self.user),
            client_id=frame.client_id, text=frame.text,
        )
        await self.send_frame(events.message_ack(result.message, result.chat.public_id, duplicate=result.duplicate))

    async def on_chatend(self, frame: protocol.ChatEnd):
        chat = await database_sync_to_async(services.chat_end)(
            chat_public_id=frame.chat, actor=services.Actor.for_agent(self.user)
        )
        await self.send_frame(events.chat_frame_for_agent(chat))


def _visitor_start_state(visitor_id: int):
    return selectors.visitor_current_chat(visitor_id), selectors.departments_on_offer()


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""
