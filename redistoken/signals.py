"""Signals a host project can listen to. Never carry a token or its hash.

``session_created(sender, user_id, session)``
``session_revoked(sender, user_id, session_id, reason, actor)`` where
``reason`` is one of :class:`redistoken.store.Reason` and ``actor`` the user
who revoked (``None`` for the system, the user themself for a logout).
"""

from django.dispatch import Signal

session_created = Signal()
session_revoked = Signal()
