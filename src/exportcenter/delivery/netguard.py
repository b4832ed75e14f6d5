"""SSRF guard for outbound delivery: resolve the host once, refuse internal addresses, pin what was checked.

Refused unless allow-listed in ``settings.webhook_allow_hosts`` (host names, IP addresses or CIDR networks):
private, loopback, link-local, multicast, reserved, unspecified and shared (CGNAT) addresses, and the cloud
metadata endpoints (169.254.169.254, fd00:ec2::254). IPv4-mapped IPv6 addresses are judged by the IPv4
address they carry. The caller connects to the returned address (not to the name again), so a DNS answer
that changes between check and connect (rebinding) cannot reach an internal address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from exportcenter.delivery.base import DeliveryFailure

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
                                ipaddress.ip_address("169.254.170.2"), ipaddress.ip_address("100.100.100.200")})
_SHARED = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True)
class Target:
    """A checked destination: the URL as given, its host, and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str
    path_and_query: str

    @property
    def pinned_url(self) -> str:
        """The URL with the checked address in place of the name (IPv6 in brackets)."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{host}:{self.port}{self.path_and_query}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return shown if self.port == default else f"{shown}:{self.port}"


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DeliveryFailure(f"cannot resolve {host}: {exc.strerror or exc}") from exc
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        if address not in seen:
            seen.append(address)
    return seen


def refusal_reason(address: IPAddress) -> str | None:
    """Why an address is internal, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal_reason(address.ipv4_mapped)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (("is_loopback", "a loopback address"), ("is_link_local", "a link-local address"),
              ("is_multicast", "a multicast address"), ("is_unspecified", "an unspecified address"),
              ("is_reserved", "a reserved address"), ("is_private", "a private address"))
    for attribute, reason in checks:
        if getattr(address, attribute):
            return reason
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if not address.is_global:
        return "not a public address"
    return None


def _allowed(host: str, address: IPAddress, allow: Sequence[str]) -> bool:
    for entry in allow:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == host.lower():
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def check_url(url: str, allow_hosts: Sequence[str], *, resolver: Resolver = system_resolver,
              schemes: Sequence[str] = ("https", "http")) -> Target:
    """Validate ``url`` and pick an address to connect to; raise a permanent DeliveryFailure if refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DeliveryFailure(f"invalid URL {url!r}: {exc}", permanent=True) from exc
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise DeliveryFailure(f"URL scheme {parts.scheme!r} is not allowed; use {' or '.join(schemes)}", permanent=True)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise DeliveryFailure(f"URL {url!r} has no host", permanent=True)
    if parts.username or parts.password:
        raise DeliveryFailure("credentials in the URL are not allowed; use the delivery config", permanent=True)
    port = port or (443 if scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    addresses = [str(literal)] if literal is not None else resolver(host, port)
    if not addresses:
        raise DeliveryFailure(f"{host} resolved to no address")
    chosen: str | None = None
    for text in addresses:
        address = ipaddress.ip_address(text)
        reason = refusal_reason(address)
        if reason and not _allowed(host, address, allow_hosts):
            raise DeliveryFailure(f"refused to connect to {host}: {text} is {reason} "
                                  f"(allow it in settings.webhook_allow_hosts if intended)", permanent=True)
        chosen = chosen or text
    assert chosen is not None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(url=url, scheme=scheme, host=host, port=port, address=chosen, path_and_query=path)
