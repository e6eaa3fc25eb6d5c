"""Loading the user behind a session: lazily (no query until needed) or eagerly."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils.functional import LazyObject, empty

from . import credentials, store
from .exceptions import TokenRefused

#: Attribute set on a user loaded for a request: the id of that request's
#: session (read by :mod:`.account_events`, so a password change keeps it).
SESSION_ATTRIBUTE = "_redistoken_session_id"


def user_by_pk(user_id: str) -> Any:
    """The user with this primary key, active or not; ``None`` when there is
    none or ``user_id`` is not a valid key for the user model (from a URL, say)."""
    model = get_user_model()
    to_python, _attname = _primary_key(model)
    try:
        return model._default_manager.get(pk=to_python(user_id))
    except (model.DoesNotExist, ValidationError, ValueError, TypeError, OverflowError):
        return None


def load_user(user_id: str, session_id: str = "", credential: str = "") -> Any:
    """The active user with this id; a missing or inactive user fails as 401.

    A session whose ``credential`` fingerprint no longer fits the user (the
    password or the activity changed by a path that sent no signal, such as
    ``QuerySet.update()``) is revoked and fails as 401.

    The user is marked with ``session_id``, the session of the request, so a
    password changed through it keeps that session (see :mod:`.account_events`).
    """
    user = user_by_pk(user_id)
    reason = refusal(user, credential)
    if reason is not None:
        _end(user_id, session_id, credential, reason)
        raise TokenRefused("credential_changed" if reason is store.Reason.CREDENTIAL_CHANGED else "user_inactive")
    if session_id:
        user.__dict__[SESSION_ATTRIBUTE] = session_id
    return user


def refusal(user: Any, credential: str) -> store.Reason | None:
    """Why a session of ``user`` (``None``: gone) with ``credential`` must end,
    or ``None`` when it may stay: one rule for requests and :mod:`.reconcile`."""
    if user is None:
        return store.Reason.DELETED
    if not getattr(user, "is_active", True):
        return store.Reason.DEACTIVATED
    if not credentials.matches(user, credential):
        return store.Reason.CREDENTIAL_CHANGED
    return None


def _end(user_id: str, session_id: str, credential: str, reason: store.Reason) -> None:
    """Revoke a session refused by the account (one with a fingerprint: a session
    issued without one keeps the old behaviour, refused but not revoked)."""
    if session_id and credential:
        try:
            store.revoke_session(user_id, session_id, reason=reason)
        except store.StoreUnavailable:
            pass  # the account refuses this session again on its next request


@cache
def _primary_key(model: type[Model]) -> tuple[Callable[[Any], Any], str]:
    """The user model's ``pk`` converter and attribute name (read per request)."""
    field = model._meta.pk
    return field.to_python, field.attname


if TYPE_CHECKING:
    _LazyBase = LazyObject[Any]  # generic in django-stubs only
else:
    _LazyBase = LazyObject


class LazyUser(_LazyBase):
    """The session's user, loaded from the database on first real use.

    ``pk``, the primary key attribute (``id`` for the default user model),
    ``is_authenticated`` and ``is_anonymous`` are answered from the session,
    so a view that only needs to know who is calling costs no query. Any
    other attribute loads the user once; a user found inactive or deleted
    then fails the request with 401.
    """

    is_authenticated = True
    is_anonymous = False

    def __init__(self, user_id: str, session_id: str = "", credential: str = "") -> None:
        # Built on every request: one write to the instance dict, which
        # LazyObject's attribute hooks make worth doing once.
        to_python, attname = _primary_key(get_user_model())
        self.__dict__.update(
            _wrapped=empty,
            _user_id=user_id,
            _session_id=session_id,
            _credential=credential,
            _pk=to_python(user_id),
            _pk_attname=attname,
        )

    def __bool__(self) -> bool:
        return True  # ``request.user and ...`` must not load the user

    @property
    def pk(self) -> Any:
        return self.__dict__["_pk"] if self._wrapped is empty else self._wrapped.pk

    def __getattr__(self, name: str) -> Any:
        if name == self.__dict__.get("_pk_attname") and self._wrapped is empty:
            return self.__dict__["_pk"]
        if self._wrapped is empty:
            self._setup()
        return getattr(self._wrapped, name)

    def _setup(self) -> None:
        self._wrapped = load_user(self.__dict__["_user_id"], self.__dict__["_session_id"], self.__dict__["_credential"])

    def __repr__(self) -> str:
        state = "unloaded" if self._wrapped is empty else "loaded"
        return f"<LazyUser pk={self.__dict__['_pk']!r} {state}>"
