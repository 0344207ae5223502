"""Which pages may open the websockets.

The widget's iframe is served by the helpdesk, so its socket's Origin is one of our own hosts
(ALLOWED_HOSTS). Sites listed in CHAT_EMBED_ORIGINS may also script the visitor protocol directly.
The agent socket takes our own hosts only.
"""

from channels.security.websocket import OriginValidator
from django.conf import settings


def _own_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]
    return hosts


def visitor_origins(application):
    return OriginValidator(application, _own_hosts() + list(settings.CHAT_EMBED_ORIGINS))


def agent_origins(application):
    return OriginValidator(application, _own_hosts())
