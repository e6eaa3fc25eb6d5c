"""The local cache's pieces alone, without Redis: the RESP3 reader on byte
strings, the session cache with a fake clock and a fake channel, and the
tracking channel against a fake server on a socket pair."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from redistoken.local_cache import resp3
from redistoken.local_cache.cache import SessionCache
from redistoken.local_cache.channel import CLIENT_NAME, TrackingChannel

from .conftest import wait_until

D = 0.05

# -- the RESP3 reader -------------------------------------------------------------


def parse_all(data: bytes) -> list[Any]:
    buffer = bytearray(data)
    messages = resp3.take_messages(buffer)
    assert buffer == b"", "a complete stream left bytes behind"
    return messages


@pytest.mark.parametrize(
    "data, value",
    [
        (b"+OK\r\n", b"OK"),
        (b":42\r\n", b"42"),
        (b",1.5\r\n", b"1.5"),
        (b"#t\r\n", b"t"),
        (b"$5\r\nhello\r\n", b"hello"),
        (b"$0\r\n\r\n", b""),
        (b"$4\r\na\r\nb\r\n", b"a\r\nb"),  # a bulk string may hold CRLF
        (b"=8\r\ntxt:abcd\r\n", b"txt:abcd"),
        (b"*2\r\n$1\r\na\r\n:1\r\n", [b"a", b"1"]),
        (b"~1\r\n+x\r\n", [b"x"]),
        (b"*0\r\n", []),
        (b"%2\r\n+role\r\n+master\r\n+modules\r\n*0\r\n", [b"role", b"master", b"modules", []]),
        (b"*2\r\n*1\r\n+a\r\n%1\r\n+k\r\n_\r\n", [[b"a"], [b"k", None]]),
    ],
)
def test_each_kind_of_value(data: bytes, value: Any) -> None:
    assert resp3.parse(bytearray(data), 0) == (value, len(data))


@pytest.mark.parametrize("data", [b"_\r\n", b"$-1\r\n", b"*-1\r\n"])
def test_nulls_are_none(data: bytes) -> None:
    assert resp3.parse(bytearray(data), 0) == (None, len(data))


def test_errors_are_error_replies_and_not_plain_strings() -> None:
    simple, bulk, ok = parse_all(b"-ERR unknown\r\n!9\r\nERR bulky\r\n+ERR but fine\r\n")
    assert isinstance(simple, resp3.ErrorReply) and simple == b"ERR unknown"
    assert isinstance(bulk, resp3.ErrorReply) and bulk == b"ERR bulky"
    assert not isinstance(ok, resp3.ErrorReply) and ok == b"ERR but fine"


def test_pushes_are_told_apart_from_arrays() -> None:
    push, array = parse_all(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\nrt:{a}\r\n*1\r\n$10\r\ninvalidate\r\n")
    assert isinstance(push, resp3.Push) and push == [b"invalidate", [b"rt:{a}"]]
    assert not isinstance(array, resp3.Push) and array == [b"invalidate"]
    assert not isinstance(push[1], resp3.Push)  # only the outer value is the push


def test_every_cut_of_a_message_is_incomplete() -> None:
    message = b">2\r\n$10\r\ninvalidate\r\n%1\r\n$6\r\nrt:{a}\r\n*-1\r\n"
    for cut in range(len(message)):
        with pytest.raises(resp3.Incomplete):
            resp3.parse(bytearray(message[:cut]), 0)
    assert resp3.parse(bytearray(message), 0)[1] == len(message)


def test_take_messages_leaves_a_partial_message_for_the_next_read() -> None:
    buffer = bytearray(b"+PONG\r\n:7\r\n$10\r\ninval")
    assert resp3.take_messages(buffer) == [b"PONG", b"7"]
    assert buffer == b"$10\r\ninval"
    assert resp3.take_messages(buffer) == []  # nothing complete: nothing taken
    buffer += b"idate\r\n"
    assert resp3.take_messages(buffer) == [b"invalidate"]
    assert buffer == b""


def test_garbage_is_a_value_error_not_a_hang() -> None:
    with pytest.raises(ValueError):
        resp3.parse(bytearray(b"$x\r\n"), 0)


def test_a_command_is_an_array_of_bulk_strings_counted_in_bytes() -> None:
    encoded = resp3.command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ré:")
    assert encoded.startswith(b"*6\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n")
    assert encoded.endswith(b"$4\r\nr\xc3\xa9:\r\n")  # 3 characters, 4 bytes
    assert parse_all(encoded) == [[b"CLIENT", b"TRACKING", b"ON", b"BCAST", b"PREFIX", "ré:".encode()]]


# -- the session cache --------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeChannel:
    """What the wiring hands the cache: ``sync`` runs ``arriving`` (what the
    socket would deliver) first; ``synced`` is the latest answered heartbeat."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.synced = float("-inf")
        self.arriving: list[Callable[[], None]] = []
        self.syncs = 0

    def sync(self) -> float:
        self.syncs += 1
        while self.arriving:
            self.arriving.pop(0)()
        return self.synced

    def synced_at(self) -> float:
        return self.synced

    def heartbeat(self) -> None:
        self.synced = self.clock.now


