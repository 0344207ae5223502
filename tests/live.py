"""Helpers for consumer tests: a socket client that remembers every frame it has seen."""

import json

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from helpdesk.asgi import application

OWN_ORIGIN = (b"origin", b"http://127.0.0.1")
OWN_HOST = (b"host", b"127.0.0.1")  # a browser's handshake names the host it asks, and the page's origin
TIMEOUT = 5


class Socket:
    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator
        self.seen: list[dict] = []
        self._unread: list[dict] = []

    async def send(self, frame: dict) -> None:
        await self.communicator.send_to(text_data=json.dumps(frame))

    async def send_raw(self, text: str | None = None, data: bytes | None = None) -> None:
        await self.communicator.send_to(text_data=text, bytes_data=data)

    async def next(self) -> dict:
        if self._unread:
            return self._unread.pop(0)
        frame = json.loads(await self.communicator.receive_from(timeout=TIMEOUT))
        self.seen.append(frame)
        return frame

    async def expect(self, type_: str, **fields) -> dict:
        """The next frame of this type whose fields match; frames passed over are kept for later."""
        skipped = []
        try:
            while True:
                frame = await self.next()
                if frame["type"] == type_ and all(_get(frame, k) == v for k, v in fields.items()):
                    return frame
                skipped.append(frame)
        finally:
            self._unread = skipped + self._unread

    async def expect_message(self, **fields) -> dict:
        frame = await self.expect("message", **{f"message.{k}": v for k, v in fields.items()})
        return frame["message"]

    async def nothing(self, timeout: float = 0.3) -> bool:
        """True if no frame is waiting, read or unread."""
        return not self._unread and await self.communicator.receive_nothing(timeout=timeout)

    async def drain(self, timeout: float = 0.3) -> None:
        """Read every frame that arrives within ``timeout`` into ``seen``."""
        while not await self.communicator.receive_nothing(timeout=timeout):
            await self.next()
        self._unread.clear()

    def count(self, type_: str, **fields) -> int:
        return sum(1 for f in self.seen if f["type"] == type_ and all(_get(f, k) == v for k, v in fields.items()))

    async def close(self) -> None:
        await self.communicator.disconnect()

    async def closed_with(self) -> int:
        """The code the server closed the socket with (the consumer is then shut down cleanly)."""
        output = await self.communicator.receive_output(timeout=TIMEOUT)
        assert output["type"] == "websocket.close", output
        await self.communicator.disconnect()
        return output.get("code")


def _get(frame: dict, dotted: str):
    value = frame
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


async def connect(path: str, headers=(OWN_ORIGIN,), app=application) -> Socket:
    headers = list(headers)
    if not any(name == b"host" for name, _ in headers):
        headers.append(OWN_HOST)
    communicator = WebsocketCommunicator(app, path, headers=headers)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected, f"{path} refused the connection"
    return Socket(communicator)


async def visitor(token: str | None = None) -> tuple[Socket, dict]:
    """A visitor socket that has said hello; returns it with the welcome frame."""
    socket = await connect("/ws/visitor/")
    await socket.send({"type": "hello", "token": token} if token else {"type": "hello"})
    return socket, await socket.expect("welcome")


@database_sync_to_async
def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def agent(user) -> tuple[Socket, dict]:
    """An agent socket logged in as ``user``; returns it with the welcome frame."""
    socket = await connect("/ws/agent/", headers=(OWN_ORIGIN, (b"cookie", await session_cookie(user))))
    return socket, await socket.expect("welcome")


async def start_chat(socket: Socket, text="Hello, I need help", client_id="first", **fields) -> dict:
    await socket.send({"type": "chat.start", "name": "Sam Visitor", "email": "sam@example.com", "text": text,
                       "client_id": client_id, **fields})
    return (await socket.expect("chat"))["chat"]
