"""The session cache: entries, reads in flight (tickets), invalidation, LRU.

It knows nothing about sockets. Whoever builds it hands it two callables of
the tracking channel: ``sync()``, which applies the invalidations that have
arrived and returns the send time of the latest answered heartbeat, and
``synced_at()``, which returns that time without reading anything. The
channel in turn calls :meth:`SessionCache.invalidate`, :meth:`flush`,
:meth:`tracking_on` and :meth:`tracking_lost`. Every time is read from one
clock (``time.monotonic`` unless another is given, as the tests do).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class Ticket:
    """A read in flight: caching its result is allowed only while ``valid``."""

    __slots__ = ("tag", "epoch", "started", "valid")

    def __init__(self, tag: str, epoch: int, started: float) -> None:
        self.tag = tag
        self.epoch = epoch
        self.started = started
        self.valid = True


class SessionCache(Generic[V]):
    """Sessions of this process, served only while the channel is fresh.

    Entries are grouped by user tag, as the store's hashes are: a write to
    ``<prefix>{<tag>}`` drops every entry of that tag. Values are opaque here
    (the store caches its ``Session`` objects); the store's ``read`` callback
    says how long a value may live. A token is kept only as its SHA-256.
    """

    def __init__(
        self,
        prefix: str,
        max_staleness: float,
        size: int,
        *,
        sync: Callable[[], float],
        synced_at: Callable[[], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._hash_head = f"{prefix}{{".encode()
        self.max_staleness = max_staleness
        self.size = size
        self._sync = sync
        self._synced_at = synced_at
        self._clock = clock
        self.hits = 0
        self.misses = 0
        # Guarded by _lock: the entries and what may still become one.
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], tuple[bytes, V, float]] = OrderedDict()
        self._sids: dict[str, set[str]] = {}
        self._inflight: dict[str, list[Ticket]] = {}
        self._epoch = 0  # bumped on every flush; older tickets may not store
        self._tracking = False  # tracking confirmed on the channel's current connection

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
        synced_at = self._sync()
        now = self._clock()
        if now - synced_at >= self.max_staleness:  # as fresh(), inlined
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
        return self._clock() - self._synced_at() < self.max_staleness

    def synced_after(self, moment: float) -> bool:
        """True when every invalidation for a write completed before the
        clock value ``moment`` has been applied here."""
        return self._synced_at() > moment

    def _begin(self, tag: str) -> Ticket | None:
        started = self._clock()  # before the read: the local deadline errs early
        with self._lock:
            self.misses += 1
            if not self._tracking:
                return None
            ticket = Ticket(tag, self._epoch, started)
            self._inflight.setdefault(tag, []).append(ticket)
            return ticket

    def _finish(self, ticket: Ticket | None, session_id: str, digest: bytes, value: V | None, lifetime: float) -> None:
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

    # -- what the channel reports --

    def invalidate(self, keys: list[bytes]) -> None:
        """Drop the entries of ``keys`` and spoil the reads of them in
        flight. Keys other than user hashes hold no entries."""
        head = self._hash_head
        with self._lock:
            for key in keys:
                if not (key.startswith(head) and key.endswith(b"}")):
                    continue
                tag = key[len(head) : -1].decode("utf-8", "replace")
                for session_id in self._sids.pop(tag, ()):
                    self._entries.pop((tag, session_id), None)
                for ticket in self._inflight.get(tag, ()):
                    ticket.valid = False

    def flush(self) -> None:
        """Drop every entry and spoil every read in flight."""
        with self._lock:
            self._flush_locked()

    def tracking_on(self) -> None:
        """Tracking is confirmed: a read sent from now on has every later
        write reported, so its result may be cached."""
        with self._lock:
            self._tracking = True

    def tracking_lost(self) -> None:
        """The connection is gone with what was learned through it: cache
        nothing until tracking is on again."""
        with self._lock:
            self._tracking = False
            self._flush_locked()

    def _flush_locked(self) -> None:
        self._entries.clear()
        self._sids.clear()
        self._epoch += 1
