"""Which pages may open the websockets: origins are matched exactly, scheme, host and port.

A browser sends the page's origin with every websocket handshake, and the session cookie with it, so
the agent socket must refuse every page but the helpdesk's own, or any site could read the queue
through an agent's browser (cross-site websocket hijacking). "Own" means the origin the helpdesk is
reached at in this very request (the scheme of the connection, or of the TLS proxy in front of it when
``SECURE_PROXY_SSL_HEADER`` says so, and the ``Host`` it was asked for, which must be in
``ALLOWED_HOSTS``), plus any origin in ``CSRF_TRUSTED_ORIGINS``. A page on another port or scheme of the
same host is another origin.

The visitor socket also takes the sites of ``CHAT_EMBED_ORIGINS`` (exactly; ``*`` takes any page), for
embedders who script the visitor protocol from their own pages; the widget itself connects from its
iframe, which the helpdesk serves.
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": "80", "https": "443"}


def normalize(origin: str) -> str | None:
    """``scheme://host[:port]`` in lower case without the scheme's default port; None if it is not an
    http(s) origin (``null``, a path, credentials, garbage)."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if port is None or str(port) == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _secure(scope) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, value = proxy
        header = name.lower().removeprefix("http_").replace("_", "-").encode()
        forwarded = _header(scope, header)
        return forwarded is not None and forwarded.split(",")[0].strip() == value
    return False


def request_origin(scope) -> str | None:
    """The origin this request reached the helpdesk at, if its Host is one of ours."""
    host = _header(scope, b"host")
    if not host:
        return None
    domain, _ = split_domain_port(host)
    hosts = list(settings.ALLOWED_HOSTS) or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    if not domain or not validate_host(domain, hosts):
        return None
    return normalize(f"{'https' if _secure(scope) else 'http'}://{host}")


def own_origins(scope) -> set[str]:
    origins = {normalize(o) for o in settings.CSRF_TRUSTED_ORIGINS if "*" not in o}
    origins.add(request_origin(scope))
    return origins - {None}


class ExactOriginValidator:
    """Refuses the handshake (HTTP 403) unless the page's origin is allowed for this socket."""

    def __init__(self, application, *, embedders: bool):
        self.application = application
        self.embedders = embedders

    def allowed(self, scope) -> bool:
        raw = _header(scope, b"origin")
        if self.embedders and "*" in settings.CHAT_EMBED_ORIGINS:
            return True
        origin = normalize(raw) if raw else None
        if origin is None:
            return False
        if origin in own_origins(scope):
            return True
        return self.embedders and origin in {normalize(o) for o in settings.CHAT_EMBED_ORIGINS}

    async def __call__(self, scope, receive, send):
        if self.allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def visitor_origins(application):
    return ExactOriginValidator(application, embedders=True)


def agent_origins(application):
    return ExactOriginValidator(application, embedders=False)