class Reader:
    """The store's read: a value and its lifetime, counting calls; ``during``
    runs in the middle of the read (another process writing, say)."""

    def __init__(self, value: str | None = "session", lifetime: float = 60.0) -> None:
        self.value, self.lifetime, self.calls = value, lifetime, 0
        self.during: Callable[[], None] | None = None

    def __call__(self) -> tuple[str | None, float]:
        self.calls += 1
        if self.during is not None:
            self.during()
        return self.value, self.lifetime


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def channel(clock: Clock) -> FakeChannel:
    channel = FakeChannel(clock)
    channel.heartbeat()
    return channel


def make_cache(clock: Clock, channel: FakeChannel, size: int = 100) -> SessionCache[str]:
    cache: SessionCache[str] = SessionCache("rt:", D, size, sync=channel.sync, synced_at=channel.synced_at, clock=clock)
    cache.tracking_on()
    return cache


@pytest.fixture
def cache(clock: Clock, channel: FakeChannel) -> SessionCache[str]:
    return make_cache(clock, channel)


def served(cache: SessionCache[str], tag: str, sid: str, token: str = "token") -> bool:
    """Whether a lookup is answered without the read."""
    read = Reader(value=None)
    cache.lookup(tag, sid, token, read)
    return read.calls == 0


def test_a_read_is_cached_and_then_served_without_reading(cache: SessionCache[str]) -> None:
    read = Reader()
    assert cache.lookup("u1", "s1", "token", read) == "session"
    assert cache.lookup("u1", "s1", "token", read) == "session"
    assert read.calls == 1
    assert (cache.hits, cache.misses, len(cache)) == (1, 1, 1)


def test_not_found_and_no_lifetime_are_never_cached(cache: SessionCache[str]) -> None:
    cache.lookup("u1", "s1", "token", Reader(value=None))
    cache.lookup("u1", "s2", "token", Reader(lifetime=0.0))
    cache.lookup("u1", "s3", "token", Reader(lifetime=-1.0))
    assert len(cache) == 0


def test_nothing_is_cached_until_tracking_is_confirmed(clock: Clock, channel: FakeChannel) -> None:
    cache: SessionCache[str] = SessionCache("rt:", D, 10, sync=channel.sync, synced_at=channel.synced_at, clock=clock)
    cache.lookup("u1", "s1", "token", Reader())
    assert len(cache) == 0
    cache.tracking_on()
    cache.lookup("u1", "s1", "token", Reader())
    assert served(cache, "u1", "s1")


def test_a_lost_connection_flushes_and_stops_caching(cache: SessionCache[str]) -> None:
    cache.lookup("u1", "s1", "token", Reader())
    cache.tracking_lost()
    assert len(cache) == 0
    cache.lookup("u1", "s1", "token", Reader())
    assert len(cache) == 0


def test_nothing_is_served_once_the_latest_answered_heartbeat_is_max_staleness_old(
    cache: SessionCache[str], clock: Clock, channel: FakeChannel
) -> None:
    cache.lookup("u1", "s1", "token", Reader())
    clock.now += D * 0.99
    assert cache.fresh() and served(cache, "u1", "s1")
    clock.now = channel.synced + D * 1.0001  # D old (float sums are not exact at D itself)
    assert not cache.fresh() and not served(cache, "u1", "s1")
    channel.heartbeat()  # answered again: the entry was kept
    assert cache.fresh() and served(cache, "u1", "s1")


