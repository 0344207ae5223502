"""ASGI entry point for daphne: Django views over HTTP, Channels consumers over websockets."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402
from helpdesk import checks  # noqa: E402
from helpdesk.security import StaticFilesHandler  # noqa: E402

# Django's static handler, with nosniff, a CSP and the other headers every page gets.
http_app = StaticFilesHandler(django_asgi_app) if settings.SERVE_STATIC else django_asgi_app

# daphne runs no system checks: say here what `manage.py check` would (DEBUG on a real database,
# no SMTP in production).
checks.log_at_start()

from helpdesk import sweeps  # noqa: E402

# The embedded default has no worker and no beat: its sweeps run on threads of this process.
sweeps.start_if_embedded()

from helpdesk import backpressure  # noqa: E402

# A socket that stops reading is closed with 4408 past CHAT_SOCKET_MAX_QUEUED_BYTES, instead of
# daphne holding everything sent to it until the ping timeout.
backpressure.install()

from helpdesk import upload_guard  # noqa: E402

# A request body past its cap (an upload past the admin's largest file) is cut off as it arrives,
# instead of daphne taking it whole before any view can refuse it.
upload_guard.install()

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
