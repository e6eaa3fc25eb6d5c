"""A minimal incremental RESP3 reader and command encoder, on byte strings only.

The tracking connection is read by the listener thread and by request
threads whenever bytes are there, so the reader never blocks and never
consumes a partial message: it parses what is complete and leaves the rest
in the buffer for the next read.
"""

from __future__ import annotations

from typing import Any


class Incomplete(Exception):
    """The buffer ends inside a message; wait for more bytes."""


class Push(list):  # type: ignore[type-arg]
    """An out-of-band RESP3 push message (``>``)."""


class ErrorReply(bytes):
    """A RESP3 error reply (``-`` or ``!``)."""


def parse(buf: bytearray, pos: int) -> tuple[Any, int]:
    """One RESP3 value starting at ``pos``, and the position after it.

    Bulk strings come back as bytes, arrays and sets as lists, pushes as
    :class:`Push`, maps as a flat list of keys and values, nulls as None,
    errors as :class:`ErrorReply`, and simple strings, numbers, doubles and
    booleans as their raw bytes. Raises :class:`Incomplete` when the buffer
    ends before the value does.
    """
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    kind, line, pos = bytes(buf[pos : pos + 1]), bytes(buf[pos + 1 : end]), end + 2
    if kind in (b"$", b"=", b"!"):  # bulk string, verbatim string, bulk error
        size = int(line)
        if size < 0:
            return None, pos
        if len(buf) < pos + size + 2:
            raise Incomplete
        data = bytes(buf[pos : pos + size])
        return (ErrorReply(data) if kind == b"!" else data), pos + size + 2
    if kind in (b"*", b">", b"~", b"%"):  # array, push, set, map (as a flat list)
        count = int(line)
        if count < 0:
            return None, pos
        items: list[Any] = Push() if kind == b">" else []
        for _ in range(count * 2 if kind == b"%" else count):
            item, pos = parse(buf, pos)
            items.append(item)
        return items, pos
    if kind == b"_":
        return None, pos
    if kind == b"-":
        return ErrorReply(line), pos
    return line, pos  # simple string, number, double, boolean: raw


def take_messages(buf: bytearray) -> list[Any]:
    """Every complete message at the start of ``buf``, removed from it; a
    partial message at the end stays for the next read."""
    messages, pos = [], 0
    while pos < len(buf):
        try:
            message, pos = parse(buf, pos)
        except Incomplete:
            break
        messages.append(message)
    del buf[:pos]
    return messages


def command(*args: str) -> bytes:
    """A command as the RESP array of bulk strings a server expects."""
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)
