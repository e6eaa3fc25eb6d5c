"""The stored session layouts, seen from a test: rewriting a session's times
(layout 2), and writing sessions exactly as redistoken before layout 2 did
(layout 1: ``verifier|last|absolute|created|user id`` in base 36 ms, and
``m:<id>`` = device TAB ip TAB user agent), to prove an upgrade logs nobody out."""

from __future__ import annotations

from redistoken import connection, store, tokens
from redistoken.settings import token_settings

HEAD_AT = 1  # a layout-2 value of slot 0: mark, then the verifier


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if number == 0:
            return text


def times(raw: str) -> tuple[int, int, int]:
    """(created, last used, recorded deadline) in ms of a layout-2 session."""
    parsed = tokens.parse(token_settings.TOKEN_PREFIX, raw)
    value = connection.get_client().hget(store.user_key(parsed.tag), tokens.session_field(parsed.session_id))
    at = 1 + (value[0] >= 128) + 16
    created = int.from_bytes(value[at : at + 6], "big")
    last = created + int.from_bytes(value[at + 6 : at + 11], "big")
    return created, last, last + int.from_bytes(value[at + 11 : at + 14], "big") * 1000


def rewind(raw: str, seconds: float, *, created: bool = True) -> None:
    """Move a layout-2 session back in time by ``seconds``: its last use and
    recorded deadline (and its creation, unless ``created=False``)."""
    parsed = tokens.parse(token_settings.TOKEN_PREFIX, raw)
    client = connection.get_client()
    key, field = store.user_key(parsed.tag), tokens.session_field(parsed.session_id)
    value = client.hget(key, field)
    at = 1 + (value[0] >= 128) + 16
    born = int.from_bytes(value[at : at + 6], "big")
    last = born + int.from_bytes(value[at + 6 : at + 11], "big")
    shift = int(seconds * 1000)
    new_born = born - shift if created else min(born, last - shift)
    packed = new_born.to_bytes(6, "big") + (last - shift - new_born).to_bytes(5, "big")
    client.hset(key, field, value[:at] + packed + value[at + 11 :])


def issue_legacy(user_id: object, *, device: str = "", ip: str = "", user_agent: str = "", age: float = 0) -> str:
    """A token and its session written as the code before layout 2 wrote
    them (issue.lua of then: HSET value and metadata, PEXPIREAT), created
    ``age`` seconds ago. Returns the raw token."""
    s = token_settings
    uid = str(user_id)
    tag, session_id = tokens.user_tag(uid), tokens.new_session_id()
    raw = tokens.generate(s.TOKEN_PREFIX, tag, session_id, tokens.UNKEYED_VERSION)
    client = connection.get_client()
    seconds, micros = client.time()
    now = seconds * 1000 + micros // 1000 - int(age * 1000)
    absolute = now + int(s.ABSOLUTE_LIFETIME * 1000)
    value = "|".join([tokens.legacy_verifier(raw), _base36(now), _base36(absolute), _base36(now), uid])
    key = store.user_key(tag)
    client.hset(key, mapping={session_id: value, f"m:{session_id}": f"{device}\t{ip}\t{user_agent}"})
    expires = min(now + int(s.IDLE_TIMEOUT * 1000), absolute)
    if client.pexpiretime(key) < expires:
        client.pexpireat(key, expires)
    return raw


def issue_v1(user_id: object) -> str:
    """A format-1 token (unkeyed tag and verifier) and its layout-2 session,
    as the store wrote them before format 2. Returns the raw token."""
    from redistoken.store import scripts
    from redistoken.store.records import ms, pack

    s = token_settings
    uid = str(user_id)
    tag, session_id = tokens.user_tag(uid), tokens.new_session_id()
    raw = tokens.generate(s.TOKEN_PREFIX, tag, session_id, tokens.UNKEYED_VERSION)
    packed = pack("", "", "", "")
    scripts.issue(
        store.user_key(tag), tokens.session_field(session_id), tokens.verifier(raw), packed.kinds, "",
        packed.rest, "", ms(s.IDLE_TIMEOUT), ms(s.ABSOLUTE_LIFETIME), uid, s.MAX_SESSIONS_PER_USER, b"",
    )  # fmt: skip
    return raw