def test_a_lookup_applies_what_has_arrived_before_serving(cache: SessionCache[str], channel: FakeChannel) -> None:
    cache.lookup("u1", "s1", "token", Reader())
    syncs = channel.syncs
    channel.arriving.append(lambda: cache.invalidate([b"rt:{u1}"]))
    assert not served(cache, "u1", "s1")
    assert channel.syncs > syncs


def test_synced_after_compares_with_the_latest_answered_heartbeat(
    cache: SessionCache[str], clock: Clock, channel: FakeChannel
) -> None:
    written = clock.now
    assert not cache.synced_after(written)
    clock.now += 0.01
    channel.heartbeat()
    assert cache.synced_after(written)


def test_an_invalidation_drops_every_entry_of_that_user_only(cache: SessionCache[str]) -> None:
    for tag, sid in [("u1", "a"), ("u1", "b"), ("u2", "c")]:
        cache.lookup(tag, sid, "token", Reader())
    cache.invalidate([b"rt:{u1}"])
    assert (served(cache, "u1", "a"), served(cache, "u1", "b"), served(cache, "u2", "c")) == (False, False, True)


@pytest.mark.parametrize("key", [b"rt:{u1}:x", b"rt:u1", b"other:{u1}", b"rt:{u2}", b"rt:"])
def test_keys_other_than_the_users_hash_drop_nothing(cache: SessionCache[str], key: bytes) -> None:
    cache.lookup("u1", "a", "token", Reader())
    cache.invalidate([key])
    assert served(cache, "u1", "a")


def test_an_invalidation_during_the_read_spoils_its_ticket(cache: SessionCache[str]) -> None:
    read = Reader()
    read.during = lambda: cache.invalidate([b"rt:{u1}"])  # another process logs u1 in meanwhile
    assert cache.lookup("u1", "s1", "token", read) == "session"  # still answered
    assert len(cache) == 0  # but not cached: it may predate the write
    assert not served(cache, "u1", "s1")


def test_an_invalidation_of_another_user_during_the_read_spoils_nothing(cache: SessionCache[str]) -> None:
    read = Reader()
    read.during = lambda: cache.invalidate([b"rt:{u2}"])
    cache.lookup("u1", "s1", "token", read)
    assert served(cache, "u1", "s1")


def test_every_read_of_the_user_in_flight_is_spoiled(cache: SessionCache[str]) -> None:
    inner = Reader()
    inner.during = lambda: cache.invalidate([b"rt:{u1}"])
    outer = Reader()
    outer.during = lambda: cache.lookup("u1", "s2", "token", inner)  # two reads of u1 in flight at once
    cache.lookup("u1", "s1", "token", outer)
    assert len(cache) == 0


@pytest.mark.parametrize("event", ["flush", "reconnect"])
def test_a_flush_or_a_reconnect_during_the_read_spoils_its_ticket(cache: SessionCache[str], event: str) -> None:
    def during() -> None:
        if event == "flush":
            cache.flush()
        else:  # lost and confirmed again before the read returns: the epoch tells
            cache.tracking_lost()
            cache.tracking_on()

    read = Reader()
    read.during = during
    cache.lookup("u9", "s1", "token", read)
    assert len(cache) == 0
    cache.lookup("u9", "s1", "token", Reader())  # the next read, started after it, is cached
    assert served(cache, "u9", "s1")


def test_a_flush_drops_every_entry(cache: SessionCache[str]) -> None:
    for tag in ("u1", "u2", "u3"):
        cache.lookup(tag, "s", "token", Reader())
    cache.flush()
    assert len(cache) == 0


def test_a_failed_read_caches_nothing_and_leaves_nothing_in_flight(cache: SessionCache[str]) -> None:
    def failing() -> tuple[str | None, float]:
        raise ConnectionError("Redis is down")

    with pytest.raises(ConnectionError):
        cache.lookup("u1", "s1", "token", failing)
    assert len(cache) == 0
    cache.lookup("u1", "s1", "token", Reader())
    assert served(cache, "u1", "s1")


def test_the_least_recently_used_entry_goes_first(clock: Clock, channel: FakeChannel) -> None:
    cache = make_cache(clock, channel, size=2)
    cache.lookup("u1", "a", "token", Reader())
    cache.lookup("u2", "b", "token", Reader())
    assert served(cache, "u1", "a")  # a is now the most recently used
    cache.lookup("u3", "c", "token", Reader())
    assert len(cache) == 2
    assert (served(cache, "u1", "a"), served(cache, "u3", "c"), served(cache, "u2", "b")) == (True, True, False)


