"""The session store: the only code that talks to Redis.

Every face of redistoken (the authentication class, the views, the admin,
the management commands, the account events) calls these functions.

One Redis hash per user is both the sessions and the per-user index
(``P`` is ``KEY_PREFIX``, ``T`` the user's tag from :mod:`redistoken.tokens`)::

    P{T}                   hash with a TTL (layout 2; lua/common.lua has the bytes)
      <slot: 1 byte>       the user id, once per hash (users sharing a tag get one each)
      <session id: 9 B>    slot, verifier, created, last used, deadline, credential,
                           ip, device NUL label: at most 64 bytes
      <id>m / <id>a        only when needed: what did not fit / the raw user agent

Sessions of the earlier layout (``<id>`` -> ``verifier|last|absolute|created|uid``
and ``m:<id>``) are read as well and rewritten as layout 2 when next used.
A session lives until ``min(last used + IDLE_TIMEOUT, created +
ABSOLUTE_LIFETIME, the deadline recorded when it was last written)``,
checked by the scripts against Redis's clock; the hash's own TTL is kept
at the latest recorded deadline of its sessions, so a user who never comes
back vanishes by itself, and every script that reads the hash prunes the
sessions that have expired. Every field and value stays within Redis's
listpack limits, so a user's hash is one compact allocation
(docs/sessions.md has the byte budget). Several users may share a tag (it
is a 48-bit hash), so each session names its user's slot and every script
checks it.

The package, bottom up (nothing imports upwards, so there is no circle):

* ``errors``: :class:`StoreUnavailable` and the logger; what is an outage (503)
  and what is a bug (500);
* ``records``: keys, :class:`Session`, :class:`Reason`, reading stored values;
* ``durability``: how many replicas must confirm a login or a revocation (WAIT);
* ``scripts``: the Lua scripts of ``lua/``, declared once, and pipelined batches;
* ``sessions``: one user at a time (login, the per-request check, revocation);
* ``bulk``: many users at once and the SCAN jobs over the whole store (reconcile's too);
* ``drf``: DRF ``authtoken`` keys (import, and ours-or-theirs for a presented token).
"""

from __future__ import annotations

from .bulk import (
    Listed,
    Progress,
    Stats,
    foreign_sessions,
    revoke_all_for_users,
    revoke_everything,
    revoke_listed,
    scan_sessions,
    size_hint,
    stats,
)
from .drf import LegacyToken, import_drf_tokens, resolve_drf_token, resolve_token
from .errors import StoreUnavailable, logger, unavailable_as_error
from .records import IssuedToken, Reason, Session, drf_alias_key, user_id_of, user_key
from .sessions import (
    authenticate,
    issue_token,
    list_sessions,
    revoke_all,
    revoke_other_sessions,
    revoke_session,
    revoke_token,
    set_credential,
)

__all__ = [
    "IssuedToken",
    "LegacyToken",
    "Listed",
    "Progress",
    "Reason",
    "Session",
    "Stats",
    "StoreUnavailable",
    "authenticate",
    "drf_alias_key",
    "import_drf_tokens",
    "issue_token",
    "list_sessions",
    "logger",
    "resolve_drf_token",
    "resolve_token",
    "revoke_all",
    "revoke_all_for_users",
    "revoke_everything",
    "revoke_listed",
    "revoke_other_sessions",
    "revoke_session",
    "revoke_token",
    "foreign_sessions",
    "scan_sessions",
    "set_credential",
    "size_hint",
    "stats",
    "unavailable_as_error",
    "user_id_of",
    "user_key",
]
