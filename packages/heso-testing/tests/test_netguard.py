import asyncio
import socket

import pytest

from heso_testing.netguard import NetworkAccessError, guard_sockets, is_loopback


def test_loopback_names_and_addresses():
    assert is_loopback("127.0.0.1")
    assert is_loopback("127.8.9.10")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("10.0.0.1")
    assert not is_loopback("example.com")
    assert not is_loopback("8.8.8.8")


def test_non_loopback_connect_is_refused_and_recorded():
    with guard_sockets() as refused:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            with pytest.raises(NetworkAccessError):
                s.connect(("192.0.2.1", 80))
        finally:
            s.close()
        with pytest.raises(NetworkAccessError):
            socket.getaddrinfo("example.com", 443)
    assert refused == [("192.0.2.1", 80), "example.com"]


def test_loopback_connect_is_allowed():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    with guard_sockets() as refused:
        c = socket.create_connection(("127.0.0.1", port), timeout=2)
        c.close()
    srv.close()
    assert refused == []


def test_asyncio_connections_are_guarded():
    async def attempt():
        await asyncio.open_connection("192.0.2.1", 80)

    with guard_sockets():
        with pytest.raises(NetworkAccessError):
            asyncio.run(attempt())