def test_the_local_deadline_counts_from_before_the_read(
    cache: SessionCache[str], clock: Clock, channel: FakeChannel
) -> None:
    started = clock.now
    read = Reader(lifetime=1.0)

    def slow() -> None:
        clock.now += 0.3  # the round trip takes a while

    read.during = slow
    cache.lookup("u1", "s1", "token", read)
    clock.now = started + 0.999
    channel.heartbeat()
    assert served(cache, "u1", "s1")
    clock.now = started + 1.0  # 1.3 s after the read returned would be too late
    channel.heartbeat()
    assert not served(cache, "u1", "s1")


def test_a_token_with_another_secret_is_not_served(cache: SessionCache[str]) -> None:
    cache.lookup("u1", "s1", "right", Reader())
    forged = Reader(value=None)  # the store refuses the wrong secret
    assert cache.lookup("u1", "s1", "wrong", forged) is None
    assert forged.calls == 1
    assert served(cache, "u1", "s1", "right")  # the real entry is untouched


def test_a_concurrent_invalidation_never_lets_a_spoiled_read_in() -> None:
    """Threads reading while another invalidates: every entry left in the
    cache was read after the last invalidation of its user began."""
    clock = Clock()
    channel = FakeChannel(clock)
    channel.heartbeat()
    cache = make_cache(clock, channel, size=1000)
    generation = {"u": 0}
    stop = threading.Event()

    def read() -> tuple[str | None, float]:
        seen = generation["u"]
        time.sleep(0.0001)  # the round trip: a write may land meanwhile
        return f"gen{seen}", 60.0

    def reader(index: int) -> None:
        while not stop.is_set():
            cache.lookup("u", f"s{index}", "token", read)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(100):
        generation["u"] += 1  # the write...
        cache.invalidate([b"rt:{u}"])  # ...and its invalidation
        time.sleep(0.0005)
    stop.set()
    for thread in threads:
        thread.join()
    final = generation["u"]
    for index in range(4):
        value = cache.lookup("u", f"s{index}", "token", lambda: (None, 0.0))
        assert value in (None, f"gen{final}"), value


# -- the tracking channel, against a fake server ---------------------------------


class FakeServer:
    """The server end of each connection the channel opens (a socket pair):
    answers CLIENT TRACKING and each HELLO heartbeat, and sends pushes."""

    def __init__(self) -> None:
        self.role = b"master"
        self.tracking_reply = b"+OK\r\n"
        self.answering = threading.Event()
        self.answering.set()
        self.sockets: list[socket.socket] = []
        self.commands: list[list[bytes]] = []
        self._send_lock = threading.Lock()

    # what the channel's client looks like to it
    @property
    def connection_pool(self) -> Any:
        server = self

        class Connection:
            def __init__(self, **options: Any) -> None:
                assert options["protocol"] == 3 and options["client_name"] == CLIENT_NAME
                self._sock: socket.socket | None = None

            def connect(self) -> None:
                self._sock, theirs = socket.socketpair()
                server.sockets.append(theirs)
                threading.Thread(target=server._serve, args=(theirs,), daemon=True).start()

            def disconnect(self) -> None:
                assert self._sock is not None
                self._sock.close()

        class Pool:
            connection_kwargs: dict[str, Any] = {}
            connection_class = Connection

        return Pool()

    def _serve(self, sock: socket.socket) -> None:
        buffer = bytearray()
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            for command in resp3.take_messages(buffer):
                self.commands.append(command)
                if command[0] == b"CLIENT":
                    self.send(sock, self.tracking_reply)
                elif command[0] == b"HELLO" and self.answering.is_set():  # else dropped
                    hello = b"%%2\r\n$4\r\nrole\r\n$%d\r\n%s\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
                    self.send(sock, hello % (len(self.role), self.role))

    def send(self, sock: socket.socket, *parts: bytes) -> None:
        """Write ``parts`` with a pause between them, and nothing else meanwhile."""
        with self._send_lock:
            try:
                for i, part in enumerate(parts):
                    if i:
                        time.sleep(0.01)
                    sock.sendall(part)
            except OSError:
                pass

    def push_invalidate(self, *keys: bytes, split: bool = False) -> None:
        """An invalidation on the latest connection (None keys: a flush)."""
        if keys == (None,):
            data = b">2\r\n$10\r\ninvalidate\r\n_\r\n"
        else:
            data = b">2\r\n$10\r\ninvalidate\r\n*%d\r\n" % len(keys)
            data += b"".join(b"$%d\r\n%s\r\n" % (len(key), key) for key in keys)
        # Split, the reader must wait for the rest, not drop the start.
        self.send(self.sockets[-1], *([data[:15], data[15:]] if split else [data]))


