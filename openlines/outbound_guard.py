"""The one rule for outbound URLs a user can set (REST connector callbacks, bot webhooks, later integrator
webhooks): no request goes to loopback, private, link-local, reserved, multicast or unspecified addresses
(IPv4-mapped IPv6 forms included) unless `OUTBOUND_ALLOW_PRIVATE_NETWORKS` is on (tests, local development).

The rule is applied twice:
- when the URL is saved (`outbound_url_validate`: a form / API validation error), after resolving the name;
- when a request is sent (`guarded_http_client`): the client's transport resolves the name, checks every
  address and connects to the checked one while TLS (SNI, certificate) and the Host header keep the name.
  A name that resolved to a public address at save time and to an internal one later (DNS rebinding) is
  refused at send time, and there is no second lookup between the check and the connection.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationRefused(httpx.TransportError):
    """An outbound request to a refused address; raised before any connection is made. A subclass of
    httpx's transport errors, so callers' existing `except httpx.HTTPError` handlers report it."""


class DestinationUnresolved(DestinationRefused):
    """The URL's host name does not resolve."""


def _system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


# Tests replace this to resolve names without DNS.
resolver: Callable[[str, int], list[str]] = _system_resolve


def private_networks_allowed() -> bool:
    return bool(getattr(settings, "OUTBOUND_ALLOW_PRIVATE_NETWORKS", False))


def address_refused(address: IPAddress) -> bool:
    """Is this address one no user-set URL may reach (anything but the public internet)?"""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return address_refused(mapped)
        if address in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64 of an IPv4 address
            return address_refused(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global
    )


def destination_resolve(host: str, port: int) -> str:
    """The address to connect to for `host`: every address the name resolves to must be allowed (a name
    with one internal address among public ones is refused). Raises DestinationRefused."""
    host = host.strip("[]")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            resolved = resolver(host, port)
        except (OSError, UnicodeError) as error:
            raise DestinationUnresolved(f"The host name {host!r} could not be resolved.") from error
        addresses = [ipaddress.ip_address(raw.split("%", 1)[0]) for raw in resolved]
    if not addresses:
        raise DestinationUnresolved(f"The host name {host!r} could not be resolved.")
    if not private_networks_allowed() and any(address_refused(a) for a in addresses):
        raise DestinationRefused(f"The address of {host!r} is in a private or reserved network.")
    return str(addresses[0])


def outbound_url_validate(url: str) -> None:
    """Save-time check of a user-set outbound URL: a ValidationError (one message) when its host is refused
    or cannot be resolved. The URL's syntax is checked by the caller's own validator."""
    if private_networks_allowed():
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise ValidationError(_("Enter a valid URL.")) from error
    try:
        destination_resolve(host, port)
    except DestinationUnresolved as error:
        raise ValidationError(_("The host name of this URL could not be resolved.")) from error
    except DestinationRefused as error:
        raise ValidationError(
            _("This URL points to a private, local or reserved network address, which is not allowed.")
        ) from error


class _GuardedBackend(httpcore.SyncBackend):
    """Connects to the address `destination_resolve` checked; httpcore keeps the URL's name for TLS."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        address = destination_resolve(host, port)
        return super().connect_tcp(
            address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )


def guarded_transport() -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx does not take a network backend; its pool does. Same defaults as the transport built above.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(), network_backend=_GuardedBackend()
    )
    return transport


def guarded_http_client(*, timeout: float | httpx.Timeout, **options: Any) -> httpx.Client:
    """An httpx client for user-set URLs: the address rule at connection time, no redirects, no proxies
    from the environment (a proxy would connect on our behalf without the check)."""
    return httpx.Client(
        transport=guarded_transport(), timeout=timeout, follow_redirects=False, trust_env=False, **options
    )
