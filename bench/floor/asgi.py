"""ASGI entry point of the floor: the one consumer on every websocket path, and a plain 200 over
HTTP so that the harness can tell the server is up."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.floor.settings")
django.setup()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from .consumers import FloorConsumer  # noqa: E402


async def http_ok(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


application = ProtocolTypeRouter({"http": http_ok, "websocket": FloorConsumer.as_asgi()})