class Recorder:
    """The channel's listener, recording what it is told."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def invalidate(self, keys: list[bytes]) -> None:
        self.events.append(("invalidate", keys))

    def flush(self) -> None:
        self.events.append("flush")

    def tracking_on(self) -> None:
        self.events.append("on")

    def tracking_lost(self) -> None:
        self.events.append("lost")


def answered(channel: TrackingChannel) -> bool:
    return channel.synced_at() > float("-inf")


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def track(server: FakeServer) -> Iterator[Callable[[], tuple[TrackingChannel, Recorder]]]:
    """Start a channel on ``server`` (configure the server first), closed at the end."""
    started: list[TrackingChannel] = []

    def start() -> tuple[TrackingChannel, Recorder]:
        channel, recorder = TrackingChannel("rt:", D, lambda: server), Recorder()
        channel.start(recorder)
        started.append(channel)
        return channel, recorder

    yield start
    for channel in started:
        channel.close()


def test_tracking_is_asked_for_the_prefix_and_heartbeats_follow(server: FakeServer, track: Any) -> None:
    channel, recorder = track()
    wait_until(lambda: answered(channel))
    assert server.commands[0] == [b"CLIENT", b"TRACKING", b"ON", b"BCAST", b"PREFIX", b"rt:"]
    assert recorder.events[0] == "on" and channel.connections == 1
    first = channel.synced_at()
    wait_until(lambda: channel.synced_at() > first)  # one heartbeat after another
    assert channel.sync() > first


def test_an_answered_heartbeat_proves_every_earlier_invalidation_applied(server: FakeServer, track: Any) -> None:
    channel, recorder = track()
    wait_until(lambda: answered(channel))
    for keys, split in [((b"rt:{a}",), False), ((b"rt:{b}", b"rt:{c}"), True), ((None,), False)]:
        server.push_invalidate(*keys, split=split)
        written = time.monotonic()  # the write and its push are complete
        wait_until(lambda written=written: channel.synced_at() > written)
        assert ("flush" if keys == (None,) else ("invalidate", list(keys))) in recorder.events


def test_a_replica_is_refused_and_retried_with_a_pause(server: FakeServer, track: Any) -> None:
    server.role = b"slave"
    channel, recorder = track()
    wait_until(lambda: recorder.events.count("lost") >= 3)
    assert not answered(channel)  # never fresh on a replica
    server.role = b"master"
    wait_until(lambda: answered(channel))


def test_refused_tracking_never_turns_caching_on(server: FakeServer, track: Any) -> None:
    server.tracking_reply = b"-ERR unknown command\r\n"
    channel, recorder = track()
    wait_until(lambda: len(server.sockets) >= 2)  # tried again
    assert "on" not in recorder.events and channel.connections == 0


def test_a_closed_connection_is_lost_then_replaced(server: FakeServer, track: Any) -> None:
    channel, recorder = track()
    wait_until(lambda: answered(channel))
    server.sockets[-1].close()
    wait_until(lambda: channel.connections == 2 and answered(channel))
    assert recorder.events.count("on") == 2 and "lost" in recorder.events


def test_a_silent_server_goes_stale_then_is_reconnected(
    server: FakeServer, track: Any, caplog: pytest.LogCaptureFixture
) -> None:
    channel, recorder = track()
    wait_until(lambda: answered(channel))
    server.answering.clear()  # heartbeats are read and never answered
    wait_until(lambda: "lost" in recorder.events)  # after reconnect_after
    assert "no heartbeat reply" in caplog.text and not answered(channel)
    server.answering.set()
    wait_until(lambda: channel.connections == 2 and answered(channel))


def test_close_stops_the_thread_and_drops_the_connection(server: FakeServer, track: Any) -> None:
    channel, recorder = track()
    wait_until(lambda: answered(channel))
    channel.close()
    assert recorder.events[-1] == "lost" and not answered(channel)
    assert server.sockets[-1].recv(1) == b""  # the channel's end is closed
