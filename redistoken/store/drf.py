"""Tokens from DRF's ``authtoken``: importing them, and telling a presented
token of ours from an imported DRF key.

An imported key gets a session in its user's hash (id derived from the key,
verifier as for any token) and an alias ``P drf:<verifier>`` ->
``<tag>:<session id>`` living as long as the session can. Both are keyed
with the signing key, as format-2 tokens are (:mod:`redistoken.keys`); an
alias written before (unkeyed) is still found while ``ACCEPT_UNKEYED_TOKENS``
is on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import keys, tokens
from ..connection import get_client, text
from ..settings import token_prefixes, token_settings
from . import scripts
from .errors import unavailable_as_error
from .records import drf_alias_key, ms, user_id_of, user_key


@dataclass(frozen=True)
class LegacyToken:
    """A DRF ``authtoken`` row to import (the key is only read, never stored)."""

    user_id: Any
    key: str
    created: datetime


def import_drf_tokens(rows: list[LegacyToken]) -> int:
    """Make these DRF keys valid redistoken sessions; the number imported.

    A key whose alias exists was imported before and is skipped, even if its
    session has since been revoked: a re-run never brings a revoked session
    back. Three pipelined round trips per batch (the alias and the hash may
    live in different Cluster slots, so they cannot share a script).
    """
    s = token_settings
    key = keys.signing_keys()[0]
    prepared = []
    for row in rows:
        user_id = user_id_of(row.user_id)
        verifier = tokens.legacy_verifier(row.key, key)
        tag, session_id = keys.current_tag(user_id), tokens.derived_session_id(row.key)
        prepared.append((user_id, verifier, tag, session_id, tokens.verifier(row.key, key)))
    with unavailable_as_error():
        client = get_client()
        pipe = client.pipeline(transaction=False)
        for _user_id, verifier, *_rest in prepared:
            pipe.exists(drf_alias_key(verifier))
        fresh = [row for row, seen in zip(prepared, pipe.execute(), strict=True) if not seen]
    if not fresh:
        return 0
    idle, lifetime = ms(s.IDLE_TIMEOUT), ms(s.ABSOLUTE_LIFETIME)
    calls = [
        scripts.import_.args(user_key(tag), tokens.session_field(sid), sid, digest, idle, lifetime, user_id)
        for user_id, _verifier, tag, sid, digest in fresh
    ]
    scripts.run_many(client, scripts.import_, calls)
    with unavailable_as_error():
        pipe = client.pipeline(transaction=False)
        for _user_id, verifier, tag, sid, _digest in fresh:
            pipe.set(drf_alias_key(verifier), f"{tag}:{sid}", px=lifetime)
        pipe.execute()
    return len(fresh)


def resolve_drf_token(raw: str) -> tokens.ParsedToken | None:
    """The session an imported DRF key stands for, or ``None`` if never
    imported: its alias under each signing key (and the unkeyed one of
    before) in one pipelined round trip."""
    versions = [tokens.VERSION] * len(keys.signing_keys())
    names = [drf_alias_key(tokens.legacy_verifier(raw, key)) for key in keys.signing_keys()]
    if token_settings.ACCEPT_UNKEYED_TOKENS:
        versions.append(tokens.UNKEYED_VERSION)
        names.append(drf_alias_key(tokens.legacy_verifier(raw)))
    with unavailable_as_error():
        pipe = get_client().pipeline(transaction=False)
        for name in names:
            pipe.get(name)
        targets = pipe.execute()
    for version, target in zip(versions, targets, strict=True):
        if target is not None:
            tag, _, session_id = text(target).partition(":")
            return tokens.ParsedToken(raw=raw, tag=tag, session_id=session_id, version=version)
    return None


def resolve_token(raw: str) -> tokens.ParsedToken | None:
    """The session a presented token names, decided in one place for every face.

    A token with our prefix (``TOKEN_PREFIX`` or one of ``TOKEN_PREFIX_FALLBACKS``)
    is parsed (no I/O; :class:`~redistoken.tokens.MalformedToken` when it is not
    a valid one, or of format 1 with ``ACCEPT_UNKEYED_TOKENS`` off); with
    ``ACCEPT_DRF_TOKENS``, a DRF key is looked up among the imported ones (one
    round trip). ``None``: a foreign prefix, or a DRF key never imported,
    which another authentication class may still accept.
    """
    for prefix in token_prefixes():
        if tokens.owns(prefix, raw):
            token = tokens.parse(prefix, raw)
            if token.version == tokens.UNKEYED_VERSION and not token_settings.ACCEPT_UNKEYED_TOKENS:
                raise tokens.MalformedToken("Unkeyed tokens are no longer accepted.")
            return token
    if token_settings.ACCEPT_DRF_TOKENS and tokens.DRF_KEY_RE.fullmatch(raw):
        return resolve_drf_token(raw)
    return None
