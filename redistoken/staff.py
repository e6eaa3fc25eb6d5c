"""Staff API for dashboards: list and revoke any user's sessions.

Guarded by the ``redistoken.revoke_sessions`` permission, as the admin is;
revocations are recorded with reason ``admin`` and the caller as actor.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework import status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from . import store
from .models import may_revoke_sessions
from .users import user_by_pk
from .views import SessionListing, StoreView


class CanRevokeSessions(BasePermission):
    """The caller holds ``redistoken.revoke_sessions`` (loads the caller once)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return may_revoke_sessions(request.user)


class StaffSessionsView(StoreView):
    permission_classes = [IsAuthenticated, CanRevokeSessions]

    def target(self, user_id: str) -> Any:
        """The user named in the URL; 404 when there is none (or the id is not an id)."""
        user = user_by_pk(user_id)
        if user is None:
            raise Http404
        return user


class UserSessionsView(SessionListing, StaffSessionsView):
    """GET: a user's live sessions. DELETE: end them all (200 ``{"revoked": n}``)."""

    def get(self, request: Request, user_id: str) -> Response:
        return self.listing(store.list_sessions(self.target(user_id)))

    def delete(self, request: Request, user_id: str) -> Response:
        revoked = store.revoke_all(self.target(user_id), reason=store.Reason.ADMIN, actor=request.user)
        return Response({"revoked": len(revoked)})


class UserSessionDetailView(StaffSessionsView):
    """DELETE: end one session of a user (404 if it is not a live one of theirs)."""

    def delete(self, request: Request, user_id: str, session_id: str) -> Response:
        user = self.target(user_id)
        if not store.revoke_session(user, session_id, reason=store.Reason.ADMIN, actor=request.user):
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)
