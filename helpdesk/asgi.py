"""ASGI entry point for daphne: Django views over HTTP, Channels consumers over websockets."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402

http_app = ASGIStaticFilesHandler(django_asgi_app) if settings.SERVE_STATIC else django_asgi_app

from helpdesk import backpressure  # noqa: E402

# A socket that stops reading is closed with 4408 past CHAT_SOCKET_MAX_QUEUED_BYTES, instead of
# daphne holding everything sent to it until the ping timeout.
backpressure.install()

import gc  # noqa: E402

# The app's modules and settings live as long as the process: keep them out of the collector's
# way, and collect the young generation less often (every message makes a few hundred objects).
gc.collect()
gc.freeze()
gc.set_threshold(20_000, 20, 20)

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
