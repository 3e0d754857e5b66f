"""Refuse every non-loopback network connection made from the test process."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NetworkAccessError(AssertionError):
    """A test tried to reach a non-loopback address."""


def is_loopback(host: Any) -> bool:
    """Whether ``host`` (name or address) is on this machine's loopback."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%", 1)[0]
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0] if isinstance(address, tuple) else address
    if not is_loopback(host):
        raise NetworkAccessError(f"test attempted a non-loopback connection to {address!r}")


@contextmanager
def guard_sockets() -> Iterator[list[Any]]:
    """Patch socket connects (sync and asyncio paths) to allow loopback only.

    Yields the list of refused addresses, so a caller can assert on attempts that a library
    swallowed.
    """
    refused: list[Any] = []
    orig_connect = socket.socket.connect
    orig_connect_ex = socket.socket.connect_ex
    orig_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        try:
            _check(self, address)
        except NetworkAccessError:
            refused.append(address)
            raise
        orig_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        try:
            _check(self, address)
        except NetworkAccessError:
            refused.append(address)
            raise
        return orig_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not is_loopback(host):
            refused.append(host)
            raise NetworkAccessError(f"test attempted to resolve non-loopback host {host!r}")
        return orig_getaddrinfo(host, *args, **kwargs)

    # Patched for the duration (typeshed types ``self`` as ``_socket.socket``).
    socket.socket.connect = connect  # type: ignore[method-assign, assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign, assignment]
    socket.getaddrinfo = getaddrinfo
    try:
        yield refused
    finally:
        socket.socket.connect = orig_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = orig_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = orig_getaddrinfo
