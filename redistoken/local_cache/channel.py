"""The tracking channel: one RESP3 connection per process on which Redis
pushes an ``invalidate`` message for every write under the store's prefix,
read by a listener thread that also sends the heartbeats.

It reports what it reads to a :class:`Listener` (the session cache, handed
over by the wiring in :meth:`TrackingChannel.start`), and offers
:meth:`~TrackingChannel.sync` and :meth:`~TrackingChannel.synced_at` for the
cache's request path. Lock order: this channel's ``_read_lock`` is held
while it calls the listener, never the other way round.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from . import resp3

logger = logging.getLogger("redistoken")

#: The tracking connection's name in ``CLIENT LIST``.
CLIENT_NAME = "redistoken-tracking"

_NONBLOCKING_ERRORS = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)

# HELLO rather than PING: its reply also says the server's role, so a
# connection that lands on (or stays on) a replica after a failover is
# refused rather than trusted to hear every write.
_HEARTBEAT = resp3.command("HELLO", "3")


class ChannelLost(Exception):
    """The tracking connection failed; its reason is the message."""


class Listener(Protocol):
    """What the channel tells the cache (see :class:`.cache.SessionCache`)."""

    def invalidate(self, keys: list[bytes]) -> None: ...

    def flush(self) -> None: ...

    def tracking_on(self) -> None: ...

    def tracking_lost(self) -> None: ...


def open_tracking(client: Any, prefix: str, timeout: float) -> tuple[Any, socket.socket, bytearray]:
    """A new connection of ``client``'s pool with ``CLIENT TRACKING ON BCAST
    PREFIX prefix``, its non-blocking socket and the bytes read past the
    reply. Blocks up to ``timeout``, so it runs without any lock held."""
    pool = client.connection_pool
    options = {**pool.connection_kwargs, "protocol": 3, "client_name": CLIENT_NAME}
    connection = pool.connection_class(**options)
    connection.connect()  # HELLO 3, AUTH, CLIENT SETNAME: request/response only
    sock = connection._sock  # redis-py has no public accessor; reads are ours from here
    buffer = bytearray()
    try:
        sock.sendall(resp3.command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", prefix))
        deadline = time.monotonic() + timeout
        reply = None
        while reply is None:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                raise ChannelLost("closed during CLIENT TRACKING")
            buffer += chunk
            try:
                reply, end = resp3.parse(buffer, 0)
            except resp3.Incomplete:
                continue
            del buffer[:end]
        if isinstance(reply, resp3.ErrorReply):
            raise ChannelLost(f"CLIENT TRACKING refused: {reply.decode(errors='replace')}")
        sock.setblocking(False)
    except BaseException:
        connection.disconnect()
        raise
    return connection, sock, buffer


class TrackingChannel:
    """The tracking connection, its heartbeats and its listener thread.

    A heartbeat goes out every ``max_staleness / 3``; the send time of the
    latest one whose reply has been read is :meth:`synced_at`. An unanswered
    heartbeat older than ``reconnect_after`` means a dead path: reconnect.

    Longer than most classes here (about 180 lines) for a reason: all of its
    state is the one connection's, guarded by one lock that the listener
    thread and the request threads take in turn; split in two, each half
    would reach into the other's state under the other's lock.
    """

    def __init__(
        self, prefix: str, max_staleness: float, client: Callable[[], Any], *, reconnect_after: float = 1.0
    ) -> None:
        self.prefix = prefix
        self._client = client
        self.heartbeat_interval = max_staleness / 3
        self.reconnect_after = max(reconnect_after, 10 * max_staleness)
        self.connections = 0  # tracking connections made, for tests and stats
        self._listener: Listener | None = None
        # Send time of the latest answered heartbeat; read without a lock.
        self._fresh_sent_at = float("-inf")
        # Guarded by _read_lock: the tracking connection and its stream.
        self._read_lock = threading.Lock()
        self._connection: Any = None
        self._sock: socket.socket | None = None
        self._poller: Any = None  # used under _read_lock only
        self._listen_poller: Any = None  # used by the listener thread only
        self._buffer = bytearray()
        self._pending: deque[float] = deque()  # send times of unanswered heartbeats
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._listen, name=CLIENT_NAME, daemon=True)

    def start(self, listener: Listener) -> None:
        """Start the listener thread, reporting to ``listener``."""
        self._listener = listener
        self._thread.start()

    # -- for the request path --

    def sync(self) -> float:
        """Apply what has already arrived, then :meth:`synced_at`."""
        # Blocking on the lock while the listener holds it hands it the GIL,
        # so a starved listener delays a hit instead of letting it be stale.
        with self._read_lock:
            if self._poller is not None and self._poller.poll(0):
                self._drain()
        return self._fresh_sent_at

    def synced_at(self) -> float:
        """The send time of the latest answered heartbeat (``time.monotonic``;
        -inf when none): every invalidation for a write completed before it
        has been applied."""
        return self._fresh_sent_at

    # -- the connection (under _read_lock) --

    def _install(self, connection: Any, sock: socket.socket, buffer: bytearray) -> None:
        """Start reading a connection on which tracking is on."""
        # poll, not select: a busy process may hold file descriptors past 1024.
        # Two poll objects, as one may not be polled by two threads at once.
        self._poller, self._listen_poller = select.poll(), select.poll()
        self._poller.register(sock, select.POLLIN)
        self._listen_poller.register(sock, select.POLLIN)
        self._connection, self._sock, self._buffer = connection, sock, buffer
        assert self._listener is not None
        self._listener.tracking_on()

    def _disconnect(self, reason: str) -> None:
        """Forget the connection and everything learned through it."""
        self._fresh_sent_at = float("-inf")
        assert self._listener is not None
        self._listener.tracking_lost()
        if self._connection is not None:
            if not self._stopped.is_set():
                logger.warning("redistoken: local cache tracking connection lost (%s); cache flushed", reason)
            self._connection.disconnect()
        self._connection = self._sock = self._poller = self._listen_poller = None
        self._buffer.clear()
        self._pending.clear()

    def _drain(self) -> None:
        """Apply every complete message that has arrived; never blocks."""
        sock = self._sock
        if sock is None:
            return
        try:
            while True:  # until the kernel's (and TLS's) buffers are empty
                try:
                    chunk = sock.recv(65536)
                except _NONBLOCKING_ERRORS:
                    break
                if not chunk:
                    raise ChannelLost("closed by the server")
                self._buffer += chunk
                if len(chunk) < 65536 and not getattr(sock, "pending", lambda: 0)():
                    break
            for message in resp3.take_messages(self._buffer):
                self._handle(message)
        except (ChannelLost, OSError, ValueError) as exc:
            self._disconnect(str(exc) or type(exc).__name__)

    def _handle(self, message: Any) -> None:
        assert self._listener is not None
        if isinstance(message, resp3.Push):
            if message and message[0] == b"invalidate":
                keys = message[1] if len(message) > 1 else None
                if keys is None:
                    self._listener.flush()  # FLUSHDB, FLUSHALL: everything
                else:
                    self._listener.invalidate(keys)
            return
        if not isinstance(message, list) or not self._pending:
            raise ChannelLost("unexpected reply on the tracking connection")
        server = dict(zip(message[::2], message[1::2], strict=True))
        if server.get(b"role") != b"master" or server.get(b"mode") == b"cluster":
            raise ChannelLost("the server is not a standalone primary")
        # Every invalidation sent before this reply has been applied above.
        self._fresh_sent_at = self._pending.popleft()

    def _heartbeat(self) -> None:
        assert self._sock is not None
        sent_at = time.monotonic()
        try:
            if self._sock.send(_HEARTBEAT) != len(_HEARTBEAT):
                raise ChannelLost("send buffer full")
        except _NONBLOCKING_ERRORS as exc:
            raise ChannelLost("send buffer full") from exc
        self._pending.append(sent_at)

    # -- the listener thread --

    def _listen(self) -> None:
        backoff = 0.05
        # Whether the last connection had a heartbeat answered by a primary.
        # A connection that never did (refused, or a replica named during a
        # failover) is retried after a growing pause, not in a tight loop; a
        # working connection that is lost is replaced at once.
        answered = True
        next_heartbeat = 0.0
        while not self._stopped.is_set():
            if self._sock is None:
                if not answered:
                    if self._stopped.wait(backoff):
                        continue
                    backoff = min(1.0, backoff * 2)
                try:
                    timeout = max(1.0, self.reconnect_after)
                    connection, sock, buffer = open_tracking(self._client(), self.prefix, timeout)
                    with self._read_lock:
                        self._install(connection, sock, buffer)
                    if self.connections:
                        logger.info("redistoken: local cache tracking connection restored")
                    self.connections += 1
                    next_heartbeat = 0.0
                except Exception as exc:  # Redis down, auth, refused: try again later
                    logger.warning("redistoken: local cache cannot track (%s); retrying", exc)
                answered = False
                continue
            poller = self._listen_poller
            try:
                if poller is not None:
                    poller.poll(max(0.0, next_heartbeat - time.monotonic()) * 1000)
            except (OSError, ValueError):
                pass  # closed by a request thread that saw it fail: reconnect
            with self._read_lock:
                if self._sock is None or self._stopped.is_set():
                    continue
                self._drain()
                if not answered and self._fresh_sent_at > float("-inf"):
                    answered, backoff = True, 0.05
                now = time.monotonic()
                try:
                    if self._sock is not None and now >= next_heartbeat:
                        self._heartbeat()
                        next_heartbeat = now + self.heartbeat_interval
                    if self._pending and now - self._pending[0] > self.reconnect_after:
                        raise ChannelLost("no heartbeat reply")
                except (ChannelLost, OSError) as exc:
                    self._disconnect(str(exc) or type(exc).__name__)
        with self._read_lock:
            self._disconnect("closed")

    def close(self) -> None:
        """Stop the listener thread; it drops the connection on its way out."""
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join(5)
