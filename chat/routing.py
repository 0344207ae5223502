from channels.auth import AuthMiddlewareStack
from django.urls import path

from .consumers import AgentConsumer, VisitorConsumer
from .limits import sockets_per_address
from .origins import agent_origins, visitor_origins

websocket_urlpatterns = [
    path("ws/visitor/", visitor_origins(sockets_per_address(VisitorConsumer.as_asgi()))),
    path("ws/agent/", agent_origins(AuthMiddlewareStack(AgentConsumer.as_asgi()))),
]
