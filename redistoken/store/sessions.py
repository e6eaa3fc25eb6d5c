"""Sessions one user at a time: login, the per-request check, listing, revocation."""

from __future__ import annotations

from typing import Any

from .. import devices, keys, local_cache, signals, tokens
from ..connection import get_client, text
from ..settings import token_settings
from . import scripts
from .errors import logger, unavailable_as_error
from .records import (
    CREDENTIAL_MAX,
    USER_AGENT_MAX_BYTES,
    IssuedToken,
    Reason,
    Session,
    clip,
    clip_bytes,
    ms,
    pack,
    receipt_key,
    session_from,
    unpack_rest,
    user_id_of,
    user_key,
)


def announce_revoked(pairs: list[Any], reason: Reason, actor: Any) -> list[str]:
    """Log and signal each revoked session; ``pairs`` is [sid, user id, ...]."""
    flat = [tokens.session_id_of(item) if i % 2 == 0 else text(item) for i, item in enumerate(pairs)]
    actor_id = None if actor is None else user_id_of(actor)
    for sid, user_id in zip(flat[::2], flat[1::2], strict=True):
        logger.info(
            "redistoken: session revoked user=%s session=%s reason=%s by=%s", user_id, sid, reason.value, actor_id
        )
        signals.session_revoked.send(sender=Session, user_id=user_id, session_id=sid, reason=reason, actor=actor)
    return flat[::2]


