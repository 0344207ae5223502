"""The client's IP address: the connection's peer, or the last address a trusted proxy added to
X-Forwarded-For. A header from anyone else is ignored, since any client can write one."""

import ipaddress

from django.conf import settings


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def resolve_client_ip(peer: str | None, forwarded_for: str | None) -> str | None:
    peer_ip = _valid_ip(peer) if peer else None
    if peer_ip is None:
        return None
    trusted = set(settings.TRUSTED_PROXIES)
    if peer_ip not in trusted or not forwarded_for:
        return peer_ip
    # Walk from the nearest hop back while hops are our own proxies; the first other address is the client.
    for hop in reversed(forwarded_for.split(",")):
        hop_ip = _valid_ip(hop)
        if hop_ip is None:
            return peer_ip
        if hop_ip not in trusted:
            return hop_ip
    return peer_ip


def client_ip(scope) -> str | None:
    """From an ASGI scope (websocket or HTTP)."""
    client = scope.get("client") or (None, None)
    forwarded = None
    for key, value in scope.get("headers", []):
        if key == b"x-forwarded-for":
            forwarded = value.decode("latin-1")
    return resolve_client_ip(client[0], forwarded)
