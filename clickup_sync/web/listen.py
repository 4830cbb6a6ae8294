"""Listening sockets for our HTTP servers (the service, the demo, the emulator)."""

from __future__ import annotations

import socket


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket (port 0 picks a free one).

    IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the listening
    socket's proto is IPPROTO_TCP. With proto 0, Nagle's algorithm and the client's delayed ACK stall
    every keep-alive response by ~40 ms (measured: 44 ms → 1 ms per request)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