def issue_token(
    user: Any, *, device: str = "", ip: str = "", user_agent: str = "", credential: str = ""
) -> IssuedToken:
    """Create a session for ``user`` and return its token (shown once).

    A previous session of the same user with the same ``device`` name is
    replaced, and with ``MAX_SESSIONS_PER_USER`` set the least recently used
    sessions are evicted, in the same atomic step. The user agent is turned
    into a device label here, once (:mod:`redistoken.devices`); it is kept
    itself only with ``STORE_USER_AGENT``. ``credential`` is opaque to the
    store (printable ASCII, at most 8 characters kept).
    """
    s = token_settings
    user_id = user_id_of(user)
    tag = keys.current_tag(user_id)
    session_id = tokens.new_session_id()
    raw = tokens.generate(s.TOKEN_PREFIX, tag, session_id)
    user_agent = clip(user_agent, s.USER_AGENT_MAX_LENGTH)
    credential = _credential(credential)
    packed = pack(clip(device, s.DEVICE_NAME_MAX_LENGTH), clip(ip, 64), devices.label(user_agent), credential)
    kept_agent = clip_bytes(user_agent, USER_AGENT_MAX_BYTES) if s.STORE_USER_AGENT else b""
    result = scripts.issue(
        user_key(tag),
        tokens.session_field(session_id),
        tokens.verifier(raw, keys.signing_keys()[0]),
        packed.kinds,
        credential,
        packed.rest,
        kept_agent.decode("utf-8"),
        ms(s.IDLE_TIMEOUT),
        ms(s.ABSOLUTE_LIFETIME),
        user_id,
        s.MAX_SESSIONS_PER_USER or 0,
        packed.device,
    )
    now_ms, expires_at_ms = int(result[0]), int(result[1])
    rest = list(result[2:])
    split = rest.index(b"") if b"" in rest else rest.index("")
    announce_revoked([item for sid in rest[:split] for item in (sid, user_id)], Reason.REPLACED, None)
    announce_revoked([item for sid in rest[split + 1 :] for item in (sid, user_id)], Reason.EVICTED, None)
    ip, device, label = unpack_rest(packed.kinds // 16, packed.rest)
    session = Session(
        session_id, user_id, now_ms, now_ms, expires_at_ms, now_ms,
        device, ip, kept_agent.decode("utf-8"), label, credential,
    )  # fmt: skip
    signals.session_created.send(sender=Session, user_id=user_id, session=session)
    return IssuedToken(token=raw, session=session)


def authenticate(token: tokens.ParsedToken) -> Session | None:
    """Validate and renew a session in one round trip; ``None`` if not live.

    With ``LOCAL_CACHE`` on, a session read recently in this process may be
    served with no round trip (see :mod:`redistoken.local_cache`); its
    ``now_ms`` is then the time of that read.
    """
    cache = local_cache.active()
    if cache is None:
        return _authenticate(token)
    return cache.lookup(token.tag, token.session_id, token.raw, lambda: _authenticate_for_cache(token))


def _authenticate(token: tokens.ParsedToken) -> Session | None:
    s = token_settings
    result = scripts.authenticate(
        user_key(token.tag),
        tokens.session_field(token.session_id),
        token.session_id,
        keys.verifiers(token),
        _unkeyed_legacy(token),
        ms(s.IDLE_TIMEOUT),
        ms(s.RENEW_INTERVAL),
        ms(s.ABSOLUTE_LIFETIME),
    )
    if not result:
        return None
    head, _, blob = result.partition(b"\n")
    layout, expires_at_ms, now_ms, uid_length, value_length, meta_length = map(int, head.split())
    meta_end = uid_length + value_length + meta_length
    return session_from(
        layout,
        token.session_id,
        blob[uid_length : uid_length + value_length],
        blob[uid_length + value_length : meta_end],
        blob[meta_end:],
        blob[:uid_length].decode("utf-8"),
        expires_at_ms,
        now_ms,
    )


def _authenticate_for_cache(token: tokens.ParsedToken) -> tuple[Session | None, float]:
    """The session and how long this process may serve it without Redis:
    until it expires or falls due for renewal, whichever comes first."""
    session = _authenticate(token)
    if session is None:
        return None, 0.0
    # now_ms is Redis's clock cut to the millisecond: the true time of the
    # read may be up to 1 ms later, so count the session 1 ms shorter.
    until_ms = min(session.expires_at_ms, session.last_used_ms + ms(token_settings.RENEW_INTERVAL))
    return session, (until_ms - session.now_ms - 1) / 1000


def _unkeyed_legacy(token: tokens.ParsedToken) -> str:
    """The base64 verifier a layout-1 session of ``token`` holds: only a
    format-1 token can have one."""
    return tokens.legacy_verifier(token.raw) if token.version == tokens.UNKEYED_VERSION else ""


def _per_hash(user_id: str, script: scripts.Script[Any], *args: Any, receipt: bool = False) -> list[Any]:
    """``script(hash, *args)`` on each hash the user's sessions may be in
    (:func:`redistoken.keys.user_tags`: one per signing key, and format 1's):
    one pipelined round trip on a single server, one call per hash on Cluster.
    With ``receipt``, a new receipt key beside each hash is the script's second key."""
    hashes = [user_key(tag) for tag in keys.user_tags(user_id)]
    calls = [script.args(h, *([receipt_key(h)] if receipt else []), *args) for h in hashes]
    if len(calls) == 1:
        return [script(*calls[0])]
    with unavailable_as_error():
        client = get_client()
    return scripts.run_many(client, script, calls)


def list_sessions(user: Any) -> list[Session]:
    """The user's live sessions (under every signing key), most recently used first."""
    user_id = user_id_of(user)
    s = token_settings
    found = []
    for result in _per_hash(user_id, scripts.sessions, user_id, ms(s.IDLE_TIMEOUT), ms(s.ABSOLUTE_LIFETIME)):
        now_ms = int(result[0])
        rows = [result[i : i + 6] for i in range(1, len(result), 6)]
        found += [
            session_from(int(layout), field, value, meta, agent, user_id, int(expires_at_ms), now_ms)
            for layout, field, value, meta, agent, expires_at_ms in rows
        ]
    return sorted(found, key=lambda session: session.last_used_ms, reverse=True)


def _revoke(user_id: str, mode: scripts.Mode, session_id: str = "") -> list[Any]:
    field = tokens.session_field(session_id) if session_id else b""
    results = _per_hash(user_id, scripts.revoke, user_id, mode, session_id, b"", field, "", receipt=True)
    return [item for result in results for item in result]


def revoke_session(user: Any, session_id: str, *, reason: Reason = Reason.LOGOUT, actor: Any = None) -> bool:
    """End one session of ``user``; False when it is not a live session of theirs."""
    if not tokens.SESSION_ID_RE.fullmatch(session_id):
        return False
    return bool(announce_revoked(_revoke(user_id_of(user), "session", session_id), reason, actor))


def revoke_all(user: Any, *, reason: Reason = Reason.LOGOUT_ALL, actor: Any = None) -> list[str]:
    """End every session of ``user`` in one round trip; returns their ids."""
    return announce_revoked(_revoke(user_id_of(user), "user"), reason, actor)


def revoke_other_sessions(
    user: Any, keep_session_id: str, *, reason: Reason = Reason.OTHER_SESSIONS, actor: Any = None
) -> list[str]:
    """End every session of ``user`` except ``keep_session_id``."""
    return announce_revoked(_revoke(user_id_of(user), "others", keep_session_id), reason, actor)


def revoke_token(token: tokens.ParsedToken, *, reason: Reason = Reason.LOGOUT, actor: Any = None) -> bool:
    """End the session of a token, whoever owns it (RFC 7009 revocation)."""
    field = tokens.session_field(token.session_id)
    user_hash = user_key(token.tag)
    revoked = scripts.revoke(
        user_hash,
        receipt_key(user_hash),
        "",
        "token",
        token.session_id,
        keys.verifiers(token),
        field,
        _unkeyed_legacy(token),
    )
    return bool(announce_revoked(list(revoked), reason, actor))


def set_credential(user: Any, session_id: str, credential: str) -> bool:
    """Record ``credential`` on a live session of ``user`` (a password changed
    through that session keeps it); False when it is not a live session of
    theirs, or one of the earlier layout (which has no fingerprint to update)."""
    if not tokens.SESSION_ID_RE.fullmatch(session_id):
        return False
    user_id = user_id_of(user)
    field = tokens.session_field(session_id)
    return any(_per_hash(user_id, scripts.recredential, user_id, field, _credential(credential)))


def _credential(credential: str) -> str:
    """A credential fingerprint as stored: printable ASCII, at most 8 characters."""
    return "".join(ch for ch in credential if ch.isascii() and ch.isprintable())[:CREDENTIAL_MAX]
