"""The floor's one consumer: parse, save one row, group_send, forward to the other member.

Each chat has two groups, one per side (``visitor``, ``agent``); a socket joins its own side's group
and sends to the other side's, so a frame reaches only the other member: no echo to the sender.

Database calls go through ``database_sync_to_async`` like the product's, so they run on the same
single sync thread with the same connection handling (the psycopg pool). The group send happens on
the event loop after the row is committed (autocommit: one statement, one round trip).
"""

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import connection

RESUME_LIMIT = 1000
FORWARD = "frame.forward"

_INSERT = (
    "INSERT INTO floor_message (chat, client_id, text) VALUES (%s, %s, %s) "
    "ON CONFLICT (chat, client_id) DO NOTHING RETURNING id"
)
_EXISTING = "SELECT id FROM floor_message WHERE chat = %s AND client_id = %s"
_AFTER = "SELECT id, client_id, text FROM floor_message WHERE chat = %s AND id > %s ORDER BY id LIMIT %s"


ROLES = {"visitor": "agent", "agent": "visitor"}  # a side, and the other side it sends to


def _group(chat: str, role: str) -> str:
    return f"floor-{chat}-{role}"


def save_message(chat: str, client_id: str, text: str) -> tuple[int, bool]:
    """The row id, and whether this client_id had been stored before (a resend)."""
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, [chat, client_id, text])
        row = cursor.fetchone()
        if row is not None:
            return row[0], False
        cursor.execute(_EXISTING, [chat, client_id])
        return cursor.fetchone()[0], True


def rows_after(chat: str, after: int) -> list[tuple[int, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(_AFTER, [chat, after, RESUME_LIMIT])
        return cursor.fetchall()


def _message(chat: str, row_id: int, client_id: str, text: str) -> dict:
    return {"type": "message", "chat": chat, "message": {"id": row_id, "client_id": client_id, "text": text}}


def _dumps(frame: dict) -> str:
    return json.dumps(frame, separators=(",", ":"))


class FloorConsumer(AsyncWebsocketConsumer):
    role = "visitor"  # until a join says otherwise

    async def receive(self, text_data=None, bytes_data=None):
        try:
            frame = json.loads(text_data)
            await getattr(self, "on_" + frame["type"])(frame)
        except (TypeError, ValueError, KeyError, AttributeError):  # a bad frame must not end the socket
            await self.send(text_data=_dumps({"type": "error", "code": "bad_frame"}))

    async def on_send(self, frame: dict) -> None:
        chat, client_id, text = frame["chat"], frame["client_id"], frame["text"]
        row_id, duplicate = await database_sync_to_async(save_message)(chat, client_id, text)
        if not duplicate:
            await self.channel_layer.group_send(_group(chat, ROLES[self.role]), {
                "type": FORWARD, "text": _dumps(_message(chat, row_id, client_id, text)),
            })
        await self.send(text_data=_dumps({"type": "ack", "chat": chat, "client_id": client_id, "id": row_id,
                                          "duplicate": duplicate}))

    async def on_typing(self, frame: dict) -> None:
        chat = frame["chat"]
        await self.channel_layer.group_send(_group(chat, ROLES[self.role]), {
            "type": FORWARD, "text": _dumps({"type": "typing", "chat": chat, "text": frame["text"]}),
        })

    async def on_join(self, frame: dict) -> None:
        chat, self.role = frame["chat"], frame["role"]
        group = _group(chat, self.role)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.append(group)
        await self.send(text_data=_dumps({"type": "joined", "chat": chat}))

    async def on_resume(self, frame: dict) -> None:
        chat, last = frame["chat"], int(frame.get("after", 0))
        rows = await database_sync_to_async(rows_after)(chat, last)
        for row_id, client_id, text in rows:
            await self.send(text_data=_dumps(_message(chat, row_id, client_id, text)))
            last = row_id
        more = len(rows) == RESUME_LIMIT
        await self.send(text_data=_dumps({"type": "resumed", "chat": chat, "last": last, "more": more}))

    async def frame_forward(self, event: dict) -> None:
        await self.send(text_data=event["text"])
