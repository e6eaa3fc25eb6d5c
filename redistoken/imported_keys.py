"""Imported DRF keys stay dead: revoking a session imported from a
``rest_framework.authtoken`` key deletes that key's row.

Otherwise DRF's ``TokenAuthentication``, listed after ours during the
migration, would accept the key again once its alias (``P drf:<verifier>``)
expired. Connected in ``apps.ready()`` only when ``rest_framework.authtoken``
is installed, and at work only while ``ACCEPT_DRF_TOKENS`` is on (the
migration: imported sessions are reached only through it). Then each
revocation costs one query by user (DRF keeps at most one key per user), and
a delete only when the key is the revoked session's.
"""

from __future__ import annotations

from typing import Any

from . import signals, tokens
from .settings import token_settings


def delete_imported_row(sender: Any, user_id: str, session_id: str, **kwargs: Any) -> None:
    """``session_revoked`` receiver: delete the user's DRF row whose key the
    session was imported from (its id is derived from the key)."""
    if not token_settings.ACCEPT_DRF_TOKENS:
        return
    from rest_framework.authtoken.models import Token

    rows = Token.objects.filter(user_id=user_id)
    for key in rows.values_list("key", flat=True):
        if tokens.derived_session_id(key) == session_id:
            rows.filter(key=key).delete()


def connect() -> None:
    signals.session_revoked.connect(delete_imported_row, dispatch_uid="redistoken-imported-keys")
