"""The network a block of an address covers: the address itself for IPv4 (/32), its /64 (the
admin's prefix) for IPv6, where a device's privacy addresses change within the network."""

import ipaddress


def network_of(ip: str, ipv6_prefix: int = 64) -> str | None:
    """``"203.0.113.7/32"``, ``"2001:db8:1:2::/64"``; None for what is not an address. An IPv4 address
    mapped into IPv6 (``::ffff:203.0.113.7``) is the IPv4 address."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.version == 4:
        return f"{address}/32"
    return str(ipaddress.ip_network(f"{address}/{ipv6_prefix}", strict=False))


IPV6_PREFIXES = (48, 56, 64, 128)  # what an admin may choose


def networks_of(ip: str | None) -> list[str]:
    """Every network a block could name that holds ``ip``: for IPv6 one per prefix an admin may
    choose, so that a block made under an earlier setting still counts."""
    first = network_of(ip or "")
    if first is None:
        return []
    if ":" not in first:
        return [first]
    return [network_of(ip, prefix) for prefix in IPV6_PREFIXES]
