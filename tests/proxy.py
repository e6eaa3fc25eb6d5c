"""A TCP proxy the tests control, to make a silently dead path: the sockets
stay open (no FIN, no RST, so TCP keepalive sees nothing) but bytes stop."""

from __future__ import annotations

import socket
import threading
import time


class _Link:
    tracking = False  # the client enabled CLIENT TRACKING on this connection


class FreezingProxy:
    """Forwards 127.0.0.1:<port> to a server; ``freeze()`` holds every byte of
    the connections that enabled client tracking (with ``every_connection``:
    of every connection), in both directions. While the server is down, a
    new connection is accepted and closed at once."""

    def __init__(self, target_port: int, *, every_connection: bool = False) -> None:
        self.target_port = target_port
        self.every_connection = every_connection
        self._frozen = threading.Event()
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def freeze(self) -> None:
        self._frozen.set()

    def thaw(self) -> None:
        self._frozen.clear()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        for sock in self._sockets:
            sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=1)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            self._sockets += [client, server]
            link = _Link()
            link.tracking = self.every_connection
            threading.Thread(target=self._pump, args=(client, server, link, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, link, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, link: _Link, upstream: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if upstream and b"TRACKING" in data:
                    link.tracking = True
                while link.tracking and self._frozen.is_set() and not self._closed.is_set():
                    time.sleep(0.005)
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
