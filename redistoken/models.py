"""No tables: redistoken keeps sessions in Redis. This unmanaged model exists
only to own the permission that guards looking at and revoking other users'
sessions (admin pages, staff API), since Django permissions need a model."""

from typing import Any

from django.db import models


class SessionAdministration(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("revoke_sessions", "Can view and revoke users' token sessions")]
        verbose_name = "token session administration"

    #: The permission, as ``user.has_perm()`` expects it.
    PERMISSION = "redistoken.revoke_sessions"


def may_revoke_sessions(user: Any) -> bool:
    """Whether ``user`` may see and end other users' sessions (admin, staff API)."""
    return bool(user.has_perm(SessionAdministration.PERMISSION))
