"""Account events end sessions: a password change, a deactivation, a deletion.

Connected in ``apps.ready()`` for the configured user model, so they work
however the change is made (API, admin, shell, ``changepassword``, password
reset): anything that goes through ``Model.save()`` or ``Model.delete()``
(``QuerySet.delete()`` too). ``QuerySet.update()`` and raw SQL send no
signal: the session's credential fingerprint catches them when the user is
next loaded, and ``manage.py redistoken reconcile`` catches the rest.

A save that writes ``password`` or ``is_active`` is compared with the row in
the database (one query by primary key), not with what the object held when
it was loaded: a user loaded with ``.only()``/``.defer()``, refreshed, or
saved with ``update_fields`` is judged by what the row really changes.

A user object loaded by the authentication class carries the id of the
session it came with (:data:`SESSION_ATTRIBUTE`); a password changed through
that object (an authenticated API call) keeps that one session.

Sessions end before the row is written, so when Redis cannot answer the save
fails with ``StoreUnavailable`` and nothing is written (in autocommit as in
``transaction.atomic``); and again once the change is committed, so that a
login racing the change does not keep the session it got meanwhile.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models.signals import post_delete, post_save, pre_save

from . import credentials, store
from .users import SESSION_ATTRIBUTE

_EVENT = "_redistoken_event"  # the reason found in pre_save, acted upon again after the write
#: The raw password being verified, only for the duration of ``check_password()``
#: (the way Django keeps ``_password`` until the save): the evidence that a
#: rehash on login encodes the same password. Never stored anywhere else.
_VERIFYING = "_redistoken_verifying"


def _row(instance: Any, using: str) -> tuple[Any, Any] | None:
    """(password hash, is_active) as the database holds them, or None."""
    model = type(instance)
    fields = [name for name in ("password", "is_active") if _has_field(model, name)]
    found = model._base_manager.using(using).filter(pk=instance.pk).values(*fields).first()
    if found is None:
        return None
    return found.get("password"), found.get("is_active", True)


def _has_field(model: type[Any], name: str) -> bool:
    return any(field.attname == name for field in model._meta.concrete_fields)


def _is_hash_upgrade(instance: Any, old_hash: Any, new_hash: Any, update_fields: Any) -> bool:
    """Django's ``check_password(setter=...)``: a new hash of the password just
    verified, saved with ``update_fields=["password"]`` and ``_password`` reset."""
    raw = instance.__dict__.get(_VERIFYING)
    if raw is None or getattr(instance, "_password", None) is not None:
        return False
    if update_fields is None or set(update_fields) != {"password"}:
        return False
    return bool(old_hash and new_hash and check_password(raw, old_hash) and check_password(raw, new_hash))


def _detect(sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any) -> None:
    """pre_save: what this save does to the account; its sessions end now,
    before the row is written (an unreachable Redis aborts the save)."""
    instance.__dict__.pop(_EVENT, None)
    if raw or instance._state.adding:
        return
    written = {
        name
        for name in ("password", "is_active")
        if _has_field(sender, name) and (update_fields is None or name in update_fields)
    }
    if not written:
        return
    row = _row(instance, kwargs.get("using") or DEFAULT_DB_ALIAS)
    if row is None:
        return
    old_hash, was_active = row
    reason = None
    if "is_active" in written and was_active and not getattr(instance, "is_active", True):
        reason = store.Reason.DEACTIVATED
    elif "password" in written and (
        getattr(instance, "_password", None) is not None or instance.password != old_hash
    ):
        if not _is_hash_upgrade(instance, old_hash, instance.password, update_fields):
            reason = store.Reason.PASSWORD_CHANGE
    if reason is not None:
        instance.__dict__[_EVENT] = reason
        _ender(instance.pk, reason, instance.__dict__.get(SESSION_ATTRIBUTE), instance)()


def _ender(user_id: Any, reason: store.Reason, keep: str | None, user: Any = None) -> Callable[[], None]:
    """``keep``: the session the password was changed through (it gets the new
    credential fingerprint of ``user``, so it stays open)."""

    def end() -> None:
        if reason is store.Reason.PASSWORD_CHANGE and keep:
            store.revoke_other_sessions(user_id, keep, reason=reason, actor=user_id)
            if user is not None:
                store.set_credential(user_id, keep, credentials.fingerprint(user))
        else:
            store.revoke_all(user_id, reason=reason)

    return end


def _again_after_commit(end: Callable[[], None], using: str) -> None:
    """Once the change is committed (at once in autocommit): a login that
    checked the old password, or found the user active, before the commit
    cannot keep the session it got meanwhile. The sessions that existed
    before the write have already ended, so a failure here is logged (by
    ``on_commit(robust=True)``), not raised for a change that is done."""
    transaction.on_commit(end, using=using, robust=True)


def _act(sender: Any, instance: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_save: end the sessions again once the change is committed."""
    reason = instance.__dict__.pop(_EVENT, None)
    if reason is not None:
        _again_after_commit(_ender(instance.pk, reason, instance.__dict__.get(SESSION_ATTRIBUTE), instance), using)


def _deleted(sender: Any, instance: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_delete runs inside the deletion's atomic block: a failure rolls it back."""
    end = _ender(instance.pk, store.Reason.DELETED, None)  # pk is still set in post_delete
    end()
    _again_after_commit(end, using)


def _noting_the_password(check: Callable[..., bool]) -> Callable[..., bool]:
    """Wrap the model's ``check_password`` so a rehash it saves can be recognised."""

    @functools.wraps(check)
    def check_password(self: Any, raw_password: str) -> bool:
        self.__dict__[_VERIFYING] = raw_password
        try:
            return check(self, raw_password)
        finally:
            self.__dict__.pop(_VERIFYING, None)

    check_password.__dict__["_redistoken_wrapped"] = True
    return check_password


def connect() -> None:
    """Wire the receivers to the user model (called once from ``apps.ready()``)."""
    model = get_user_model()
    if not getattr(model.check_password, "_redistoken_wrapped", False):
        setattr(model, "check_password", _noting_the_password(model.check_password))  # noqa: B010
    pre_save.connect(_detect, sender=model, dispatch_uid="redistoken-user-detect")
    post_save.connect(_act, sender=model, dispatch_uid="redistoken-user-act")
    post_delete.connect(_deleted, sender=model, dispatch_uid="redistoken-user-deleted")
