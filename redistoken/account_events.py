"""Account events end sessions: a password change, a deactivation, a deletion.

Connected in ``apps.ready()`` for the configured user model, so they work
however the change is made (API, admin, shell, ``changepassword``, password
reset): anything that goes through ``Model.save()`` or ``Model.delete()``
(``QuerySet.delete()`` too). ``QuerySet.update()`` sends no signal: call
:func:`redistoken.store.revoke_all_for_users` after one.

A user object loaded by the authentication class carries the id of the
session it came with (:data:`SESSION_ATTRIBUTE`); a password changed through
that object (an authenticated API call) keeps that one session.

When Redis cannot answer, the save fails with ``StoreUnavailable`` rather than
leave revoked-in-spirit sessions alive (inside ``transaction.atomic``, as in
the admin, the change is rolled back).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import get_hasher, identify_hasher
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models.signals import post_delete, post_init, post_save, pre_save

from . import store
from .users import SESSION_ATTRIBUTE

_LOADED = "_redistoken_loaded"  # (password hash, is_active) as loaded from the database
_EVENT = "_redistoken_event"  # the reason found in pre_save, acted upon in post_save


def _snapshot(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Remember what the row held, so a save can tell what it changes (no query)."""
    fields = instance.__dict__  # deferred fields are absent: then nothing is compared
    fields[_LOADED] = (fields.get("password"), fields.get("is_active"))


def _is_hash_upgrade(instance: Any, old_hash: str | None, update_fields: Any) -> bool:
    """``check_password()`` rehashing with a newer hasher is not a password change."""
    if getattr(instance, "_password", None) is not None or update_fields is None or set(update_fields) != {"password"}:
        return False
    if not old_hash:
        return False
    try:
        hasher = identify_hasher(old_hash)
    except ValueError:  # unusable or unknown: not something check_password() upgrades
        return False
    return hasher.algorithm != get_hasher().algorithm or bool(hasher.must_update(old_hash))


def _detect(sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any) -> None:
    """pre_save: note what this save does to the account (acted upon once it is written)."""
    instance.__dict__.pop(_EVENT, None)
    if raw or instance._state.adding:
        return
    old_hash, was_active = instance.__dict__.get(_LOADED, (None, None))

    def saving(field: str) -> bool:
        return update_fields is None or field in update_fields

    if saving("is_active") and was_active is True and instance.__dict__.get("is_active") is False:
        instance.__dict__[_EVENT] = store.Reason.DEACTIVATED
    elif saving("password") and (
        getattr(instance, "_password", None) is not None
        or (old_hash is not None and instance.__dict__.get("password") != old_hash)
    ):
        if not _is_hash_upgrade(instance, old_hash, update_fields):
            instance.__dict__[_EVENT] = store.Reason.PASSWORD_CHANGE


def _end_sessions(user_id: Any, reason: store.Reason, keep: str | None, using: str) -> None:
    """Now, and inside an atomic block again at commit: a login that checked
    the old password (or found the user) before the commit cannot keep the
    session it got meanwhile."""

    def end() -> None:
        if reason is store.Reason.PASSWORD_CHANGE and keep:
            store.revoke_other_sessions(user_id, keep, reason=reason, actor=user_id)
        else:
            store.revoke_all(user_id, reason=reason)

    end()
    if transaction.get_connection(using).in_atomic_block:
        transaction.on_commit(end, using=using, robust=True)


def _act(sender: Any, instance: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_save: end the sessions once the row is written (a failure aborts an atomic block)."""
    reason = instance.__dict__.pop(_EVENT, None)
    _snapshot(sender, instance)  # the object now matches its row
    if reason is not None:
        _end_sessions(instance.pk, reason, instance.__dict__.get(SESSION_ATTRIBUTE), using)


def _deleted(sender: Any, instance: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    _end_sessions(instance.pk, store.Reason.DELETED, None, using)  # pk is still set in post_delete


def connect() -> None:
    """Wire the receivers to the user model (called once from ``apps.ready()``)."""
    model = get_user_model()
    post_init.connect(_snapshot, sender=model, dispatch_uid="redistoken-user-snapshot")
    pre_save.connect(_detect, sender=model, dispatch_uid="redistoken-user-detect")
    post_save.connect(_act, sender=model, dispatch_uid="redistoken-user-act")
    post_delete.connect(_deleted, sender=model, dispatch_uid="redistoken-user-deleted")
