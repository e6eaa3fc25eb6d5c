"""Opt-in zero-round-trip authentication: a per-process session cache kept
coherent by Redis server-assisted invalidation (``LOCAL_CACHE``).

A dedicated RESP3 connection per process runs ``CLIENT TRACKING ON BCAST
PREFIX <KEY_PREFIX>``, so Redis pushes an ``invalidate`` message on it for
every write under the store's prefix, and a listener thread sends a
heartbeat (``HELLO 3``, whose reply also names the server's role) on it
every ``LOCAL_CACHE_MAX_STALENESS / 3``. Redis writes those pushes into the
connection before the reply to any command it
receives later on it, so a heartbeat sent at local time ``t`` whose reply
has been read proves that every invalidation for a write completed before
``t`` has been applied. A cached session is served only while:

* the channel is fresh: the latest answered heartbeat was sent less than
  ``D = LOCAL_CACHE_MAX_STALENESS`` ago (this also covers a dead path that
  keeps its socket open, a starved listener thread, a lost connection);
* the session's own deadline, kept locally from the read, has not passed
  (Redis sends the invalidation for a TTL expiry only when it deletes the
  key, which may be late; and a session may expire while its hash lives on);
* the session is not due for renewal: the entry lives at most until
  ``last used + RENEW_INTERVAL``, after which the next request goes to Redis
  and the script renews it, as without the cache.

Otherwise the store does its normal round trip and caches the result. So a
revocation of any kind is visible in every process within ``D`` after the
revoking call returns: a hit after that needs a heartbeat sent after the
revocation, whose reply comes after the revocation's invalidation.

A read is registered before it is sent; an invalidation of its key (or a
flush, or a reconnect) while it is in flight stops its result from being
cached. Nothing is cached while tracking is not confirmed on, and "not
found" is never cached. Each process owns its cache (checked by pid), and
the cache holds at most ``LOCAL_CACHE_SIZE`` sessions, least recently used
out. Unsupported (the mode stays off, with an error logged and a system
check): Redis Cluster, whose tracking is per node, and the embedded
fakeredis, which has no client tracking (and no other process to hear from).
A tracking connection to a replica (as after a Sentinel failover, until it
completes) is refused: its heartbeat reply says so.

redis-py's own client-side cache is not used: it needs Redis 7.4, shares
connections between threads in ways that deadlock or steal replies, and has
no heartbeat bound on a silently dead path.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import select
import socket
import ssl
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.core.signals import setting_changed

from .connection import get_client, is_cluster, is_embedded
from .settings import SETTING_NAME, local_cache_problems, token_settings

logger = logging.getLogger("redistoken")

V = TypeVar("V")

#: The tracking connection's name in ``CLIENT LIST``.
CLIENT_NAME = "redistoken-tracking"

_NONBLOCKING_ERRORS = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


# -- a minimal incremental RESP3 reader ----------------------------------------


class _Incomplete(Exception):
    """The buffer ends inside a message; wait for more bytes."""


class _Push(list):  # type: ignore[type-arg]
    """An out-of-band RESP3 push message (``>``)."""


class _ErrorReply(bytes):
    """A RESP3 error reply (``-`` or ``!``)."""


def _parse(buf: bytearray, pos: int) -> tuple[Any, int]:
    """One RESP3 value starting at ``pos``, and the position after it.

    Never blocks and never consumes a partial message: the listener and the
    request threads may read the socket whenever bytes are there.
    """
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete
    kind, line, pos = bytes(buf[pos : pos + 1]), bytes(buf[pos + 1 : end]), end + 2
    if kind in (b"$", b"=", b"!"):  # bulk string, verbatim string, bulk error
        size = int(line)
        if size < 0:
            return None, pos
        if len(buf) < pos + size + 2:
            raise _Incomplete
        data = bytes(buf[pos : pos + size])
        return (_ErrorReply(data) if kind == b"!" else data), pos + size + 2
    if kind in (b"*", b">", b"~", b"%"):  # array, push, set, map (as a flat list)
        count = int(line)
        if count < 0:
            return None, pos
        items: list[Any] = _Push() if kind == b">" else []
        for _ in range(count * 2 if kind == b"%" else count):
            item, pos = _parse(buf, pos)
            items.append(item)
        return items, pos
    if kind == b"_":
        return None, pos
    if kind == b"-":
        return _ErrorReply(line), pos
    return line, pos  # simple string, number, double, boolean: raw


def _command(*args: str) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


# HELLO rather than PING: its reply also says the server's role, so a
# connection that lands on (or stays on) a replica after a failover is
# refused rather than trusted to hear every write.
_HEARTBEAT = _command("HELLO", "3")


class _ChannelLost(Exception):
    """The tracking connection failed; its reason is the message."""


# -- the cache -------------------------------------------------------------------


class _Ticket:
    """A read in flight: caching its result is allowed only while ``valid``."""

    __slots__ = ("tag", "epoch", "started", "valid")

    def __init__(self, tag: str, epoch: int, started: float) -> None:
        self.tag = tag
        self.epoch = epoch
        self.started = started
        self.valid = True


class LocalCache(Generic[V]):
    """Sessions of this process, coherent with Redis within ``max_staleness``.

    Entries are grouped by user tag, as the store's hashes are: a write to
    ``<prefix>{<tag>}`` drops every entry of that tag. Values are opaque here
    (the store caches its ``Session`` objects); the store's ``read`` callback
    says how long a value may live. A token is kept only as its SHA-256.
    """

    def __init__(self, prefix: str, max_staleness: float, size: int, *, reconnect_after: float = 1.0) -> None:
        self.prefix = prefix
        self._hash_head = f"{prefix}{{".encode()
        self.max_staleness = max_staleness
        self.size = size
        self.heartbeat_interval = max_staleness / 3
        # An unanswered heartbeat this old means a dead path: reconnect.
        self.reconnect_after = max(reconnect_after, 10 * max_staleness)
        self.pid = os.getpid()
        self.hits = 0
        self.misses = 0
        self.connections = 0  # tracking connections made, for tests and stats
        # Guarded by _lock: the entries and what may still become one.
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], tuple[bytes, V, float]] = OrderedDict()
        self._sids: dict[str, set[str]] = {}
        self._inflight: dict[str, list[_Ticket]] = {}
        self._epoch = 0  # bumped on every flush; older tickets may not store
        self._tracking = False  # tracking confirmed on the current connection
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
        self._thread.start()

    # -- the request path --

    def lookup(self, tag: str, session_id: str, token: str, read: Callable[[], tuple[V | None, float]]) -> V | None:
        """The cached value, or ``read()``'s, cached for the seconds it returns."""
        digest = hashlib.sha256(token.encode()).digest()
        value = self.get(tag, session_id, digest)
        if value is not None:
            return value
        ticket = self._begin(tag)
        value, lifetime = None, 0.0
        try:
            value, lifetime = read()
        finally:
            self._finish(ticket, session_id, digest, value, lifetime)
        return value

    def get(self, tag: str, session_id: str, digest: bytes) -> V | None:
        """A cached value that may be served now, or None."""
        # Apply what has already arrived rather than wait for the listener.
        # Blocking on the lock while the listener holds it hands it the GIL,
        # so a starved listener delays a hit instead of letting it be stale.
        with self._read_lock:
            if self._poller is not None and self._poller.poll(0):
                self._drain()
        now = time.monotonic()
        if now - self._fresh_sent_at >= self.max_staleness:  # as fresh(), inlined
            return None
        with self._lock:
            entry = self._entries.get((tag, session_id))
            if entry is None or now >= entry[2] or not hmac.compare_digest(entry[0], digest):
                return None
            self._entries.move_to_end((tag, session_id))
            self.hits += 1
            return entry[1]

    def fresh(self) -> bool:
        """True while cached entries may be served: a heartbeat sent less
        than ``max_staleness`` ago has been answered."""
        return time.monotonic() - self._fresh_sent_at < self.max_staleness

    def synced_after(self, moment: float) -> bool:
        """True when every invalidation for a write completed before the
        ``time.monotonic()`` value ``moment`` has been applied here."""
        return self._fresh_sent_at > moment

    def _begin(self, tag: str) -> _Ticket | None:
        started = time.monotonic()  # before the read: the local deadline errs early
        with self._lock:
            self.misses += 1
            if not self._tracking:
                return None
            ticket = _Ticket(tag, self._epoch, started)
            self._inflight.setdefault(tag, []).append(ticket)
            return ticket

    def _finish(self, ticket: _Ticket | None, session_id: str, digest: bytes, value: V | None, lifetime: float) -> None:
        if ticket is None:
            return
        with self._lock:
            tag = ticket.tag
            tickets = self._inflight[tag]
            tickets.remove(ticket)
            if not tickets:
                del self._inflight[tag]
            if value is None or lifetime <= 0 or not ticket.valid or ticket.epoch != self._epoch:
                return
            entries = self._entries
            entries[(tag, session_id)] = (digest, value, ticket.started + lifetime)
            entries.move_to_end((tag, session_id))
            self._sids.setdefault(tag, set()).add(session_id)
            while len(entries) > self.size:
                (old_tag, old_sid), _ = entries.popitem(last=False)
                sids = self._sids[old_tag]
                sids.discard(old_sid)
                if not sids:
                    del self._sids[old_tag]

    def __len__(self) -> int:
        return len(self._entries)

    # -- invalidation --

    def _invalidate(self, keys: list[bytes] | None) -> None:
        """Drop the entries of ``keys`` (None: everything) and spoil the reads
        of them in flight. Keys other than user hashes hold no entries."""
        head = self._hash_head
        with self._lock:
            if keys is None:
                self._flush_locked()
                return
            for key in keys:
                if not (key.startswith(head) and key.endswith(b"}")):
                    continue
                tag = key[len(head) : -1].decode("utf-8", "replace")
                for session_id in self._sids.pop(tag, ()):
                    self._entries.pop((tag, session_id), None)
                for ticket in self._inflight.get(tag, ()):
                    ticket.valid = False

    def _flush_locked(self) -> None:
        self._entries.clear()
        self._sids.clear()
        self._epoch += 1

    # -- the tracking connection (under _read_lock) --

    def _connect(self) -> tuple[Any, socket.socket, bytearray]:
        """A new tracking connection, its socket and the bytes read past the
        CLIENT TRACKING reply. Blocks, so it runs without any lock held."""
        client = get_client()
        pool = client.connection_pool
        options = {**pool.connection_kwargs, "protocol": 3, "client_name": CLIENT_NAME}
        connection = pool.connection_class(**options)
        connection.connect()  # HELLO 3, AUTH, CLIENT SETNAME: request/response only
        sock = connection._sock  # redis-py has no public accessor; reads are ours from here
        buffer = bytearray()
        try:
            sock.sendall(_command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", self.prefix))
            deadline = time.monotonic() + max(1.0, self.reconnect_after)
            reply = None
            while reply is None:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(65536)
                if not chunk:
                    raise _ChannelLost("closed during CLIENT TRACKING")
                buffer += chunk
                try:
                    reply, end = _parse(buffer, 0)
                except _Incomplete:
                    continue
                del buffer[:end]
            if isinstance(reply, _ErrorReply):
                raise _ChannelLost(f"CLIENT TRACKING refused: {reply.decode(errors='replace')}")
            sock.setblocking(False)
        except BaseException:
            connection.disconnect()
            raise
        return connection, sock, buffer

    def _install(self, connection: Any, sock: socket.socket, buffer: bytearray) -> None:
        """Start reading a connection on which tracking is on (under _read_lock)."""
        # poll, not select: a busy process may hold file descriptors past 1024.
        # Two poll objects, as one may not be polled by two threads at once.
        self._poller, self._listen_poller = select.poll(), select.poll()
        self._poller.register(sock, select.POLLIN)
        self._listen_poller.register(sock, select.POLLIN)
        self._connection, self._sock, self._buffer = connection, sock, buffer
        with self._lock:
            # A read sent from now on has every later write reported.
            self._tracking = True

    def _disconnect(self, reason: str) -> None:
        """Forget the connection and everything learned through it."""
        self._fresh_sent_at = float("-inf")
        with self._lock:
            self._tracking = False
            self._flush_locked()
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
                    raise _ChannelLost("closed by the server")
                self._buffer += chunk
                if len(chunk) < 65536 and not getattr(sock, "pending", lambda: 0)():
                    break
            buffer, pos = self._buffer, 0
            while pos < len(buffer):
                try:
                    message, pos = _parse(buffer, pos)
                except _Incomplete:
                    break
                self._handle(message)
            del buffer[:pos]
        except (_ChannelLost, OSError, ValueError) as exc:
            self._disconnect(str(exc) or type(exc).__name__)

    def _handle(self, message: Any) -> None:
        if isinstance(message, _Push):
            if message and message[0] == b"invalidate":
                self._invalidate(message[1] if len(message) > 1 else None)
            return
        if not isinstance(message, list) or not self._pending:
            raise _ChannelLost("unexpected reply on the tracking connection")
        server = dict(zip(message[::2], message[1::2], strict=True))
        if server.get(b"role") != b"master" or server.get(b"mode") == b"cluster":
            raise _ChannelLost("the server is not a standalone primary")
        # Every invalidation sent before this reply has been applied above.
        self._fresh_sent_at = self._pending.popleft()

    def _heartbeat(self) -> None:
        assert self._sock is not None
        sent_at = time.monotonic()
        try:
            if self._sock.send(_HEARTBEAT) != len(_HEARTBEAT):
                raise _ChannelLost("send buffer full")
        except _NONBLOCKING_ERRORS as exc:
            raise _ChannelLost("send buffer full") from exc
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
                    connection, sock, buffer = self._connect()
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
                        raise _ChannelLost("no heartbeat reply")
                except (_ChannelLost, OSError) as exc:
                    self._disconnect(str(exc) or type(exc).__name__)
        with self._read_lock:
            self._disconnect("closed")

    def close(self) -> None:
        """Stop the listener and drop the tracking connection."""
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join(5)


# -- the process's cache ----------------------------------------------------------


EMBEDDED = "the embedded fakeredis has no client tracking (and no other process to hear from)"


def unsupported_reason() -> str | None:
    """Why the mode cannot run with the current settings, or None."""
    if is_embedded():
        return EMBEDDED
    problems = local_cache_problems()
    return problems[0] if problems else None


_build_lock = threading.Lock()
_cache: LocalCache[Any] | None = None
_off = False  # decided off for the current settings


def active() -> LocalCache[Any] | None:
    """This process's cache when ``LOCAL_CACHE`` is on and can work, else None.

    On every request: the settings are read once per change, not here, and
    a cache is used only by the process that built it.
    """
    cache = _cache
    if cache is not None and cache.pid == os.getpid():
        return cache
    return None if _off else _start()


def _start() -> LocalCache[Any] | None:
    global _cache, _off
    with _build_lock:
        if _cache is not None and _cache.pid == os.getpid():
            return _cache
        _cache = None  # a parent's cache, inherited by a fork: never used here
        if not token_settings.LOCAL_CACHE:
            _off = True
            return None
        reason = unsupported_reason()
        client = None if reason else get_client()
        if client is not None and (is_cluster(client) or not hasattr(client, "connection_pool")):
            reason = "the configured client is a cluster or has no connection pool"
        if reason:
            logger.error("redistoken: LOCAL_CACHE stays off: %s", reason)
            _off = True
            return None
        s = token_settings
        _cache = LocalCache(s.KEY_PREFIX, s.LOCAL_CACHE_MAX_STALENESS, s.LOCAL_CACHE_SIZE)
        return _cache


def reset() -> None:
    """Stop this process's cache; the next request decides again from the settings."""
    global _cache, _off
    with _build_lock:
        cache, _cache, _off = _cache, None, False
    if cache is not None and cache.pid == os.getpid():
        cache.close()


def _after_fork_in_child() -> None:
    """The parent's cache, locks and thread are not the child's: start clean."""
    global _build_lock, _cache, _off
    _build_lock, _cache, _off = threading.Lock(), None, False


os.register_at_fork(after_in_child=_after_fork_in_child)


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING_NAME, "CACHES"):
        reset()


setting_changed.connect(_on_setting_changed)
